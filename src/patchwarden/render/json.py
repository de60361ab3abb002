"""The scan report as JSON: the contract of DESIGN.md §4, documented in docs/report-schema.md."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from patchwarden.core.model import PatchItem
from patchwarden.core.report import REPORT_SCHEMA_VERSION, Report
from patchwarden.core.vuln import Finding, FindingStatus, FixAvailable, Severity


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def item_dict(item: PatchItem) -> dict[str, Any]:
    """One patch as a JSON object."""
    return {
        "name": item.name,
        "arch": item.arch,
        "installed_version": item.installed_version,
        "available_version": item.available_version,
        "state": item.state.value,
        "classification": item.classification,
        "severity": item.severity.value,
        "vendor_severity": item.vendor_severity,
        "repository": item.repository,
        "release_date": _time(item.release_date),
        "cves": list(item.cves),
        "detail": item.detail,
        "candidate_version": item.candidate_version,
        "deferred_version": item.deferred_version,
    }


def finding_dict(f: Finding) -> dict[str, Any]:
    """One vulnerability finding as a JSON object."""
    return {
        "vulnerability_id": f.vulnerability_id,
        "aliases": list(f.aliases),
        "status": f.status.value,
        "severity": f.severity.value,
        "severity_source": f.severity_source,
        "cvss_score": f.cvss_score,
        "cvss_vector": f.cvss_vector,
        "vendor_severity": f.vendor_severity,
        "package_name": f.package_name,
        "package_version": f.package_version,
        "package_arch": f.package_arch,
        "source_name": f.source_name,
        "fixed_version": f.fixed_version,
        "fix_available": f.fix_available.value,
        "advisory_status": f.advisory_status.value,
        "sources": list(f.sources),
        "title": f.title,
        "first_observed": _time(f.first_observed),
        "last_observed": _time(f.last_observed),
        "suppressed_by": f.suppressed_by or None,
        "suppression_reason": f.suppression_reason or None,
        "known_exploited": f.known_exploited,
        "kev_due_date": f.kev_due_date.isoformat() if f.kev_due_date else None,
        "epss": f.epss,
        "epss_percentile": f.epss_percentile,
    }


def vulnerability_summary(findings: tuple[Finding, ...]) -> dict[str, Any]:
    """Counts per status, ACTIVE findings per severity, and ACTIVE ones with a fix."""
    active = [f for f in findings if f.status is FindingStatus.ACTIVE]
    by_severity = dict.fromkeys((s.value for s in sorted(Severity, key=lambda s: -s.rank)), 0)
    for f in active:
        by_severity[f.severity.value] += 1
    return {
        **{s.value: sum(1 for f in findings if f.status is s) for s in FindingStatus},
        "severity": by_severity,
        "fix_available": sum(1 for f in active if f.fix_available is not FixAvailable.NO),
    }


def report_dict(report: Report) -> dict[str, Any]:
    """The whole report as plain JSON-able values."""
    s = report.summary
    os_info = report.node.os
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "generated_at": _time(report.generated_at),
        "node": {
            "hostname": report.node.hostname,
            "root": report.node.root,
            "os": {
                "id": os_info.id,
                "version": os_info.version_id,
                "codename": os_info.codename,
                "name": os_info.pretty_name,
                "operating_system": os_info.operating_system,
                "family": os_info.family,
            },
            "product": os_info.product,
        },
        **_resource(report),
        "baseline": {"name": report.baseline},
        "operation": report.operation.value,
        "snapshot_id": report.snapshot_id or None,
        "compliance": s.compliance.value,
        "severity": s.severity.value if s.severity else None,
        "reboot_required": report.reboot_required,
        "rebooted": report.rebooted,
        "summary": {
            **s.counts,
            "critical_non_compliant": s.critical_non_compliant,
            "security_non_compliant": s.security_non_compliant,
            "other_non_compliant": s.other_non_compliant,
        },
        "patches": [item_dict(i) for i in report.items],
        **_vulnerabilities(report),
        "warnings": list(report.warnings),
    }


def resource_dict(report: Report) -> dict[str, Any] | None:
    """The image an image report is about (``None`` for a host report)."""
    image = report.image
    if image is None:
        return None
    return {
        "type": "image",
        "name": image.ref,
        "id": image.digest,
        "platform": image.platform,
        "labels": dict(image.labels),
        "package_database": image.package_database or None,
        "packages": image.package_count,
    }


def _resource(report: Report) -> dict[str, Any]:
    resource = resource_dict(report)
    return {} if resource is None else {"resource": resource}


def _vulnerabilities(report: Report) -> dict[str, Any]:
    if report.vulnerabilities is None:
        return {}
    return {
        "vulnerability_summary": vulnerability_summary(report.vulnerabilities),
        "vulnerabilities": [finding_dict(f) for f in report.vulnerabilities],
    }


def render(report: Report) -> str:
    """JSON text: one top-level key per line and one patch or finding per line (grep- and
    diff-friendly, and it keeps to the C encoder, which an ``indent`` would disable)."""
    data = report_dict(report)
    lines = []
    for key, value in data.items():
        if key in ("patches", "vulnerabilities"):
            body = ",\n".join("    " + json.dumps(p) for p in value)
            lines.append(f'  "{key}": [\n{body}\n  ]' if value else f'  "{key}": []')
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"
