"""Stored maintenance windows: create/update from a document, and the API's views."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.governance_tables import RunbookRow
from patchwarden.adapters.storage.tables import (
    Command,
    Invocation,
    MaintenanceWindow,
    WindowExecution,
    WindowTaskCommand,
    WindowTaskExecution,
)
from patchwarden.documents import parse_documents
from patchwarden.documents.window import WindowDocument, spec_of, timing
from patchwarden.errors import InputError
from patchwarden.server import window_automation
from patchwarden.server.commands import invocation_view
from patchwarden.server.errors import not_found

PHASES = ("PreHook", "Task", "PostHook")


def window_id() -> str:
    """``mw-`` + 17 hex digits, as AWS."""
    return "mw-" + secrets.token_hex(9)[:17]


def parse_window(raw: Mapping[str, Any], where: str = "document") -> WindowDocument:
    """A MaintenanceWindow document (envelope)."""
    (doc,) = parse_documents(json.dumps(raw), where + ".json")
    if not isinstance(doc, WindowDocument):
        raise InputError(f"{where}: expected kind MaintenanceWindow, got {doc.kind}")
    return doc


def by_name(session: Session, name: str, *, lock: bool = False) -> MaintenanceWindow:
    """The window called ``name`` (404 otherwise)."""
    query = select(MaintenanceWindow).where(MaintenanceWindow.name == name)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise not_found(f"maintenance window {name}")
    return row


def check_parameters(doc: WindowDocument) -> None:
    """Every RUN_COMMAND task's and hook's Parameters are valid RunPatchBaseline parameters
    once the pseudo-parameters are filled in (checked when applied, not when the window
    opens)."""
    from pydantic import ValidationError

    from patchwarden.core.windows import PSEUDO_NAMES, substitute
    from patchwarden.documents.envelope import translate
    from patchwarden.server.command_schema import RunParameters

    sample = dict.fromkeys(PSEUDO_NAMES, "00000000-0000-4000-8000-000000000000")
    for index, task in enumerate(doc.spec.Tasks):
        if task.TaskType != "RUN_COMMAND":
            continue
        where = f"spec.Tasks[{index}]"
        given = [("TaskInvocationParameters.RunCommand.Parameters", task.run_command.Parameters)]
        given += [
            (f"{n}.Parameters", h.Parameters)
            for n, h in (("PreHook", task.PreHook), ("PostHook", task.PostHook))
            if h
        ]
        for path, params in given:
            try:
                RunParameters.model_validate(substitute(params, sample))
            except ValidationError as exc:
                raise translate(exc, f"{doc.source}: {where}.{path}") from None


def check_runbooks(session: Session, doc: WindowDocument) -> None:
    """Every AUTOMATION task names an existing runbook (a runbook deleted later fails the
    task when the window runs, with that detail)."""
    for index, task in enumerate(doc.spec.Tasks):
        if task.TaskType == "AUTOMATION" and session.get(RunbookRow, task.TaskArn) is None:
            raise InputError(
                f"{doc.source}: spec.Tasks[{index}].TaskArn: runbook {task.TaskArn!r} "
                "does not exist (apply the Runbook first)"
            )


def check_targets(session: Session, doc: WindowDocument) -> None:
    """With ``AllowUnassociatedTargets: false`` (the default), the node ids a task names
    (``Targets: [{Key: InstanceIds, …}]``) must be nodes the window's own Targets select now."""
    if doc.spec.AllowUnassociatedTargets:
        return
    named = [
        (index, value)
        for index, task in enumerate(doc.spec.Tasks)
        for target in task.Targets or []
        if target.Key == "InstanceIds"
        for value in target.Values
    ]
    if not named:
        return
    from patchwarden.server.window_run import resolve

    selected = {n.id for n in resolve(session, doc.spec.Targets)}
    every = [(t.Key, t.Values) for t in doc.spec.Targets] == [("InstanceIds", ["*"])]
    for index, value in named:
        if value == "*" and not every:
            raise InputError(
                f"{doc.source}: spec.Tasks[{index}].Targets: InstanceIds * selects nodes beyond "
                "the window's Targets (set spec.AllowUnassociatedTargets: true to allow it)"
            )
        if value != "*" and value not in selected:
            raise InputError(
                f"{doc.source}: spec.Tasks[{index}].Targets: node {value} does not match the "
                "window's Targets (set spec.AllowUnassociatedTargets: true to allow it)"
            )


def store(session: Session, doc: WindowDocument, at: datetime) -> tuple[MaintenanceWindow, bool]:
    """Create or replace the window ``doc`` names; (row, created).  The scheduler's marker
    starts at ``at``: a new window never runs for times before it was created, and an
    update never re-runs past times."""
    check_parameters(doc)
    check_runbooks(session, doc)
    check_targets(session, doc)
    row = session.scalar(
        select(MaintenanceWindow).where(MaintenanceWindow.name == doc.name).with_for_update()
    )
    created = row is None
    if row is None:
        row = MaintenanceWindow(id=window_id(), name=doc.name, created_at=at, handled_until=at)
        session.add(row)
    else:
        row.handled_until = max(row.handled_until, at)
    row.document = doc.to_json()
    row.enabled = doc.spec.Enabled
    row.modified_at = at
    row.next_execution_at = (
        timing(doc.spec, anchor=row.created_at).next_after(row.handled_until)
        if row.enabled
        else None
    )
    session.flush()
    return row, created


def view(row: MaintenanceWindow) -> dict[str, Any]:
    """A window as the API lists it."""
    spec = spec_of(row.document["spec"])
    return {
        "window_id": row.id,
        "name": row.name,
        "enabled": row.enabled,
        "schedule": spec.Schedule,
        "schedule_timezone": spec.ScheduleTimezone,
        "duration": spec.Duration,
        "cutoff": spec.Cutoff,
        "next_execution_time": row.next_execution_at,
        "created_at": row.created_at,
        "modified_at": row.modified_at,
    }


def execution_view(row: WindowExecution, name: str = "") -> dict[str, Any]:
    """A window execution (without its tasks)."""
    return {
        "window_execution_id": row.id,
        "window_id": row.window_id,
        "window_name": name or row.document.get("metadata", {}).get("name", ""),
        "scheduled_for": row.scheduled_for,
        "status": row.status,
        "status_details": row.status_details,
        "start_time": row.started_at,
        "end_time": row.ended_at,
        "target_count": len(row.targets),
        "claimed_by": row.claimed_by,
    }


def _offline(inv: Invocation) -> dict[str, Any]:
    out = invocation_view(inv, output=False)
    if inv.status == "TimedOut" and inv.status_details == "Delivery Timed Out":
        out["status_details"] = "Delivery Timed Out: node offline for the whole window"
    return out


def task_view(session: Session, task: WindowTaskExecution) -> dict[str, Any]:
    """A task execution with its commands (per wave and phase) and their invocations."""
    links = session.scalars(
        select(WindowTaskCommand)
        .where(WindowTaskCommand.task_execution_id == task.id)
        .order_by(WindowTaskCommand.wave, WindowTaskCommand.phase)
    ).all()
    commands = []
    for link in links:
        cmd = session.get(Command, link.command_id)
        invs = session.scalars(
            select(Invocation)
            .where(Invocation.command_id == link.command_id)
            .order_by(Invocation.seq)
        )
        commands.append(
            {
                "wave": link.wave,
                "phase": PHASES[link.phase],
                "command_id": link.command_id,
                "status": cmd.status if cmd else None,
                "invocations": [_offline(i) for i in invs],
            }
        )
    return {
        "task_execution_id": task.id,
        "task_name": task.task_name,
        "priority": task.priority,
        "status": task.status,
        "status_details": task.status_details,
        "waves": [len(w) for w in task.waves],
        "current_wave": task.wave,
        "errors": task.errors,
        "error_limit": task.error_limit,
        "start_time": task.started_at,
        "end_time": task.ended_at,
        "commands": commands,
        "runbook_executions": window_automation.runs_view(session, task),
    }


def execution_detail(session: Session, row: WindowExecution) -> dict[str, Any]:
    """An execution with its task executions, commands and invocations."""
    tasks = session.scalars(
        select(WindowTaskExecution)
        .where(WindowTaskExecution.execution_id == row.id)
        .order_by(WindowTaskExecution.priority, WindowTaskExecution.task_name)
    )
    return {
        **execution_view(row),
        "targets": row.targets,
        "tasks": [task_view(session, t) for t in tasks],
    }
