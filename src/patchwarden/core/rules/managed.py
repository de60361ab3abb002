"""The managed rule types: pure evaluators over a :class:`NodeSnapshot` and ``now``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import cast

from patchwarden.core.model import ComplianceLevel, PatchState
from patchwarden.core.rules.eol import end_of_life
from patchwarden.core.rules.model import ComplianceType, Evaluation, NodeSnapshot, RuleType
from patchwarden.core.rules.params import ParamSpec
from patchwarden.core.vuln import Severity

C, NC = ComplianceType.COMPLIANT, ComplianceType.NON_COMPLIANT
NA, NODATA = ComplianceType.NOT_APPLICABLE, ComplianceType.INSUFFICIENT_DATA
_LEVELS = tuple(level.value for level in ComplianceLevel)
_SEVERITIES = tuple(s.value for s in Severity if s is not Severity.UNTRIAGED)


def _int(params: Mapping[str, object], name: str) -> int:
    return cast(int, params[name])


def _level_rank(text: str) -> int:
    try:
        return ComplianceLevel(text).rank
    except ValueError:
        return 0


def _names(names: list[str], limit: int = 5) -> str:
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(sorted(names)[:limit]) + more


def patch_compliance_status(
    node: NodeSnapshot, params: Mapping[str, object], now: datetime
) -> Evaluation:
    """The latest patch compliance is COMPLIANT; with ``MinimumSeverity`` only
    non-compliant items at or above it count."""
    if node.compliance is None:
        return Evaluation(NODATA, "no patch compliance reported yet")
    minimum = _level_rank(str(params["MinimumSeverity"]))
    bad = [
        item.name
        for item in node.items
        if not PatchState(item.state).compliant and _level_rank(item.severity) >= minimum
    ]
    if bad:
        return Evaluation(NC, f"{len(bad)} non-compliant patch(es): {_names(bad)}")
    if node.compliance != "COMPLIANT" and minimum == 0:
        return Evaluation(NC, f"patch compliance is {node.compliance}")
    return Evaluation(C, "patch compliance is COMPLIANT")


def managed_node_online(
    node: NodeSnapshot, params: Mapping[str, object], now: datetime
) -> Evaluation:
    """The agent checked in within ``MaxHoursSinceCheckIn`` hours."""
    if node.last_seen is None:
        return Evaluation(NC, "the agent never checked in")
    hours = _int(params, "MaxHoursSinceCheckIn")
    age = now - node.last_seen
    if age > timedelta(hours=hours):
        return Evaluation(NC, f"last check-in {age.total_seconds() / 3600:.1f} h ago (> {hours} h)")
    return Evaluation(C, f"checked in within {hours} h")


def required_tags(node: NodeSnapshot, params: Mapping[str, object], now: datetime) -> Evaluation:
    """Every key of ``TagKeys`` is present; with ``AllowedValues`` (``{key: [values]}``) the
    value must be one of them."""
    keys = cast(tuple[str, ...], params["TagKeys"])
    allowed = cast(Mapping[str, object], params["AllowedValues"] or {})
    missing = [key for key in keys if key not in node.tags]
    if missing:
        return Evaluation(NC, f"missing tag(s): {_names(missing)}")
    for key, values in sorted(allowed.items()):
        choices = [values] if isinstance(values, str) else list(cast(list[str], values))
        if key in node.tags and node.tags[key] not in choices:
            return Evaluation(NC, f"tag {key}={node.tags[key]!r} is not one of {choices}")
    return Evaluation(C, f"has tag(s): {_names(list(keys))}")


def no_active_findings(
    node: NodeSnapshot, params: Mapping[str, object], now: datetime
) -> Evaluation:
    """No ACTIVE finding at or above ``MinimumSeverity`` whose fix has been available for
    more than ``MaxDaysWithFix`` days (a patch SLA).  INSUFFICIENT_DATA without finding data."""
    if node.findings is None:
        return Evaluation(NODATA, "no vulnerability findings recorded for this node")
    minimum = Severity(str(params["MinimumSeverity"])).rank
    limit = timedelta(days=_int(params, "MaxDaysWithFix"))
    late = [
        f.vulnerability_id
        for f in node.findings
        if f.status == "ACTIVE"
        and f.fix_available in ("YES", "PARTIAL")
        and Severity(f.severity).rank >= minimum
        and (f.fix_since is None or now - f.fix_since > limit)
    ]
    if late:
        return Evaluation(NC, f"{len(late)} finding(s) past the SLA: {_names(late)}")
    return Evaluation(C, "no active finding past the SLA")


def no_known_exploited_findings(
    node: NodeSnapshot, params: Mapping[str, object], now: datetime
) -> Evaluation:
    """No ACTIVE finding in CISA's Known Exploited Vulnerabilities catalogue first observed
    more than ``MaxDays`` days ago (0: none at all).  INSUFFICIENT_DATA without finding
    data."""
    if node.findings is None:
        return Evaluation(NODATA, "no vulnerability findings recorded for this node")
    limit = timedelta(days=_int(params, "MaxDays"))
    old = sorted(
        {
            f.vulnerability_id
            for f in node.findings
            if f.status == "ACTIVE"
            and f.known_exploited
            and (f.first_observed is None or now - f.first_observed >= limit)
        }
    )
    if old:
        return Evaluation(NC, f"{len(old)} known-exploited finding(s): {_names(old)}")
    return Evaluation(C, "no known-exploited finding past the limit")


def missing_patch_age(
    node: NodeSnapshot, params: Mapping[str, object], now: datetime
) -> Evaluation:
    """No approved patch MISSING for more than ``MaxDays`` days since its release date
    (a missing patch without a release date is not judged)."""
    if node.compliance is None:
        return Evaluation(NODATA, "no patch compliance reported yet")
    limit = timedelta(days=_int(params, "MaxDays"))
    old = [
        item.name
        for item in node.items
        if item.state == PatchState.MISSING.value
        and item.release_date is not None
        and now - item.release_date > limit
    ]
    if old:
        return Evaluation(NC, f"{len(old)} patch(es) missing > {limit.days} days: {_names(old)}")
    return Evaluation(C, f"no patch missing longer than {limit.days} days")


def baseline_assigned(
    node: NodeSnapshot, params: Mapping[str, object], now: datetime
) -> Evaluation:
    """The node resolves to a non-default baseline through its patch group."""
    if not node.patch_group:
        return Evaluation(NC, "no Patch Group: the default baseline applies")
    if node.baseline_is_default:
        return Evaluation(NC, f"patch group {node.patch_group!r} resolves to the default baseline")
    return Evaluation(C, f"patch group {node.patch_group!r} → {node.baseline_name}")


def os_supported(node: NodeSnapshot, params: Mapping[str, object], now: datetime) -> Evaluation:
    """The OS release has not reached end of life (:mod:`~patchwarden.core.rules.eol`)."""
    if not node.os_id:
        return Evaluation(NODATA, "operating system not reported yet")
    eol = end_of_life(node.os_id, node.os_version)
    release = f"{node.os_id} {node.os_version}"
    if eol is None:
        return Evaluation(NA, f"{release}: no end-of-life date known")
    if now.date() > eol:
        return Evaluation(NC, f"{release} reached end of life on {eol.isoformat()}")
    return Evaluation(C, f"{release} supported until {eol.isoformat()}")


MANAGED: tuple[RuleType, ...] = (
    RuleType(
        "patch-compliance-status",
        "latest patch compliance is COMPLIANT",
        (ParamSpec("MinimumSeverity", default="UNSPECIFIED", allowed=_LEVELS),),
        patch_compliance_status,
    ),
    RuleType(
        "managed-node-online",
        "the agent checked in recently",
        (ParamSpec("MaxHoursSinceCheckIn", "Integer", default=24, minimum=1),),
        managed_node_online,
    ),
    RuleType(
        "required-tags",
        "tag keys (and allowed values) are present",
        (
            ParamSpec("TagKeys", "StringList", required=True),
            ParamSpec("AllowedValues", "StringMap", default=None),
        ),
        required_tags,
    ),
    RuleType(
        "no-active-findings",
        "no active finding past its fix SLA",
        (
            ParamSpec("MinimumSeverity", default="HIGH", allowed=_SEVERITIES),
            ParamSpec("MaxDaysWithFix", "Integer", default=30, minimum=0),
        ),
        no_active_findings,
    ),
    RuleType(
        "no-known-exploited-findings",
        "no known-exploited (CISA KEV) finding older than MaxDays",
        (ParamSpec("MaxDays", "Integer", default=0, minimum=0),),
        no_known_exploited_findings,
    ),
    RuleType(
        "missing-patch-age",
        "no approved patch missing for too long",
        (ParamSpec("MaxDays", "Integer", default=30, minimum=0),),
        missing_patch_age,
    ),
    RuleType("baseline-assigned", "a non-default baseline applies", (), baseline_assigned),
    RuleType("os-supported", "the OS release is not end-of-life", (), os_supported),
)
