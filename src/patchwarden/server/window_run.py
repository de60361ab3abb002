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
from patchwarden.core import window_machine as machine
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


def _plan(task: TaskSpec, nodes: list[Node]) -> list[list[str]]:
    cap = task.RebootCoordination.MaxRebootingPerGroup if task.RebootCoordination else None
    targets = [waves.Target(n.id, n.patch_group) for n in nodes]
    run_command = task.TaskInvocationParameters.RunCommand
    parameters = run_command.Parameters if run_command else {}
    reboots = machine.reboots(task.TaskType, parameters)
    return waves.plan(targets, task.concurrency, cap if reboots else None)


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
    stepped: set[int] = set()
    while due := machine.to_step([(t.priority, Status(t.status)) for t in tasks], stepped):
        for index in due:
            row, task = tasks[index], specs[tasks[index].task_name]
            run = window_automation.step if task.TaskType == "AUTOMATION" else step
            run(session, execution, row, task, now, window_timing)
            stepped.add(index)
    if due is not None:
        return  # a priority level is still running
    cancelled = execution.status == Status.CANCELLING
    execution.status, execution.status_details = machine.final(
        [Status(t.status) for t in tasks], cancelled
    )
    execution.ended_at = now
