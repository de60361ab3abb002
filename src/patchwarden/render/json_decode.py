"""The report JSON read back into a :class:`~patchwarden.core.report.Report`: the inverse of
:func:`patchwarden.render.json.report_dict`, for the server, which receives the agents'
reports and renders, stores and judges them as the same type the CLI prints.

Strict: a malformed report is an :class:`~patchwarden.errors.InputError` naming the field
(``report.patches[3].state: must be one of …``).  Fields a newer agent adds are ignored.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from patchwarden.core.baseline.oses import family_of
from patchwarden.core.model import (
    Compliance,
    ComplianceLevel,
    ComplianceSummary,
    Operation,
    OsInfo,
    PatchItem,
    PatchState,
)
from patchwarden.core.report import REPORT_SCHEMA_VERSION, NodeFacts, Report
from patchwarden.core.vuln import AdvisoryStatus, Finding, FindingStatus, FixAvailable, Severity
from patchwarden.errors import InputError
from patchwarden.wire import Fields, WireError

E = TypeVar("E", bound=StrEnum)
_FAMILIES = {"apt": "debian", "rpm": "rhel", "apk": "alpine"}


def report_from_dict(raw: Any, path: str = "report") -> Report:
    """The :class:`Report` of a ``scan --format json`` object."""
    try:
        return _report(Fields(raw, path))
    except WireError as exc:
        raise InputError(str(exc)) from None


def _enum(f: Fields, key: str, kind: type[E], default: E | None = None) -> E:
    value = f.text(key) if default is None else f.text(key, default.value)
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise WireError(f"{f.path}.{key}: must be one of {allowed}, got {value!r}") from None


def _time(f: Fields, key: str) -> datetime | None:
    value = f.optional_text(key)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise WireError(f"{f.path}.{key}: not an ISO 8601 time: {value!r}") from None


def _report(f: Fields) -> Report:
    version = f.text("schema_version", REPORT_SCHEMA_VERSION)
    if version != REPORT_SCHEMA_VERSION:
        raise WireError(
            f"{f.path}.schema_version: this server reads version {REPORT_SCHEMA_VERSION}, "
            f"got {version!r}"
        )
    generated = _time(f, "generated_at")
    if generated is None:
        raise WireError(f"{f.path}.generated_at: required field is missing")
    findings = f.objects("vulnerabilities") if "vulnerabilities" in f.raw else None
    return Report(
        node=_node(f.nested("node")),
        baseline=f.nested("baseline").text("name"),
        operation=_enum(f, "operation", Operation),
        generated_at=generated,
        items=tuple(_item(i) for i in f.objects("patches", [])),
        summary=_summary(f),
        reboot_required=f.flag("reboot_required", False),
        rebooted=f.flag("rebooted", False),
        warnings=tuple(f.texts("warnings", [])),
        snapshot_id=f.text("snapshot_id", ""),
        vulnerabilities=None if findings is None else tuple(_finding(x) for x in findings),
    )


def _node(f: Fields) -> NodeFacts:
    os_f = f.nested("os")
    operating_system = os_f.text("operating_system", "")
    family = os_f.text("family", "")
    if not family:
        try:
            family = _FAMILIES.get(family_of(operating_system), "")
        except KeyError:
            family = ""
    info = OsInfo(
        id=os_f.text("id", ""),
        version_id=os_f.text("version", ""),
        codename=os_f.text("codename", ""),
        pretty_name=os_f.text("name", ""),
        family=family,
        operating_system=operating_system,
        product=f.text("product", ""),
    )
    return NodeFacts(f.text("hostname", ""), f.text("root", ""), info)


def _summary(f: Fields) -> ComplianceSummary:
    compliance = _enum(f, "compliance", Compliance)
    severity = None if f.raw.get("severity") is None else _enum(f, "severity", ComplianceLevel)
    s = f.nested("summary")
    counts = {state.value: s.integer(state.value, 0) for state in PatchState}
    return ComplianceSummary(
        compliance,
        severity,
        counts,
        s.integer("critical_non_compliant", 0),
        s.integer("security_non_compliant", 0),
        s.integer("other_non_compliant", 0),
    )


def _item(f: Fields) -> PatchItem:
    return PatchItem(
        name=f.text("name", max_length=512),
        arch=f.text("arch", ""),
        installed_version=f.optional_text("installed_version"),
        available_version=f.optional_text("available_version"),
        state=_enum(f, "state", PatchState),
        classification=f.text("classification", ""),
        severity=_enum(f, "severity", ComplianceLevel, ComplianceLevel.UNSPECIFIED),
        vendor_severity=f.text("vendor_severity", ""),
        repository=f.text("repository", ""),
        release_date=_time(f, "release_date"),
        cves=tuple(f.texts("cves", [])),
        detail=f.text("detail", ""),
        candidate_version=f.optional_text("candidate_version"),
        deferred_version=f.optional_text("deferred_version"),
    )


def _number(f: Fields, key: str) -> float | None:
    value = f.raw.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise WireError(f"{f.path}.{key}: must be a number, got {type(value).__name__}")
    return None if value is None else float(value)


def _day(f: Fields, key: str) -> date | None:
    text = f.optional_text(key)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise WireError(f"{f.path}.{key}: not a date (YYYY-MM-DD): {text[:40]!r}") from None


def _finding(f: Fields) -> Finding:
    score = _number(f, "cvss_score")
    exploited = f.raw.get("known_exploited", False)
    if not isinstance(exploited, bool):
        raise WireError(f"{f.path}.known_exploited: must be true or false")
    return Finding(
        vulnerability_id=f.text("vulnerability_id"),
        aliases=tuple(f.texts("aliases", [])),
        package_name=f.text("package_name"),
        package_version=f.text("package_version", ""),
        package_arch=f.text("package_arch", ""),
        source_name=f.text("source_name", ""),
        fixed_version=f.optional_text("fixed_version"),
        fix_available=_enum(f, "fix_available", FixAvailable),
        severity=_enum(f, "severity", Severity),
        severity_source=f.text("severity_source", ""),
        advisory_status=_enum(f, "advisory_status", AdvisoryStatus),
        sources=tuple(f.texts("sources", [])),
        status=_enum(f, "status", FindingStatus, FindingStatus.ACTIVE),
        cvss_score=score,
        cvss_vector=f.text("cvss_vector", ""),
        vendor_severity=f.text("vendor_severity", ""),
        title=f.text("title", ""),
        first_observed=_time(f, "first_observed"),
        last_observed=_time(f, "last_observed"),
        suppressed_by=f.optional_text("suppressed_by") or "",
        suppression_reason=f.optional_text("suppression_reason") or "",
        known_exploited=exploited,
        kev_due_date=_day(f, "kev_due_date"),
        epss=_number(f, "epss"),
        epss_percentile=_number(f, "epss_percentile"),
    )
