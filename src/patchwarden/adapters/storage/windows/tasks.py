"""Task executions of window executions: the
:class:`~patchwarden.pipeline.windows.ports.TaskExecutions` over
``window_task_executions`` (one row holds the window machine's state of one task)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.secrets import new_uuid
from patchwarden.adapters.storage.tables import WindowTaskExecution
from patchwarden.core.window_machine import TaskState
from patchwarden.core.windows import Status
from patchwarden.pipeline.windows.records import NewTaskExecution, TaskExecution


def task_state(row: WindowTaskExecution) -> TaskState:
    """The task execution's state, as stored."""
    return TaskState(
        status=Status(row.status),
        waves=tuple(tuple(wave) for wave in row.waves),
        error_limit=row.error_limit,
        wave=row.wave,
        phase=row.phase,
        errors=row.errors,
        not_before=row.not_before,
        started_at=row.started_at,
        ended_at=row.ended_at,
        details=row.status_details,
    )


def task_record(row: WindowTaskExecution) -> TaskExecution:
    """The row as a plain value."""
    return TaskExecution(row.id, row.execution_id, row.task_name, row.priority, task_state(row))


def tasks_of(session: Session, execution_id: str) -> list[WindowTaskExecution]:
    """The execution's task rows by priority, then name."""
    return list(
        session.scalars(
            select(WindowTaskExecution)
            .where(WindowTaskExecution.execution_id == execution_id)
            .order_by(WindowTaskExecution.priority, WindowTaskExecution.task_name)
        )
    )


class SqlTaskExecutions:
    """The task executions of a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, task: NewTaskExecution) -> None:
        """Store a PENDING task execution."""
        self._session.add(
            WindowTaskExecution(
                id=new_uuid(),
                execution_id=task.execution_id,
                task_name=task.task_name,
                priority=task.priority,
                status=Status.PENDING,
                status_details="",
                waves=[list(wave) for wave in task.waves],
                error_limit=task.error_limit,
            )
        )
        self._session.flush()

    def of(self, execution_id: str) -> list[TaskExecution]:
        """The execution's tasks by priority, then name."""
        return [task_record(row) for row in tasks_of(self._session, execution_id)]

    def save(self, task_id: str, state: TaskState) -> None:
        """Write what changed of the state back to the row (waves and MaxErrors never do)."""
        row = self._session.get(WindowTaskExecution, task_id)
        assert row is not None, task_id
        values: dict[str, Any] = {
            "status": state.status,
            "status_details": state.details,
            "wave": state.wave,
            "phase": state.phase,
            "errors": state.errors,
            "not_before": state.not_before,
            "started_at": state.started_at,
            "ended_at": state.ended_at,
        }
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
