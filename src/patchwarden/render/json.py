"""The scan report as JSON: the contract of DESIGN.md §4, documented in docs/report-schema.md."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from patchwarden.core.model import PatchItem
from patchwarden.core.report import REPORT_SCHEMA_VERSION, Report


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
            },
            "product": os_info.product,
        },
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
        "warnings": list(report.warnings),
    }


def render(report: Report) -> str:
    """JSON text: one top-level key per line and one patch per line (grep- and diff-friendly,
    and it keeps to the C encoder, which an ``indent`` would disable)."""
    data = report_dict(report)
    lines = []
    for key, value in data.items():
        if key == "patches":
            body = ",\n".join("    " + json.dumps(p) for p in value)
            lines.append(f'  "patches": [\n{body}\n  ]' if value else '  "patches": []')
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"
