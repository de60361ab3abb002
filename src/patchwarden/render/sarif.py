"""The scan report as SARIF 2.1.0 (for code-scanning dashboards such as GitHub's).

Plain dicts, validated in the tests against the vendored OASIS schema
(``patchwarden/data/sarif-schema-2.1.0.json``, errata01).  One run per report:

- ``tool.driver.rules``: one per vulnerability id (short description, help URI of the
  distribution's tracker or NVD, ``security-severity`` = the CVSS base score when known,
  tags), plus ``patchwarden/missing-patch`` when approved patches are missing;
- ``results``: one per ACTIVE finding and per SUPPRESSED finding (with an ``external``
  suppression carrying its reason); CLOSED findings are left out, so a dashboard closes
  their alerts.  One per MISSING or FAILED patch item under ``patchwarden/missing-patch``.
  Levels: ``error`` for HIGH/CRITICAL, ``warning`` for MEDIUM, ``note`` below; a missing
  patch is ``error`` when FAILED or approved at HIGH/CRITICAL, ``warning`` when it is a
  security update, ``note`` otherwise;
- every result points at the root's package database (``uriBaseId`` ``ROOTPATH``) and names
  the package as a logical location (its purl); ``partialFingerprints`` hash (node, rule,
  package, arch) without versions, so an alert keeps its identity across scans and upgrades.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from patchwarden import __version__
from patchwarden.core.model import ComplianceLevel, PatchItem, PatchState
from patchwarden.core.report import Report
from patchwarden.core.vuln import AdvisoryStatus, Finding, FindingStatus, FixAvailable, Severity
from patchwarden.render.json import report_dict
from patchwarden.render.refs import advisory_url, package_database, package_url

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://github.com/patchwarden/patchwarden"
"""The project's home page (placeholder until it has a public one)."""
MISSING_PATCH_RULE = "patchwarden/missing-patch"
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "data" / "sarif-schema-2.1.0.json"
"""The vendored OASIS SARIF 2.1.0 JSON schema (errata01), for validators."""

_LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
}
_FINGERPRINT = "patchwarden/v1"


def level(severity: Severity) -> str:
    """SARIF level of a finding's severity."""
    return _LEVELS.get(severity, "note")


def _fingerprint(*parts: str) -> dict[str, str]:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return {_FINGERPRINT: digest}


def _location(report: Report, name: str, version: str, arch: str) -> dict[str, Any]:
    os_info = report.node.os
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": package_database(os_info), "uriBaseId": "ROOTPATH"}
        },
        "logicalLocations": [
            {
                "name": name,
                "fullyQualifiedName": package_url(os_info, name, version, arch),
                "kind": "package",
            }
        ],
    }


def _vulnerability_rules(findings: list[Finding], report: Report) -> list[dict[str, Any]]:
    by_id: dict[str, list[Finding]] = {}
    for f in findings:
        by_id.setdefault(f.vulnerability_id, []).append(f)
    rules = []
    for vid in sorted(by_id):
        group = by_id[vid]
        worst = max(group, key=lambda f: (f.severity.rank, f.cvss_score or 0.0))
        sources = sorted({f.source_name or f.package_name for f in group})
        title = next((f.title for f in group if f.title), "")
        text = title or f"{vid} in {', '.join(sources)}"
        properties: dict[str, Any] = {
            "tags": ["security", "vulnerability", worst.severity.value],
            "severity": worst.severity.value,
        }
        if worst.cvss_score is not None:
            properties["security-severity"] = f"{worst.cvss_score:.1f}"
        if worst.cvss_vector:
            properties["cvssVector"] = worst.cvss_vector
        aliases = sorted({a for f in group for a in f.aliases})
        if aliases:
            properties["aliases"] = aliases
        url = advisory_url(vid, report.node.os)
        rules.append(
            {
                "id": vid,
                "name": vid,
                "shortDescription": {"text": text},
                "helpUri": url,
                "help": {"text": f"{text}. See {url}", "markdown": f"{text}. See [{vid}]({url})."},
                "defaultConfiguration": {"level": level(worst.severity)},
                "properties": properties,
            }
        )
    return rules


_MISSING_RULE = {
    "id": MISSING_PATCH_RULE,
    "name": "MissingPatch",
    "shortDescription": {"text": "An approved patch is not installed"},
    "fullDescription": {
        "text": "The patch baseline approves an update that is not installed on the node "
        "(state MISSING), or installing it failed (state FAILED)."
    },
    "defaultConfiguration": {"level": "warning"},
    "properties": {"tags": ["compliance", "patch"]},
}


def _fix_text(f: Finding) -> str:
    if f.fixed_version:
        partial = " (for some packages only)" if f.fix_available is FixAvailable.PARTIAL else ""
        return f"fixed in {f.fixed_version}{partial}"
    if f.advisory_status is AdvisoryStatus.WONT_FIX:
        return "the distribution will not fix it"
    return "no fix is available yet"


def _finding_result(f: Finding, index: int, report: Report) -> dict[str, Any]:
    score = f", CVSS {f.cvss_score:.1f}" if f.cvss_score is not None else ""
    message = (
        f"{f.package_name} {f.package_version} ({f.package_arch}) is affected by "
        f"{f.vulnerability_id} ({f.severity.value}{score}); {_fix_text(f)}."
    )
    result: dict[str, Any] = {
        "ruleId": f.vulnerability_id,
        "ruleIndex": index,
        "level": level(f.severity),
        "message": {"text": message},
        "locations": [_location(report, f.package_name, f.package_version, f.package_arch)],
        "partialFingerprints": _fingerprint(
            report.node.hostname, f.vulnerability_id, f.package_name, f.package_arch
        ),
        "properties": {
            "package": f.package_name,
            "sourcePackage": f.source_name,
            "installedVersion": f.package_version,
            "fixedVersion": f.fixed_version,
            "fixAvailable": f.fix_available.value,
            "advisoryStatus": f.advisory_status.value,
            "severity": f.severity.value,
            "severitySource": f.severity_source,
            "vendorSeverity": f.vendor_severity,
            "status": f.status.value,
            "sources": list(f.sources),
        },
    }
    properties = result["properties"]
    if f.known_exploited:
        properties["knownExploited"] = True
        properties["kevDueDate"] = f.kev_due_date.isoformat() if f.kev_due_date else None
    if f.epss is not None:
        properties["epss"] = f.epss
        properties["epssPercentile"] = f.epss_percentile
    if f.status is FindingStatus.SUPPRESSED:
        suppression: dict[str, Any] = {
            "kind": "external",
            "status": "accepted",
            "justification": f.suppression_reason or "suppressed",
        }
        if f.suppressed_by:
            suppression["properties"] = {"suppressedBy": f.suppressed_by}
        result["suppressions"] = [suppression]
    return result


def _patch_level(item: PatchItem) -> str:
    if item.state is PatchState.FAILED or item.severity in (
        ComplianceLevel.CRITICAL,
        ComplianceLevel.HIGH,
    ):
        return "error"
    return "warning" if item.classification == "Security" else "note"


def _patch_result(item: PatchItem, index: int, report: Report) -> dict[str, Any]:
    installed = item.installed_version or "-"
    facts = ", ".join(x for x in (item.classification, item.repository) if x)
    message = (
        f"{item.name} {installed} ({item.arch}): approved update "
        f"{item.available_version or '?'} is {item.state.value}"
        + (f" ({facts})" if facts else "")
        + (f"; it fixes {', '.join(item.cves)}" if item.cves else "")
        + (f". {item.detail}" if item.detail else "")
        + "."
    )
    return {
        "ruleId": MISSING_PATCH_RULE,
        "ruleIndex": index,
        "level": _patch_level(item),
        "message": {"text": message},
        "locations": [_location(report, item.name, item.installed_version or "", item.arch)],
        "partialFingerprints": _fingerprint(
            report.node.hostname, MISSING_PATCH_RULE, item.name, item.arch
        ),
        "properties": {
            "package": item.name,
            "installedVersion": item.installed_version,
            "availableVersion": item.available_version,
            "state": item.state.value,
            "classification": item.classification,
            "complianceSeverity": item.severity.value,
            "repository": item.repository,
            "cves": list(item.cves),
        },
    }


def _reported(findings: Iterable[Finding]) -> list[Finding]:
    keep = (FindingStatus.ACTIVE, FindingStatus.SUPPRESSED)
    return [f for f in findings if f.status in keep]


def sarif_dict(report: Report) -> dict[str, Any]:
    """The SARIF log of a report as plain JSON-able values."""
    findings = _reported(report.vulnerabilities or ())
    missing = [i for i in report.items if i.state in (PatchState.MISSING, PatchState.FAILED)]
    rules = ([_MISSING_RULE] if missing else []) + _vulnerability_rules(findings, report)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = [_patch_result(i, index[MISSING_PATCH_RULE], report) for i in missing]
    results += [_finding_result(f, index[f.vulnerability_id], report) for f in findings]
    data = report_dict(report)
    root = PurePosixPath(report.node.root or "/")
    root_uri = root.as_uri() if root.is_absolute() else "file:///"
    root_uri += "" if root_uri.endswith("/") else "/"
    if report.image is None:
        keys: tuple[str, ...] = ("node", "baseline", "operation", "compliance", "summary")
        automation = f"patchwarden/{report.node.hostname}/"
    else:  # an image has no baseline: its resource instead of the compliance verdict
        keys = ("node", "resource", "operation")
        automation = f"patchwarden/image/{report.image.ref}/"
    properties = {k: data[k] for k in keys}
    if "vulnerability_summary" in data:
        properties["vulnerability_summary"] = data["vulnerability_summary"]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "patchwarden",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "automationDetails": {"id": automation},
        "invocations": [
            {"executionSuccessful": True, "endTimeUtc": data["generated_at"]},
        ],
        "originalUriBaseIds": {
            "ROOTPATH": {"uri": root_uri},
        },
        "results": results,
        "properties": properties,
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def render(report: Report) -> str:
    """SARIF JSON text (two-space indent, stable key order)."""
    return json.dumps(sarif_dict(report), indent=2, ensure_ascii=False) + "\n"
