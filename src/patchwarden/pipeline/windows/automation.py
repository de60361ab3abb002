"""AUTOMATION tasks of a window execution: runbook executions (:class:`RunbookStarter`),
one per target node, or one without a node for a targetless task (``Targets: []``).

Rate control (waves, MaxConcurrency, MaxErrors over the whole task, the cutoff) is the pure
machine's (:mod:`patchwarden.core.window_machine.automation`); this use case reads the
runbook executions' statuses, starts the ones the machine asks for and stores the task's
state.  A runbook execution belongs to its task execution through its creator
(:func:`~patchwarden.pipeline.windows.parameters.runbook_actor`); the governance loop
advances it, this use case only starts it and reads its status.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from patchwarden.core import window_machine as machine
from patchwarden.core.rollout import InvocationStatus
from patchwarden.core.windows import Status, Timing
from patchwarden.documents.window import TaskSpec
from patchwarden.errors import InputError
from patchwarden.pipeline.governance.records import ACTIVE
from patchwarden.pipeline.windows.context import WindowPorts
from patchwarden.pipeline.windows.parameters import runbook_actor, runbook_parameters
from patchwarden.pipeline.windows.ports import RunbookStarter
from patchwarden.pipeline.windows.records import ExecutionRecord, TaskExecution
from patchwarden.pipeline.windows.tasks import config, facts

SUCCESS = "Success"


def run_status(status: str) -> InvocationStatus:
    """A runbook execution's status as the machine counts it."""
    if status in ACTIVE:
        return InvocationStatus.IN_PROGRESS
    if status == SUCCESS:
        return InvocationStatus.SUCCESS
    return InvocationStatus.FAILED  # Failed, TimedOut, Cancelled…


def _start(
    starter: RunbookStarter,
    task: TaskSpec,
    execution: ExecutionRecord,
    task_id: str,
    action: machine.StartRuns,
    now: datetime,
) -> str | None:
    """Start the runbook executions ``action`` names; why one was refused, if so."""
    failed = 0
    for node in action.node_ids:
        parameters = runbook_parameters(task, execution, task_id, node)
        try:
            status = starter.start(task.TaskArn, parameters, now, runbook_actor(task_id, node))
        except InputError as exc:
            return str(exc)
        failed += run_status(status) is InvocationStatus.FAILED
        if failed > action.max_errors:
            break  # the (N+1)-th failure: no further start
    return None


def step(
    ports: WindowPorts,
    execution: ExecutionRecord,
    task_execution: TaskExecution,
    task: TaskSpec,
    now: datetime,
    timing: Timing,
) -> machine.TaskState:
    """Advance one AUTOMATION task as far as it can go now (idempotent; resumable)."""
    state, settings = task_execution.state, config(task)
    known = facts(execution, timing)
    if state.status == Status.PENDING:
        known = replace(known, runbook_exists=ports.runbooks.exists(task.TaskArn))
    prefix = runbook_actor(task_execution.id, "")
    for _ in range(machine.passes(state)):
        started = {node: run_status(s) for node, s in ports.runbooks.statuses(prefix).items()}
        move = machine.step(settings, state, replace(known, runs=started), now)
        state = move.state
        ports.tasks.save(task_execution.id, state)
        for action in move.actions:
            if isinstance(action, machine.StartRuns):
                failure = _start(ports.starter, task, execution, task_execution.id, action, now)
                known = replace(known, start_failure=failure)
        if not move.again:
            break
    return state
