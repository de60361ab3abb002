"""A window execution, advanced by the scheduler: started when PENDING, its tasks stepped
by priority (lower first; equal priorities in parallel; the next level when the previous
one has finished), and its final status once every task has ended."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from patchwarden.core import window_machine as machine
from patchwarden.core.events import window_finished
from patchwarden.core.window_machine.model import MAX_DETAILS
from patchwarden.core.windows import Status
from patchwarden.documents.window import spec_of, timing
from patchwarden.pipeline.events import NO_EVENTS, Events
from patchwarden.pipeline.windows import automation, run_command
from patchwarden.pipeline.windows.context import WindowPorts
from patchwarden.pipeline.windows.ports import ExecutionRepository
from patchwarden.pipeline.windows.records import ExecutionRecord
from patchwarden.pipeline.windows.start import start


def advance(ports: WindowPorts, execution: ExecutionRecord, now: datetime) -> ExecutionRecord:
    """Move the execution forward as far as it can go now (idempotent; resumable)."""
    if execution.status.terminal:
        return execution
    spec = spec_of(execution.document["spec"])
    if execution.status == Status.PENDING:
        execution = start(ports, execution, spec, now)
    tasks = ports.tasks.of(execution.id)
    specs = {t.Name: t for t in spec.Tasks}
    window_timing = timing(spec)
    stepped: set[int] = set()
    while due := machine.to_step([(t.priority, t.state.status) for t in tasks], stepped):
        for index in due:
            current, task = tasks[index], specs[tasks[index].task_name]
            run = automation.step if task.TaskType == machine.AUTOMATION else run_command.step
            state = run(ports, execution, current, task, now, window_timing)
            tasks[index] = replace(current, state=state)
            stepped.add(index)
    if due is not None:
        return execution  # a priority level is still running
    cancelled = execution.status == Status.CANCELLING
    status, details = machine.final([t.state.status for t in tasks], cancelled)
    ended = replace(execution, status=status, status_details=details, ended_at=now)
    ports.executions.save(ended)
    _finished(ports.events, ended, now)
    return ended


def _finished(events: Events, ended: ExecutionRecord, now: datetime) -> None:
    events.emit(
        window_finished(now, ended.window_name, ended.id, ended.status.value, ended.status_details)
    )


def run_execution(ports: WindowPorts, execution_id: str, now: datetime, replica: str) -> bool:
    """Advance one execution if this replica gets its lock and it has not ended."""
    if not ports.executions.try_lock(execution_id):
        return False
    execution = ports.executions.get(execution_id)
    if execution is None or execution.status.terminal:
        return False
    execution = replace(execution, claimed_by=replica)
    ports.executions.save(execution)
    advance(ports, execution, now)
    return True


def fail_execution(
    executions: ExecutionRepository,
    execution_id: str,
    now: datetime,
    details: str,
    events: Events = NO_EVENTS,
) -> None:
    """End an execution that cannot advance as FAILED (its running commands finish)."""
    execution = executions.get(execution_id, lock=True)
    if execution is not None and not execution.status.terminal:
        failed = replace(
            execution, status=Status.FAILED, ended_at=now, status_details=details[:MAX_DETAILS]
        )
        executions.save(failed)
        _finished(events, failed, now)
