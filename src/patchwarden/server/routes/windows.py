"""``/api/v1/windows``: maintenance windows, their executions and (tests only) a tick."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.windows import reads
from patchwarden.adapters.storage.windows.executions import SqlWindowExecutions
from patchwarden.adapters.storage.windows.windows import SqlWindows
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.windows import admin
from patchwarden.server.auth import Admin, Operator, Viewer
from patchwarden.server.db import Now, ReadDB, Settings, WriteDB, database
from patchwarden.server.errors import bad_request, not_found
from patchwarden.server.outcomes import answered
from patchwarden.server.windows import scheduler
from patchwarden.server.windows.api import (
    apply,
    execution_detail,
    execution_view,
    parse_window,
    view,
)

router = APIRouter(prefix="/api/v1/windows", tags=["windows"])


@router.get("")
def list_windows(_: Viewer, session: ReadDB) -> list[dict[str, Any]]:
    """Every window, by name."""
    return [view(w) for w in reads.windows(session)]


@router.post("")
def put_window(who: Operator, session: WriteDB, at: Now, document: Any = Body()) -> dict[str, Any]:
    """Create or replace a window from its MaintenanceWindow document."""
    if not isinstance(document, dict):
        raise bad_request("body: expected a MaintenanceWindow document (a JSON object)")
    try:
        doc = parse_window(document)
    except PatchwardenError as exc:
        raise bad_request(str(exc)) from None
    window, created = apply(session, doc, who.actor, at)
    return {**view(window), "result": "created" if created else "configured"}


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
    counts = scheduler.tick(database(request), now or settings.clock.now(), settings.replica_id)
    return dict(counts)


@router.get("/-/executions/{execution_id}")
def get_execution(execution_id: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
    """One execution with its task executions, commands and invocations."""
    detail = reads.execution_detail(session, execution_id)
    if detail is None:
        raise not_found(f"window execution {execution_id}")
    return execution_detail(detail)


@router.post("/-/executions/{execution_id}/cancel")
def cancel_execution(execution_id: str, who: Operator, session: WriteDB, at: Now) -> dict[str, Any]:
    """Cancel: no new work starts, running commands are cancelled (CANCELLING → CANCELLED at
    the scheduler's next round)."""
    with answered():
        execution = admin.cancel_execution(
            SqlWindowExecutions(session), SqlAuditLog(session), execution_id, who.actor, at
        )
    return execution_view(execution)


@router.get("/{name}")
def get_window(name: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
    """One window with its document."""
    window = reads.window(session, name)
    if window is None:
        raise not_found(f"maintenance window {name}")
    return {**view(window), "document": window.document}


@router.delete("/{name}", status_code=204)
def delete_window(name: str, who: Operator, session: WriteDB, at: Now) -> None:
    """Delete a window and its history (refused while an execution runs)."""
    with answered():
        admin.delete_window(
            SqlWindows(session),
            SqlWindowExecutions(session),
            SqlAuditLog(session),
            name,
            who.actor,
            at,
        )


@router.get("/{name}/executions")
def list_executions(
    name: str,
    _: Viewer,
    session: ReadDB,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    """DescribeMaintenanceWindowExecutions: newest first."""
    found = reads.window_executions(session, name, limit)
    if found is None:
        raise not_found(f"maintenance window {name}")
    window, executions = found
    return [execution_view(e, window.name) for e in executions]
