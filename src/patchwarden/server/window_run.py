"""A window execution, advanced by the scheduler: targets resolved at execution time, tasks
by priority (lower first; equal priorities in parallel; the next level when the previous
one has finished), and the execution's final status."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.nodes import ping_status
from patchwarden.adapters.storage.secrets import new_uuid
from patchwarden.adapters.storage.tables import Node, WindowExecution, WindowTaskExecution
from patchwarden.core import rollout, waves
from patchwarden.core.windows import Status
from patchwarden.documents.window import TargetSpec, TaskSpec, WindowSpec, spec_of, timing
from patchwarden.server import window_automation
from patchwarden.server.command_schema import SendCommand, Target
from patchwarden.server.commands import target_nodes
from patchwarden.server.window_automation import TARGETLESS
from patchwarden.server.window_tasks import step

ONLINE_SECONDS = 300
"""A node that checked in within this many seconds counts as Online (the server default)."""


def resolve(session: Session, targets: list[TargetSpec]) -> list[Node]:
    """The registered nodes the targets select now (keys AND-ed, values OR-ed)."""
    body = SendCommand.model_construct(
        InstanceIds=[],
        Targets=[Target.model_construct(Key=t.Key, Values=list(t.Values)) for t in targets],
    )
    return target_nodes(session, body)


def _reboots(task: TaskSpec) -> bool:
    if task.TaskType != "RUN_COMMAND":
        return False
    params = task.run_command.Parameters
    operation = params.get("Operation")
    option = params.get("RebootOption", "RebootIfNeeded")
    return operation in ("Install", ["Install"]) and option not in ("NoReboot", ["NoReboot"])


def _plan(task: TaskSpec, nodes: list[Node]) -> list[list[str]]:
    cap = task.RebootCoordination.MaxRebootingPerGroup if task.RebootCoordination else None
    targets = [waves.Target(n.id, n.patch_group) for n in nodes]
    return waves.plan(targets, task.concurrency, cap if _reboots(task) else None)


def start(session: Session, execution: WindowExecution, spec: WindowSpec, now: datetime) -> None:
    """Resolve the targets and create one task execution per task."""
    nodes = resolve(session, spec.Targets)
    execution.targets = [n.id for n in nodes]
    for task in spec.Tasks:
        chosen = resolve(session, task.Targets) if task.Targets else nodes
        if task.targetless:  # one runbook execution without a target node
            chosen = []
        session.add(
            WindowTaskExecution(
                id=new_uuid(),
                execution_id=execution.id,
                task_name=task.Name,
                priority=task.Priority,
                status=Status.PENDING,
                status_details="",
                waves=[[TARGETLESS]] if task.targetless else _plan(task, chosen),
                error_limit=rollout.limit(task.errors, max(1, len(chosen)), concurrency=False),
            )
        )
    execution.status, execution.started_at = Status.IN_PROGRESS, now
    away = sum(ping_status(n, now, ONLINE_SECONDS, 30) != "Online" for n in nodes)
    execution.status_details = f"{len(nodes)} target nodes" + (
        f", {away} not Online at the start" if away else ""
    )
    session.flush()


def _final(statuses: list[str], cancelled: bool) -> Status:
    if cancelled:
        return Status.CANCELLED
    for status in (Status.TIMED_OUT, Status.FAILED, Status.CANCELLED):
        if status in statuses:
            return status
    return Status.SUCCESS


def advance(session: Session, execution: WindowExecution, now: datetime) -> None:
    """Move the execution forward as far as it can go now (idempotent; resumable)."""
    if Status(execution.status).terminal:
        return
    spec = spec_of(execution.document["spec"])
    if execution.status == Status.PENDING:
        start(session, execution, spec, now)
    tasks = list(
        session.scalars(
            select(WindowTaskExecution)
            .where(WindowTaskExecution.execution_id == execution.id)
            .order_by(WindowTaskExecution.priority, WindowTaskExecution.task_name)
        )
    )
    specs = {t.Name: t for t in spec.Tasks}
    window_timing = timing(spec)
    while True:
        active = [t for t in tasks if not Status(t.status).terminal]
        if not active:
            break
        level = min(t.priority for t in active)
        for row in active:
            if row.priority == level:
                task = specs[row.task_name]
                run = window_automation.step if task.TaskType == "AUTOMATION" else step
                run(session, execution, row, task, now, window_timing)
        if any(not Status(t.status).terminal for t in active if t.priority == level):
            return  # this level is still running
    execution.status = _final([t.status for t in tasks], execution.status == Status.CANCELLING)
    execution.ended_at = now
    done = sum(t.status == Status.SUCCESS for t in tasks)
    execution.status_details = f"{done} of {len(tasks)} tasks succeeded"
