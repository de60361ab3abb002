"""An operator's changes to windows and their executions: cancelling an execution and
deleting a window (refused while one of its executions runs)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from patchwarden.core.windows import Status
from patchwarden.pipeline.fleet.errors import Conflict, NotFound
from patchwarden.pipeline.fleet.ports import AuditLog
from patchwarden.pipeline.windows.ports import ExecutionRepository, WindowRepository
from patchwarden.pipeline.windows.records import ExecutionRecord

NOT_STARTED = "cancelled before it started"


def cancel_execution(
    executions: ExecutionRepository, audit: AuditLog, execution_id: str, actor: str, at: datetime
) -> ExecutionRecord:
    """Cancel: no new work starts, running commands are cancelled (CANCELLING → CANCELLED at
    the scheduler's next round; a PENDING execution ends CANCELLED at once).  Cancelling an
    ended or cancelling execution changes nothing."""
    execution = executions.get(execution_id, lock=True)
    if execution is None:
        raise NotFound(f"window execution {execution_id}")
    if not execution.status.terminal and execution.status != Status.CANCELLING:
        if execution.status == Status.PENDING:
            execution = replace(
                execution, status=Status.CANCELLED, ended_at=at, status_details=NOT_STARTED
            )
        else:
            execution = replace(execution, status=Status.CANCELLING)
        executions.save(execution)
        audit.record(actor, "window.execution.cancel", execution.id, at)
    return execution


def delete_window(
    windows: WindowRepository,
    executions: ExecutionRepository,
    audit: AuditLog,
    name: str,
    actor: str,
    at: datetime,
) -> None:
    """Delete a window and its history (Conflict while an execution runs)."""
    window = windows.by_name(name, lock=True)
    if window is None:
        raise NotFound(f"maintenance window {name}")
    running = executions.first_active(window.id)
    if running is not None:
        raise Conflict(f"window {name} has a running execution ({running})")
    windows.delete(window.id)
    audit.record(actor, "window.delete", name, at)
