"""One RUN_COMMAND task of a window execution, stepped by the scheduler.

The decisions (waves, phases, MaxErrors across waves, pauses, the cutoff) are the pure
machine's (:mod:`patchwarden.core.window_machine`); this use case reads the command of the
current wave phase, performs the machine's actions and stores the task's state.  Every wave
phase is an ordinary rate-controlled RunPatchBaseline command (:class:`CommandSender`),
linked to its (wave, phase) of the task.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from patchwarden.core import window_machine as machine
from patchwarden.core.windows import Timing
from patchwarden.documents.window import TaskSpec
from patchwarden.pipeline.windows.context import WindowPorts
from patchwarden.pipeline.windows.parameters import phase_request
from patchwarden.pipeline.windows.records import ExecutionRecord, TaskExecution
from patchwarden.pipeline.windows.snapshot import pin
from patchwarden.pipeline.windows.tasks import config, facts


def send_phase(
    ports: WindowPorts,
    task: TaskSpec,
    execution: ExecutionRecord,
    task_id: str,
    action: machine.SendPhase,
    at: datetime,
) -> str:
    """Send the phase ``action`` names, pin the execution's snapshot on it (unless it has
    a BaselineOverride) and link it to the task; the command's id."""
    request, snapshot = phase_request(task, execution, task_id, action)
    command_id = ports.sender.send(request, at)
    if snapshot:  # the command left the baselines to delivery: pin the execution's snapshot
        pin(ports.snapshots, ports.baselines, execution.id, command_id, snapshot)
    ports.phases.link(task_id, action.wave, action.phase, command_id)
    return command_id


def step(
    ports: WindowPorts,
    execution: ExecutionRecord,
    task_execution: TaskExecution,
    task: TaskSpec,
    now: datetime,
    timing: Timing,
) -> machine.TaskState:
    """Advance one RUN_COMMAND task as far as it can go now; its state after."""
    state, settings = task_execution.state, config(task)
    command = ports.phases.lock(task_execution.id, state.wave, state.phase)
    known = replace(facts(execution, timing), command=command)
    for _ in range(machine.passes(state)):
        move = machine.step(settings, state, known, now)
        state = move.state
        ports.tasks.save(task_execution.id, state)
        for action in move.actions:
            if isinstance(action, machine.Refresh):
                assert command is not None and command.command_id == action.command_id
                refreshed = ports.phases.refresh(action.command_id, now, cancel=action.cancel)
                known = replace(known, command=refreshed)
            elif isinstance(action, machine.SendPhase):
                send_phase(ports, task, execution, task_execution.id, action, now)
        if not move.again:
            break
    return state
