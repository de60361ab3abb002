"""AUTOMATION tasks of a window execution: runbook executions started through the governance
runner (:func:`patchwarden.server.governance.runner.start`), one per target node, or one
without a node for a targetless task (``Targets: []``).

Rate control (waves, MaxConcurrency, MaxErrors over the whole task, the cutoff) is the pure
machine's (:mod:`patchwarden.core.window_machine.automation`); this module reads the
runbook executions' statuses, starts the ones the machine asks for and stores the task's
state.

A runbook execution belongs to a task execution through its ``created_by``:
``window:<task execution id>:<node id>`` (no schema change).  The governance loop advances
runbook executions that wait (commands, approvals, timers); this module only starts them and
reads their statuses.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.governance_tables import RunbookExecutionRow, RunbookRow
from patchwarden.adapters.storage.tables import WindowExecution, WindowTaskExecution
from patchwarden.core import window_machine as machine
from patchwarden.core import windows
from patchwarden.core.rollout import InvocationStatus
from patchwarden.core.windows import Status
from patchwarden.documents.window import TaskSpec
from patchwarden.errors import InputError
from patchwarden.server.governance import runner
from patchwarden.server.window_state import config, facts, load, store

TARGETLESS = ""
"""The single "node" of a targetless task's only wave."""
SUCCESS = "Success"


def actor(row: WindowTaskExecution, node: str) -> str:
    """``created_by`` of the runbook execution of ``node`` in task execution ``row``."""
    return f"window:{row.id}:{node}"


def runs(session: Session, row: WindowTaskExecution) -> dict[str, RunbookExecutionRow]:
    """The runbook executions the task execution started, by node id."""
    prefix = actor(row, "")
    found = session.scalars(
        select(RunbookExecutionRow)
        .where(RunbookExecutionRow.created_by.startswith(prefix, autoescape=True))
        .order_by(RunbookExecutionRow.started_at)
    )
    return {r.created_by[len(prefix) :]: r for r in found}


def runs_view(session: Session, row: WindowTaskExecution) -> list[dict[str, Any]]:
    """The runbook executions of a task execution, as the API shows them."""
    return [
        {
            "node_id": node or None,
            "runbook_execution_id": r.id,
            "runbook": r.runbook,
            "status": r.status,
            "start_time": r.started_at,
            "end_time": r.ended_at,
        }
        for node, r in runs(session, row).items()
    ]


def _parameters(
    task: TaskSpec, execution: WindowExecution, row: WindowTaskExecution, node: str
) -> dict[str, Any]:
    values = {
        "WINDOW_ID": execution.window_id,
        "WINDOW_TASK_ID": task.Name,
        "WINDOW_TARGET_ID": execution.window_id,
        "WINDOW_EXECUTION_ID": execution.id,
        "TASK_EXECUTION_ID": row.id,
        "TARGET_TYPE": "INSTANCE",
    }
    if node != TARGETLESS:
        values |= {"TARGET_ID": node, "RESOURCE_ID": node}
    params: dict[str, Any] = windows.substitute(dict(task.automation.Parameters), values)
    return params


def _status(run: RunbookExecutionRow) -> InvocationStatus:
    """A runbook execution's status as the machine counts it."""
    if run.status in runner.ACTIVE:
        return InvocationStatus.IN_PROGRESS
    if run.status == SUCCESS:
        return InvocationStatus.SUCCESS
    return InvocationStatus.FAILED  # Failed, TimedOut, Cancelled…


def _start(
    session: Session,
    task: TaskSpec,
    execution: WindowExecution,
    row: WindowTaskExecution,
    action: machine.StartRuns,
    now: datetime,
) -> str | None:
    """Start the runbook executions ``action`` names; why the runner refused one, if so."""
    failed = 0
    for node in action.node_ids:
        parameters = _parameters(task, execution, row, node)
        try:
            run = runner.start(session, task.TaskArn, parameters, now, actor(row, node))
        except InputError as exc:
            return str(exc)
        session.flush()
        failed += _status(run) is InvocationStatus.FAILED
        if failed > action.max_errors:
            break  # the (N+1)-th failure: no further start
    return None


def step(
    session: Session,
    execution: WindowExecution,
    row: WindowTaskExecution,
    task: TaskSpec,
    now: datetime,
    timing: windows.Timing,
) -> None:
    """Advance one AUTOMATION task as far as it can go now (idempotent; resumable)."""
    state, settings = load(row), config(task)
    known = facts(execution, timing)
    if state.status == Status.PENDING:
        known = replace(known, runbook_exists=session.get(RunbookRow, task.TaskArn) is not None)
    for _ in range(machine.passes(state)):
        started = {node: _status(run) for node, run in runs(session, row).items()}
        move = machine.step(settings, state, replace(known, runs=started), now)
        state = move.state
        store(row, state)
        for action in move.actions:
            if isinstance(action, machine.StartRuns):
                failure = _start(session, task, execution, row, action, now)
                known = replace(known, start_failure=failure)
        if not move.again:
            return
