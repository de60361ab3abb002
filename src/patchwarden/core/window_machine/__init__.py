"""Window task execution as a pure state machine (reference §5).

:func:`step` turns a task execution's state, the facts of one tick and ``now`` into its
next state and the actions to perform: send a wave phase's command (:class:`SendPhase`),
refresh or cancel it (:class:`Refresh`), start runbook executions (:class:`StartRuns`).
A task ends when its state turns terminal.  The server reads the facts, performs the
actions and stores the state; when a transition asks to go ``again`` it reads the facts
anew and steps once more in the same tick.

- RUN_COMMAND tasks: :mod:`~patchwarden.core.window_machine.run_command`;
- AUTOMATION tasks: :mod:`~patchwarden.core.window_machine.automation`;
- the execution over its tasks (priorities, final status):
  :mod:`~patchwarden.core.window_machine.execution`.
"""

from __future__ import annotations

from datetime import datetime

from patchwarden.core.window_machine import automation, run_command
from patchwarden.core.window_machine.common import begin
from patchwarden.core.window_machine.execution import final, reboots, to_step
from patchwarden.core.window_machine.model import (
    AUTOMATION,
    CANCEL_TASK,
    CONTINUE_TASK,
    RUN_COMMAND,
    Action,
    Facts,
    Phase,
    PhaseCommand,
    Refresh,
    SendPhase,
    StartRuns,
    TaskConfig,
    TaskState,
    Transition,
)
from patchwarden.core.windows import Status


def step(config: TaskConfig, state: TaskState, facts: Facts, now: datetime) -> Transition:
    """The task's next state and actions in this tick (an ended task stays as it is)."""
    if state.status.terminal:
        return Transition(state)
    if state.status == Status.PENDING:
        started = begin(config, state, facts, now)
        if started.state.status.terminal:
            return started
        state = started.state
    if config.task_type == AUTOMATION:
        return automation.step(config, state, facts, now)
    return run_command.step(config, state, facts, now)


def passes(state: TaskState) -> int:
    """How many times at most one tick steps a task (each ``again`` makes progress)."""
    return 3 * len(state.waves) + state.total + 3


__all__ = [
    "AUTOMATION",
    "CANCEL_TASK",
    "CONTINUE_TASK",
    "RUN_COMMAND",
    "Action",
    "Facts",
    "Phase",
    "PhaseCommand",
    "Refresh",
    "SendPhase",
    "StartRuns",
    "TaskConfig",
    "TaskState",
    "Transition",
    "final",
    "passes",
    "reboots",
    "step",
    "to_step",
]
