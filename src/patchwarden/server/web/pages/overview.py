"""The fleet overview: compliance (now, over time, by patch group / OS / baseline),
findings by severity, nodes offline, pending reboots, the next maintenance windows.

Every number comes from the read queries the JSON API answers with
(``/api/v1/compliance/summary``, ``/api/v1/nodes``, ``/api/v1/findings``,
``/api/v1/windows``), so the console and the API never disagree."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from patchwarden.adapters.storage import compliance_history
from patchwarden.adapters.storage.queries import compliance as compliance_reads
from patchwarden.adapters.storage.queries import findings as finding_reads
from patchwarden.adapters.storage.queries import nodes as node_reads
from patchwarden.adapters.storage.windows import reads as window_reads
from patchwarden.core.presence import PING_STATUSES
from patchwarden.core.vuln import FindingStatus, Severity
from patchwarden.pipeline.fleet.compliance import UNREPORTED, Grouping, summarize
from patchwarden.server.db import ReadDB, Settings
from patchwarden.server.fleet.views import node_view
from patchwarden.server.settings import ServerSettings
from patchwarden.server.web import charts
from patchwarden.server.web.render import ago, page
from patchwarden.server.web.session import current
from patchwarden.server.windows.api import view as window_view

router = APIRouter(include_in_schema=False)
STATES = ("COMPLIANT", "NON_COMPLIANT", UNREPORTED)
SEVERITIES = tuple(s.value for s in Severity)
PENDING_REBOOT = "INSTALLED_PENDING_REBOOT"
TREND_DAYS = 14


def overview(session: ReadDB, at: datetime, settings: ServerSettings) -> dict[str, Any]:
    """The overview's numbers (also what the browser tests compare with the API)."""
    states = compliance_reads.fleet_states(session, {})
    groupings: tuple[Grouping, ...] = ("patch_group", "operating_system", "baseline")
    by = {g: summarize(states, g) for g in groupings}
    nodes = [
        node_view(n, at, settings)
        for n in node_reads.nodes(session, tags={}, patch_group=None, include_deregistered=False)
    ]
    pings = Counter(str(n["ping_status"]) for n in nodes)
    active = finding_reads.active_findings(
        session, severity=None, status=FindingStatus.ACTIVE.value, package=None
    )
    severities = Counter(f.severity.value for _, _, f in active)
    reported = compliance_reads.reported(session, tags={}, compliance=None, patch_group=None)
    reboots = [
        (record, node) for record, node in reported if record.summary.get(PENDING_REBOOT, 0) > 0
    ]
    windows = [window_view(w) for w in window_reads.windows(session)]
    upcoming = sorted(
        (w for w in windows if w["enabled"] and w["next_execution_time"] is not None),
        key=lambda w: w["next_execution_time"],
    )
    today = at.date()
    recorded = compliance_history.days(session, today - timedelta(days=TREND_DAYS - 1))
    recorded[today] = {s: by["patch_group"]["total"][s] for s in STATES}  # live, not stale
    trend = [(day.isoformat(), counts) for day, counts in sorted(recorded.items())]
    return {
        "trend": trend,
        "total": by["patch_group"]["total"],
        "by": by,
        "nodes": len(nodes),
        "pings": {status: pings.get(status, 0) for status in PING_STATUSES},
        "offline": [n for n in nodes if n["ping_status"] != "Online"],
        "findings": {s: severities.get(s, 0) for s in SEVERITIES},
        "findings_total": len(active),
        "reboots": reboots,
        "windows": upcoming[:5],
    }


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, session: ReadDB, settings: Settings) -> HTMLResponse:
    """The fleet at a glance."""
    who = current(request)
    at = settings.clock.now()
    data = overview(session, at, settings)
    total = data["total"]
    context = {
        **data,
        "states": STATES,
        "severities": SEVERITIES,
        "compliance_bar": charts.bar(total, STATES, _label(total, STATES, "nodes")),
        "trend_chart": charts.stacked_columns(
            data["trend"],
            STATES,
            f"compliance of the last {len(data['trend'])} days by state",
            slots=TREND_DAYS,
        ),
        "findings_bar": charts.bar(
            data["findings"], SEVERITIES, _label(data["findings"], SEVERITIES, "findings")
        ),
        "group_titles": {
            "patch_group": "Patch group",
            "operating_system": "Operating system",
            "baseline": "Baseline",
        },
        "bar": charts.bar,
        "ago": lambda value: ago(value, at),
    }
    return page(request, "overview.html", who, context)


def _label(counts: dict[str, int], series: tuple[str, ...], what: str) -> str:
    parts = ", ".join(f"{counts.get(s, 0)} {s.replace('_', ' ').lower()}" for s in series)
    return f"{what}: {parts}"
