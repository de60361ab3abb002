"""Maintenance windows in the server: applying a window document in a session (with the
server's RunPatchBaseline parameter validation), and the API's views of windows and their
executions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.windows.reads import ExecutionDetail, TaskDetail
from patchwarden.adapters.storage.windows.runbooks import SqlRunbookRuns
from patchwarden.adapters.storage.windows.targets import SqlWindowTargets
from patchwarden.adapters.storage.windows.windows import SqlWindows
from patchwarden.documents.envelope import translate
from patchwarden.documents.window import WindowDocument, spec_of
from patchwarden.pipeline.fleet.command_records import InvocationRecord
from patchwarden.pipeline.windows import documents
from patchwarden.pipeline.windows.documents import WindowChecks
from patchwarden.pipeline.windows.documents import parse_window as parse_window
from patchwarden.pipeline.windows.records import ExecutionRecord, WindowRecord
from patchwarden.server.db import WriteDB
from patchwarden.server.fleet.command_schema import RunParameters
from patchwarden.server.fleet.command_views import invocation_view

PHASES = ("PreHook", "Task", "PostHook")
"""Names of a wave's phases, as the API shows them."""


class ServerParameterCheck:
    """RunPatchBaseline parameters validated as SendCommand validates them."""

    def check(self, parameters: Mapping[str, Any], where: str) -> None:
        """InputError (naming ``where``) unless the parameters are valid."""
        try:
            RunParameters.model_validate(parameters)
        except ValidationError as exc:
            raise translate(exc, where) from None


def checks(session: WriteDB) -> WindowChecks:
    """What applying a window checks, over ``session``."""
    return WindowChecks(ServerParameterCheck(), SqlRunbookRuns(session), SqlWindowTargets(session))


def store(session: WriteDB, doc: WindowDocument, at: datetime) -> tuple[WindowRecord, bool]:
    """Create or replace the window ``doc`` names; (window, created)."""
    return documents.store_window(SqlWindows(session), checks(session), doc, at)


def apply(
    session: WriteDB, doc: WindowDocument, actor: str, at: datetime
) -> tuple[WindowRecord, bool]:
    """:func:`store`, audited."""
    return documents.apply_window(
        SqlWindows(session), checks(session), SqlAuditLog(session), doc, actor, at
    )


def view(window: WindowRecord) -> dict[str, Any]:
    """A window as the API lists it."""
    spec = spec_of(window.document["spec"])
    return {
        "window_id": window.id,
        "name": window.name,
        "enabled": window.enabled,
        "schedule": spec.Schedule,
        "schedule_timezone": spec.ScheduleTimezone,
        "duration": spec.Duration,
        "cutoff": spec.Cutoff,
        "next_execution_time": window.next_execution_at,
        "created_at": window.created_at,
        "modified_at": window.modified_at,
    }


def execution_view(execution: ExecutionRecord, name: str = "") -> dict[str, Any]:
    """A window execution (without its tasks)."""
    return {
        "window_execution_id": execution.id,
        "window_id": execution.window_id,
        "window_name": name or execution.window_name,
        "scheduled_for": execution.scheduled_for,
        "status": execution.status,
        "status_details": execution.status_details,
        "start_time": execution.started_at,
        "end_time": execution.ended_at,
        "target_count": len(execution.targets),
        "claimed_by": execution.claimed_by,
    }


def _offline(inv: InvocationRecord) -> dict[str, Any]:
    out = invocation_view(inv, output=False)
    if inv.status == "TimedOut" and inv.status_details == "Delivery Timed Out":
        out["status_details"] = "Delivery Timed Out: node offline for the whole window"
    return out


def task_view(detail: TaskDetail) -> dict[str, Any]:
    """A task execution with its commands (per wave and phase) and their invocations, and
    the runbook executions it started."""
    task, state = detail.task, detail.task.state
    return {
        "task_execution_id": task.id,
        "task_name": task.task_name,
        "priority": task.priority,
        "status": state.status,
        "status_details": state.details,
        "waves": [len(w) for w in state.waves],
        "current_wave": state.wave,
        "errors": state.errors,
        "error_limit": state.error_limit,
        "start_time": state.started_at,
        "end_time": state.ended_at,
        "commands": [
            {
                "wave": c.wave,
                "phase": PHASES[c.phase],
                "command_id": c.command_id,
                "status": c.status,
                "invocations": [_offline(i) for i in c.invocations],
            }
            for c in detail.commands
        ],
        "runbook_executions": [
            {
                "node_id": r.node_id or None,
                "runbook_execution_id": r.execution_id,
                "runbook": r.runbook,
                "status": r.status,
                "start_time": r.started_at,
                "end_time": r.ended_at,
            }
            for r in detail.runbook_runs
        ],
    }


def execution_detail(detail: ExecutionDetail) -> dict[str, Any]:
    """An execution with its task executions, commands and invocations."""
    return {
        **execution_view(detail.execution),
        "targets": list(detail.execution.targets),
        "tasks": [task_view(t) for t in detail.tasks],
    }
