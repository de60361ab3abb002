"""AUTOMATION tasks of a window execution: runbook executions started through the governance
runner (:func:`patchwarden.server.governance.runner.start`), one per target node, or one
without a node for a targetless task (``Targets: []``).

Rate control reuses the RUN_COMMAND semantics: the task's waves (:func:`waves.plan`; a plain
MaxConcurrency is one wave of every target) start at most the wave's concurrency of runbook
executions at once (:func:`rollout.allowance`), and MaxErrors counts over the whole task: the
(N+1)-th failed runbook execution stops new ones from starting (running ones finish), and the
task ends ``FAILED``.  The cutoff starts no new execution; ``CANCEL_TASK`` ends the task
``TIMED_OUT`` at once (running executions are not cancelled, as AWS), ``CONTINUE_TASK`` lets
the running ones finish first.

A runbook execution belongs to a task execution through its ``created_by``:
``window:<task execution id>:<node id>`` (no schema change).  The governance loop advances
runbook executions that wait (commands, approvals, timers); this module only starts them and
reads their statuses.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.governance_tables import RunbookExecutionRow, RunbookRow
from patchwarden.adapters.storage.tables import WindowExecution, WindowTaskExecution
from patchwarden.core import rollout, waves, windows
from patchwarden.core.windows import Status
from patchwarden.documents.window import TaskSpec
from patchwarden.errors import InputError
from patchwarden.server.governance import runner
from patchwarden.server.window_tasks import end_task, ended_before_start

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


def _active(run: RunbookExecutionRow) -> bool:
    return run.status in runner.ACTIVE


def _as_invocation(run: RunbookExecutionRow | None) -> rollout.Invocation:
    if run is None:
        return rollout.Invocation(rollout.InvocationStatus.PENDING)
    if _active(run):
        return rollout.Invocation(rollout.InvocationStatus.IN_PROGRESS)
    if run.status == SUCCESS:
        return rollout.Invocation(rollout.InvocationStatus.SUCCESS)
    return rollout.Invocation(rollout.InvocationStatus.FAILED)  # Failed, TimedOut, Cancelled…


def step(
    session: Session,
    execution: WindowExecution,
    row: WindowTaskExecution,
    task: TaskSpec,
    now: datetime,
    timing: windows.Timing,
) -> None:
    """Advance one AUTOMATION task as far as it can go now (idempotent; resumable)."""
    cutoff = timing.cutoff_at(execution.scheduled_for)
    cancelling = execution.status == Status.CANCELLING
    if row.status == Status.PENDING:
        if ended_before_start(execution, row, now, cutoff):
            return None
        if session.get(RunbookRow, task.TaskArn) is None:
            return end_task(
                row,
                Status.FAILED,
                f"runbook {task.TaskArn!r} does not exist (deleted after the window was applied)",
                now,
            )
        row.status, row.started_at, row.phase = Status.IN_PROGRESS, now, 1
    total = sum(len(w) for w in row.waves)
    for _ in range(total + len(row.waves) + 2):  # each pass starts something or returns
        started = runs(session, row)
        running = [r for r in started.values() if _active(r)]
        row.errors = sum(not _active(r) and r.status != SUCCESS for r in started.values())
        while row.wave < len(row.waves) and all(
            n in started and not _active(started[n]) for n in row.waves[row.wave]
        ):
            row.wave += 1
            if task.PauseBetweenWavesSeconds and row.wave < len(row.waves):
                row.not_before = now + timedelta(seconds=task.PauseBetweenWavesSeconds)
        if waves.error_budget(row.error_limit, row.errors) is None:
            if running:
                return None  # in-flight executions finish; no new one starts
            return end_task(
                row,
                Status.FAILED,
                f"MaxErrors exceeded: {row.errors} failed runbook executions "
                f"(limit {row.error_limit}); {len(started)} of {total} started",
                now,
            )
        if cancelling:
            busy = f"; {len(running)} runbook executions still running" if running else ""
            return end_task(row, Status.CANCELLED, "window execution cancelled" + busy, now)
        if row.wave >= len(row.waves):
            if row.errors:
                return end_task(
                    row,
                    Status.FAILED,
                    f"{row.errors} of {total} runbook executions failed (within MaxErrors)",
                    now,
                )
            return end_task(row, Status.SUCCESS, f"{total} runbook executions succeeded", now)
        if now >= cutoff:
            if running and task.CutoffBehavior == "CONTINUE_TASK":
                return None
            busy = f", {len(running)} still running" if running else ""
            return end_task(
                row,
                Status.TIMED_OUT,
                f"cutoff reached: {total - len(started)} runbook executions not started{busy}",
                now,
            )
        if row.not_before is not None and now < row.not_before:
            return None
        wave = row.waves[row.wave]
        concurrency = int(waves.wave_concurrency(task.concurrency, len(wave), total))
        states = [_as_invocation(started.get(n)) for n in wave]
        earlier = row.errors - sum(s.is_error for s in states)  # errors of earlier waves
        allowed = rollout.allowance(states, concurrency, row.error_limit - earlier)
        todo = [n for n in wave if n not in started][:allowed]
        if not todo:
            return None
        for node in todo:
            try:
                run = runner.start(
                    session,
                    task.TaskArn,
                    _parameters(task, execution, row, node),
                    now,
                    actor(row, node),
                )
            except InputError as exc:
                return end_task(row, Status.FAILED, f"runbook {task.TaskArn!r}: {exc}", now)
            session.flush()
            if not _active(run) and run.status != SUCCESS:
                row.errors += 1
                if waves.error_budget(row.error_limit, row.errors) is None:
                    break  # the (N+1)-th failure: no further start
    return None
