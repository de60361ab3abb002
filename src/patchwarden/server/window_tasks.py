"""One RUN_COMMAND task of a window execution, stepped by the scheduler.

The decisions (waves, phases, MaxErrors across waves, pauses, the cutoff) are the pure
machine's (:mod:`patchwarden.core.window_machine`); this module reads the command of the
current wave phase, performs the machine's actions and stores the task's state.  Every wave
phase is an ordinary rate-controlled RunPatchBaseline command
(:func:`patchwarden.server.commands.send`), linked through ``window_task_commands``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
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
from patchwarden.core import window_machine as machine
from patchwarden.core import windows
from patchwarden.core.rollout import CommandStatus, InvocationStatus
from patchwarden.core.window_machine import Phase
from patchwarden.documents.window import TaskSpec
from patchwarden.server.command_schema import RunParameters, SendCommand
from patchwarden.server.commands import send
from patchwarden.server.window_snapshot import pin
from patchwarden.server.window_state import config, facts, load, store

ACTOR = "scheduler"


def _parameters(
    task: TaskSpec, phase: int, execution: WindowExecution, row: WindowTaskExecution
) -> dict[str, Any]:
    hook = {Phase.PRE_HOOK: task.PreHook, Phase.POST_HOOK: task.PostHook}.get(Phase(phase))
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


def _lock(session: Session, row: WindowTaskExecution) -> Command | None:
    """The command of the row's current (wave, phase), locked; None when not sent yet."""
    link = session.get(WindowTaskCommand, (row.id, row.wave, row.phase))
    if link is None:
        return None
    cmd = dispatch.lock_command(session, link.command_id)
    assert cmd is not None
    return cmd


def _view(session: Session, cmd: Command, *, refreshed: bool) -> machine.PhaseCommand:
    terminal = CommandStatus(cmd.status).terminal
    succeeded: tuple[str, ...] = ()
    if refreshed and terminal and not cmd.cancel_requested:
        succeeded = tuple(
            session.scalars(
                select(Invocation.node_id).where(
                    Invocation.command_id == cmd.id,
                    Invocation.status == InvocationStatus.SUCCESS,
                )
            )
        )
    return machine.PhaseCommand(
        command_id=cmd.id,
        terminal=terminal,
        cancel_requested=cmd.cancel_requested,
        error_count=cmd.error_count,
        succeeded=succeeded,
        refreshed=refreshed,
    )


def _send(
    session: Session,
    task: TaskSpec,
    execution: WindowExecution,
    row: WindowTaskExecution,
    action: machine.SendPhase,
    now: datetime,
) -> None:
    params = _parameters(task, action.phase, execution, row)
    snapshot = "" if params.get("BaselineOverride") else params.pop("SnapshotId")
    body = SendCommand.model_construct(
        DocumentName=task.TaskArn,
        Parameters=RunParameters.model_validate(params),
        InstanceIds=list(action.node_ids),
        Targets=[],
        MaxConcurrency=action.max_concurrency,
        MaxErrors=action.max_errors,
        TimeoutSeconds=action.timeout_seconds,
        ExecutionTimeoutSeconds=7200,
        Comment=f"{execution.id[:8]} {task.Name} wave {action.wave + 1}"[:100],
    )
    cmd = send(session, body, ACTOR, now)
    if snapshot:  # send left the baselines to delivery: pin the execution's snapshot
        pin(session, execution, cmd, snapshot)
    session.add(
        WindowTaskCommand(
            task_execution_id=row.id, wave=action.wave, phase=action.phase, command_id=cmd.id
        )
    )
    session.flush()


def step(
    session: Session,
    execution: WindowExecution,
    row: WindowTaskExecution,
    task: TaskSpec,
    now: datetime,
    timing: windows.Timing,
) -> None:
    """Advance one RUN_COMMAND task as far as it can go now."""
    state, settings = load(row), config(task)
    cmd = _lock(session, row)
    known = facts(execution, timing)
    if cmd is not None:
        known = replace(known, command=_view(session, cmd, refreshed=False))
    for _ in range(machine.passes(state)):
        move = machine.step(settings, state, known, now)
        state = move.state
        store(row, state)
        for action in move.actions:
            if isinstance(action, machine.Refresh):
                assert cmd is not None and cmd.id == action.command_id
                if action.cancel:
                    cmd.cancel_requested = True
                dispatch.refresh(session, cmd, now)
                known = replace(known, command=_view(session, cmd, refreshed=True))
            elif isinstance(action, machine.SendPhase):
                _send(session, task, execution, row, action, now)
        if not move.again:
            return
