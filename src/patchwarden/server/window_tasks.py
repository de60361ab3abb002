"""One task of a window execution, stepped by the scheduler: waves, phases (pre-hook, task,
post-hook), MaxErrors across waves, pauses and the cutoff.

Every wave phase is an ordinary rate-controlled RunPatchBaseline command
(:func:`patchwarden.server.commands.send`), linked through ``window_task_commands``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage import dispatch
from patchwarden.adapters.storage.tables import (
    Command,
    Invocation,
    WindowExecution,
    WindowTaskCommand,
    WindowTaskExecution,
)
from patchwarden.core import waves, windows
from patchwarden.core.rollout import CommandStatus, InvocationStatus
from patchwarden.core.windows import Status
from patchwarden.documents.window import TaskSpec
from patchwarden.server.command_schema import RunParameters, SendCommand
from patchwarden.server.commands import send
from patchwarden.server.window_snapshot import pin

ACTOR = "scheduler"


def phases(task: TaskSpec) -> list[int]:
    """The phases the task has: 0 pre-hook, 1 task, 2 post-hook."""
    return [i for i, h in enumerate((task.PreHook, 1, task.PostHook)) if h is not None]


def _parameters(
    task: TaskSpec, phase: int, execution: WindowExecution, row: WindowTaskExecution
) -> dict[str, Any]:
    hook = {0: task.PreHook, 2: task.PostHook}.get(phase)
    raw = hook.Parameters if hook else task.run_command.Parameters
    values = {
        "WINDOW_ID": execution.window_id,
        "WINDOW_TASK_ID": task.Name,
        "WINDOW_TARGET_ID": execution.window_id,
        "WINDOW_EXECUTION_ID": execution.id,
        "TASK_EXECUTION_ID": row.id,
        "TARGET_TYPE": "INSTANCE",
    }
    params: dict[str, Any] = windows.substitute(dict(raw), values)
    if not params.get("SnapshotId"):  # one baseline snapshot for the whole execution
        params["SnapshotId"] = execution.id
    return params


def _link(session: Session, row: WindowTaskExecution) -> WindowTaskCommand | None:
    return session.get(WindowTaskCommand, (row.id, row.wave, row.phase))


def _succeeded(session: Session, command_id: str) -> set[str]:
    return set(
        session.scalars(
            select(Invocation.node_id).where(
                Invocation.command_id == command_id,
                Invocation.status == InvocationStatus.SUCCESS,
            )
        )
    )


def _dispatch(
    session: Session,
    task: TaskSpec,
    execution: WindowExecution,
    row: WindowTaskExecution,
    nodes: list[str],
    now: datetime,
    window_end: datetime,
) -> None:
    budget = waves.error_budget(row.error_limit, row.errors)
    assert budget is not None
    total = sum(len(w) for w in row.waves)
    timeout = task.run_command.TimeoutSeconds
    if timeout is None:  # a node that never shows up during the window: Delivery Timed Out
        timeout = max(30, int((window_end - now).total_seconds()))
    params = _parameters(task, row.phase, execution, row)
    snapshot = "" if params.get("BaselineOverride") else params.pop("SnapshotId")
    body = SendCommand.model_construct(
        DocumentName=task.TaskArn,
        Parameters=RunParameters.model_validate(params),
        InstanceIds=nodes,
        Targets=[],
        MaxConcurrency=waves.wave_concurrency(task.concurrency, len(nodes), total),
        MaxErrors=str(budget),
        TimeoutSeconds=timeout,
        ExecutionTimeoutSeconds=7200,
        Comment=f"{execution.id[:8]} {task.Name} wave {row.wave + 1}"[:100],
    )
    cmd = send(session, body, ACTOR, now)
    if snapshot:  # send left the baselines to delivery: pin the execution's snapshot
        pin(session, execution, cmd, snapshot)
    session.add(
        WindowTaskCommand(
            task_execution_id=row.id, wave=row.wave, phase=row.phase, command_id=cmd.id
        )
    )


def end_task(row: WindowTaskExecution, status: Status, details: str, now: datetime) -> None:
    """Close a task execution with its final status and details (≤250 characters, as AWS)."""
    row.status, row.status_details, row.ended_at = status, details[:250], now


def ended_before_start(
    execution: WindowExecution, row: WindowTaskExecution, now: datetime, cutoff: datetime
) -> bool:
    """For a PENDING task: end it (and say so) when the execution is being cancelled, the
    cutoff has passed, or no target resolved; shared by every task type."""
    if execution.status == Status.CANCELLING:
        end_task(row, Status.CANCELLED, "cancelled before it started", now)
    elif now >= cutoff:
        end_task(row, Status.TIMED_OUT, "cutoff reached before the task started", now)
    elif not row.waves:
        end_task(row, Status.FAILED, "no targets resolved at execution time", now)
    else:
        return False
    return True


def _next_phase(
    session: Session, task: TaskSpec, row: WindowTaskExecution, cmd: Command, now: datetime
) -> list[str]:
    """Move past a finished phase; the nodes the next phase runs on."""
    order = phases(task)
    later = [p for p in order if p > row.phase]
    survivors = sorted(_succeeded(session, cmd.id))
    if later and survivors:
        row.phase = later[0]
        return survivors
    row.wave, row.phase = row.wave + 1, order[0]
    if task.PauseBetweenWavesSeconds and row.wave < len(row.waves):
        row.not_before = now + timedelta(seconds=task.PauseBetweenWavesSeconds)
    return []


def step(
    session: Session,
    execution: WindowExecution,
    row: WindowTaskExecution,
    task: TaskSpec,
    now: datetime,
    timing: windows.Timing,
) -> None:
    """Advance one task as far as it can go now."""
    cutoff = timing.cutoff_at(execution.scheduled_for)
    cancelling = execution.status == Status.CANCELLING
    if row.status == Status.PENDING:
        if ended_before_start(execution, row, now, cutoff):
            return None
        row.status, row.started_at, row.phase = Status.IN_PROGRESS, now, phases(task)[0]
    nodes: list[str] = []
    for _ in range(3 * len(row.waves) + 3):  # each pass finishes a phase or returns
        link = _link(session, row)
        if link is not None:
            cmd = dispatch.lock_command(session, link.command_id)
            assert cmd is not None
            stop_now = cancelling or (task.CutoffBehavior == "CANCEL_TASK" and now >= cutoff)
            if stop_now and not CommandStatus(cmd.status).terminal:
                cmd.cancel_requested = True
            dispatch.refresh(session, cmd, now)
            if not CommandStatus(cmd.status).terminal:
                return None
            row.errors += cmd.error_count
            if cmd.cancel_requested:
                if cancelling:
                    return end_task(row, Status.CANCELLED, "window execution cancelled", now)
                if stop_now:
                    return end_task(
                        row, Status.TIMED_OUT, "cutoff reached: cancelled (CANCEL_TASK)", now
                    )
                return end_task(row, Status.CANCELLED, f"command {cmd.id} was cancelled", now)
            if waves.error_budget(row.error_limit, row.errors) is None:
                return end_task(
                    row,
                    Status.FAILED,
                    f"MaxErrors exceeded: {row.errors} errors (limit {row.error_limit}); "
                    f"stopped after wave {row.wave + 1} of {len(row.waves)}",
                    now,
                )
            nodes = _next_phase(session, task, row, cmd, now)
            continue
        if row.wave >= len(row.waves):
            if row.errors:
                return end_task(row, Status.FAILED, f"{row.errors} errors within MaxErrors", now)
            return end_task(row, Status.SUCCESS, f"{len(row.waves)} waves", now)
        if not nodes:  # a new wave
            if cancelling:
                return end_task(row, Status.CANCELLED, "window execution cancelled", now)
            if now >= cutoff:
                return end_task(
                    row,
                    Status.TIMED_OUT,
                    f"cutoff reached: waves {row.wave + 1}-{len(row.waves)} not started",
                    now,
                )
            if row.not_before is not None and now < row.not_before:
                return None
            nodes = list(row.waves[row.wave])
        _dispatch(session, task, execution, row, nodes, now, timing.end_at(execution.scheduled_for))
        session.flush()
        return None
    return None
