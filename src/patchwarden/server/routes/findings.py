"""``/api/v1/nodes/{id}/findings`` and ``/api/v1/findings``: the vulnerability findings the
server's assessment of uploaded inventories stored (see :mod:`patchwarden.server.vulns`)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from fastapi import APIRouter

from patchwarden.adapters.storage.queries import findings as reads
from patchwarden.core.vuln import FindingStatus, Severity
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.assess import display_order
from patchwarden.render.json import finding_dict
from patchwarden.server.auth import Viewer
from patchwarden.server.db import ReadDB, Settings
from patchwarden.server.errors import bad_request, not_found
from patchwarden.server.settings import ServerSettings

router = APIRouter(prefix="/api/v1", tags=["findings"])


def _database(settings: ServerSettings) -> dict[str, Any]:
    """Whether the server has a vulnerability database to assess inventories against:
    without one there are no findings, and an empty list must not read as "none found"."""
    path = settings.vulndb_path
    available = path.is_file()
    return {
        "available": available,
        "message": None
        if available
        else f"no vulnerability database on the server at {path}: findings are not assessed "
        "(run `patchwarden db update` or `patchwarden db import` on the server, or set "
        "PATCHWARDEN_DB_UPDATE_EVERY)",
    }


def _status(settings: ServerSettings) -> dict[str, Any]:
    """Each feed's age and record count, the staleness warning, the scheduled updates."""
    from patchwarden import settings as local_settings
    from patchwarden.adapters.vulndb import SqliteVulnDb
    from patchwarden.pipeline.dbstatus import status
    from patchwarden.server.vulndb_updates import last_update

    view: dict[str, Any] = {"feeds": [], "warning": None}
    if settings.vulndb_path.is_file():
        store = SqliteVulnDb(settings.vulndb_path)
        try:
            report = status(store, settings.clock.now(), local_settings.vulndb_max_age())
        except PatchwardenError as exc:
            view["warning"] = f"the vulnerability database cannot be read: {exc}"
        else:
            view["warning"] = report.warning
            view["feeds"] = [
                {
                    "name": f.name,
                    "updated_at": _time(f.updated_at),
                    "age_seconds": int(f.age.total_seconds()) if f.age is not None else None,
                    "records": f.records,
                    "stale": f.stale,
                }
                for f in report.feeds
            ]
        finally:
            store.close()
    last = last_update()
    view["updates"] = {
        "every_seconds": settings.db_updates.every or None,
        "last": last.view() if last else None,
    }
    return view


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


@router.get("/findings/database")
def vulnerability_database(_: Viewer, settings: Settings) -> dict[str, Any]:
    """Whether the server has a vulnerability database (``available``), what to do when it
    has none (``message``), each feed's age (``feeds``, ``warning``) and the scheduled
    updates (``updates``)."""
    return {**_database(settings), **_status(settings)}


@router.get("/nodes/{node_id}/findings")
def node_findings(node_id: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
    """The node's findings (open ones and those CLOSED within 30 days), most severe first;
    ``assessed_at`` is ``null`` while the node was never assessed (``GET
    /api/v1/findings/database`` says whether the server has a database to assess with)."""
    found = reads.node_findings(session, node_id)
    if found is None:
        raise not_found(f"node {node_id}")
    return {
        "node_id": node_id,
        "assessed_at": _time(found.assessed_at),
        "assessed": found.assessed,
        "warnings": found.warnings,
        "findings": [finding_dict(f) for f in sorted(found.findings, key=display_order)],
    }


def _choice(name: str, value: str | None, allowed: list[str]) -> str | None:
    if value is None or value == "":
        return None
    upper = value.upper()
    if upper not in allowed:
        raise bad_request(f"{name}: must be one of {', '.join(allowed)}")
    return upper


@router.get("/findings")
def fleet_findings(
    _: Viewer,
    session: ReadDB,
    settings: Settings,
    severity: str | None = None,
    status: str | None = None,
    package: str | None = None,
) -> dict[str, Any]:
    """Findings of every active node, filtered by severity, status and package name, with
    counts per severity (of the filtered list); ``vulnerability_database.available`` is
    false when the server has no database (then there are no findings to list)."""
    rows = reads.active_findings(
        session,
        severity=_choice("severity", severity, [s.value for s in Severity]),
        status=_choice("status", status, [s.value for s in FindingStatus]),
        package=package or None,
    )
    rows.sort(key=lambda row: (display_order(row[2]), row[0]))
    counts = Counter(f.severity.value for _, _, f in rows)
    return {
        "count": len(rows),
        "counts": {s.value: counts.get(s.value, 0) for s in Severity},
        "vulnerability_database": _database(settings),
        "findings": [
            {"node_id": node_id, "hostname": hostname, **finding_dict(f)}
            for node_id, hostname, f in rows
        ],
    }
