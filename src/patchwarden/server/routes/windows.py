"""``/api/v1/windows``: maintenance windows, their executions and (tests only) a tick."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from sqlalchemy import delete, select

from patchwarden.adapters.storage.tables import MaintenanceWindow, WindowExecution
from patchwarden.core.windows import Status
from patchwarden.errors import PatchwardenError
from patchwarden.server import audit, scheduler
from patchwarden.server.auth import Admin, Operator, Viewer
from patchwarden.server.db import Now, ReadDB, Settings, WriteDB, database
from patchwarden.server.errors import ApiError, bad_request, not_found
from patchwarden.server.windows import (
    by_name,
    execution_detail,
    execution_view,
    parse_window,
    store,
    view,
)

router = APIRouter(prefix="/api/v1/windows", tags=["windows"])


@router.get("")
def list_windows(_: Viewer, session: ReadDB) -> list[dict[str, Any]]:
    """Every window, by name."""
    rows = session.scalars(select(MaintenanceWindow).order_by(MaintenanceWindow.name))
    return [view(r) for r in rows]


@router.post("")
def put_window(who: Operator, session: WriteDB, at: Now, document: Any = Body()) -> dict[str, Any]:
    """Create or replace a window from its MaintenanceWindow document."""
    if not isinstance(document, dict):
        raise bad_request("body: expected a MaintenanceWindow document (a JSON object)")
    try:
        doc = parse_window(document)
    except PatchwardenError as exc:
        raise bad_request(str(exc)) from None
    row, created = store(session, doc, at)
    audit.record(session, who, f"window.{'create' if created else 'update'}", row.name, at)
    return {**view(row), "result": "created" if created else "configured"}


@router.post("/-/tick")
def test_tick(
    _: Admin, request: Request, settings: Settings, now: datetime | None = None
) -> dict[str, int]:
    """Run one scheduler round at ``now`` (default: the clock).  Tests only: enabled by
    ``PATCHWARDEN_SCHEDULER_TEST_TICK=1``."""
    if os.environ.get(scheduler.TEST_TICK_ENV) != "1":
        raise not_found("endpoint")
    if now is not None and now.tzinfo is None:
        raise bad_request("now: give a time zone (e.g. Z)")
    counts = scheduler.tick(database(request), now or settings.clock(), settings.replica_id)
    return dict(counts)


@router.get("/-/executions/{execution_id}")
def get_execution(execution_id: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
    """One execution with its task executions, commands and invocations."""
    row = session.get(WindowExecution, execution_id)
    if row is None:
        raise not_found(f"window execution {execution_id}")
    return execution_detail(session, row)


@router.post("/-/executions/{execution_id}/cancel")
def cancel_execution(execution_id: str, who: Operator, session: WriteDB, at: Now) -> dict[str, Any]:
    """Cancel: no new work starts, running commands are cancelled (CANCELLING → CANCELLED at
    the scheduler's next round)."""
    row = session.get(WindowExecution, execution_id, with_for_update=True)
    if row is None:
        raise not_found(f"window execution {execution_id}")
    if not Status(row.status).terminal and row.status != Status.CANCELLING:
        if row.status == Status.PENDING:
            row.status, row.ended_at = Status.CANCELLED, at
            row.status_details = "cancelled before it started"
        else:
            row.status = Status.CANCELLING
        audit.record(session, who, "window.execution.cancel", row.id, at)
    return execution_view(row)


@router.get("/{name}")
def get_window(name: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
    """One window with its document."""
    row = by_name(session, name)
    return {**view(row), "document": row.document}


@router.delete("/{name}", status_code=204)
def delete_window(name: str, who: Operator, session: WriteDB, at: Now) -> None:
    """Delete a window and its history (refused while an execution runs)."""
    row = by_name(session, name, lock=True)
    running = session.scalar(
        select(WindowExecution.id).where(
            WindowExecution.window_id == row.id,
            WindowExecution.status.in_([Status.PENDING, Status.IN_PROGRESS, Status.CANCELLING]),
        )
    )
    if running is not None:
        raise ApiError(409, "conflict", f"window {name} has a running execution ({running})")
    session.execute(delete(MaintenanceWindow).where(MaintenanceWindow.id == row.id))
    audit.record(session, who, "window.delete", name, at)


@router.get("/{name}/executions")
def list_executions(
    name: str,
    _: Viewer,
    session: ReadDB,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    """DescribeMaintenanceWindowExecutions: newest first."""
    row = by_name(session, name)
    rows = session.scalars(
        select(WindowExecution)
        .where(WindowExecution.window_id == row.id)
        .order_by(WindowExecution.scheduled_for.desc())
        .limit(limit)
    )
    return [execution_view(r, row.name) for r in rows]
