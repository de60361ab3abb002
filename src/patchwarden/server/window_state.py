"""Between task-execution rows and the pure window-task machine
(:mod:`patchwarden.core.window_machine`): the task's configuration from its document, its
state from (and back to) its row, and the facts every task type shares."""

from __future__ import annotations

from typing import Any

from patchwarden.adapters.storage.tables import WindowExecution, WindowTaskExecution
from patchwarden.core import window_machine as machine
from patchwarden.core.windows import Status, Timing
from patchwarden.documents.window import TaskSpec


def config(task: TaskSpec) -> machine.TaskConfig:
    """What the machine needs of the task's document."""
    run_command = task.TaskInvocationParameters.RunCommand
    concurrency = task.concurrency
    return machine.TaskConfig(
        task_type=task.TaskType,
        task_arn=task.TaskArn,
        concurrency=concurrency if isinstance(concurrency, str) else tuple(concurrency),
        cutoff_behavior=task.CutoffBehavior,
        pause_seconds=task.PauseBetweenWavesSeconds,
        timeout_seconds=run_command.TimeoutSeconds if run_command else None,
        pre_hook=task.PreHook is not None,
        post_hook=task.PostHook is not None,
    )


def load(row: WindowTaskExecution) -> machine.TaskState:
    """The task execution's state, as stored."""
    return machine.TaskState(
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


def store(row: WindowTaskExecution, state: machine.TaskState) -> None:
    """Write what changed of the state back to the row (waves and MaxErrors never do)."""
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


def facts(execution: WindowExecution, timing: Timing) -> machine.Facts:
    """What every task of the execution shares in this tick: the window's cutoff and end,
    and whether the execution is being cancelled."""
    return machine.Facts(
        cutoff_at=timing.cutoff_at(execution.scheduled_for),
        end_at=timing.end_at(execution.scheduled_for),
        cancelling=execution.status == Status.CANCELLING,
    )
