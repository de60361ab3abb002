"""Maintenance windows as the API lists them: windows, a window's executions, and an
execution in detail (its tasks → the command of each wave and phase → their invocations,
and the runbook executions of AUTOMATION tasks)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.commands import invocation_record
from patchwarden.adapters.storage.tables import (
    Command,
    Invocation,
    MaintenanceWindow,
    WindowExecution,
    WindowTaskCommand,
    WindowTaskExecution,
)
from patchwarden.adapters.storage.windows.executions import execution_record
from patchwarden.adapters.storage.windows.runbooks import started_by
from patchwarden.adapters.storage.windows.tasks import task_record, tasks_of
from patchwarden.adapters.storage.windows.windows import window_record
from patchwarden.pipeline.fleet.command_records import InvocationRecord
from patchwarden.pipeline.windows.parameters import runbook_actor
from patchwarden.pipeline.windows.records import ExecutionRecord, TaskExecution, WindowRecord


@dataclass(frozen=True)
class PhaseCommandView:
    """The command of one wave phase of a task, with its invocations in send order."""

    wave: int
    phase: int
    command_id: str
    status: str | None
    invocations: tuple[InvocationRecord, ...]


@dataclass(frozen=True)
class RunbookRunView:
    """A runbook execution an AUTOMATION task started (``node_id`` "" when targetless)."""

    node_id: str
    execution_id: str
    runbook: str
    status: str
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class TaskDetail:
    """A task execution with what it sent or started."""

    task: TaskExecution
    commands: tuple[PhaseCommandView, ...]
    runbook_runs: tuple[RunbookRunView, ...]


@dataclass(frozen=True)
class ExecutionDetail:
    """An execution with its task executions (by priority, then name)."""

    execution: ExecutionRecord
    tasks: tuple[TaskDetail, ...]


def windows(session: Session) -> list[WindowRecord]:
    """Every window, by name."""
    rows = session.scalars(select(MaintenanceWindow).order_by(MaintenanceWindow.name))
    return [window_record(r) for r in rows]


def window(session: Session, name: str) -> WindowRecord | None:
    """The window called ``name``."""
    row = session.scalar(select(MaintenanceWindow).where(MaintenanceWindow.name == name))
    return window_record(row) if row is not None else None


def window_executions(
    session: Session, name: str, limit: int
) -> tuple[WindowRecord, list[ExecutionRecord]] | None:
    """The window called ``name`` and up to ``limit`` of its executions, newest first."""
    found = window(session, name)
    if found is None:
        return None
    rows = session.scalars(
        select(WindowExecution)
        .where(WindowExecution.window_id == found.id)
        .order_by(WindowExecution.scheduled_for.desc())
        .limit(limit)
    )
    return found, [execution_record(r) for r in rows]


def _commands(session: Session, task_id: str) -> tuple[PhaseCommandView, ...]:
    links = session.scalars(
        select(WindowTaskCommand)
        .where(WindowTaskCommand.task_execution_id == task_id)
        .order_by(WindowTaskCommand.wave, WindowTaskCommand.phase)
    ).all()
    found = []
    for link in links:
        cmd = session.get(Command, link.command_id)
        invs = session.scalars(
            select(Invocation)
            .where(Invocation.command_id == link.command_id)
            .order_by(Invocation.seq)
        )
        found.append(
            PhaseCommandView(
                wave=link.wave,
                phase=link.phase,
                command_id=link.command_id,
                status=cmd.status if cmd else None,
                invocations=tuple(invocation_record(i) for i in invs),
            )
        )
    return tuple(found)


def _runs(session: Session, task_id: str) -> tuple[RunbookRunView, ...]:
    runs = started_by(session, runbook_actor(task_id, ""))
    return tuple(
        RunbookRunView(node, r.id, r.runbook, r.status, r.started_at, r.ended_at)
        for node, r in runs.items()
    )


def _task(session: Session, row: WindowTaskExecution) -> TaskDetail:
    return TaskDetail(task_record(row), _commands(session, row.id), _runs(session, row.id))


def execution_detail(session: Session, execution_id: str) -> ExecutionDetail | None:
    """The execution with its task executions, their commands and runbook executions."""
    row = session.get(WindowExecution, execution_id)
    if row is None:
        return None
    tasks = tuple(_task(session, t) for t in tasks_of(session, row.id))
    return ExecutionDetail(execution_record(row), tasks)
