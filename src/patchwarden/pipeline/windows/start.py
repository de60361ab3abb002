"""Starting a window execution: targets resolved at execution time (keys AND-ed, values
OR-ed), one task execution per task with its waves and MaxErrors fixed now."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from patchwarden.core.events import window_started
from patchwarden.core.presence import ping_status
from patchwarden.core.windows import Status
from patchwarden.documents.window import TargetSpec, WindowSpec
from patchwarden.pipeline.fleet.targets import selection
from patchwarden.pipeline.windows.context import WindowPorts
from patchwarden.pipeline.windows.ports import TargetResolver
from patchwarden.pipeline.windows.records import ExecutionRecord, NewTaskExecution, WindowTarget
from patchwarden.pipeline.windows.tasks import error_limit, plan

ONLINE_SECONDS = 300
"""A node that checked in within this many seconds counts as Online (the server default)."""
INACTIVE_DAYS = 30


def resolve(targets: TargetResolver, specs: Sequence[TargetSpec]) -> list[WindowTarget]:
    """The registered nodes the targets select now (keys AND-ed, values OR-ed), by id."""
    return targets.targets(selection((), [(t.Key, t.Values) for t in specs]))


def _online(node: WindowTarget, now: datetime) -> bool:
    status = ping_status(
        last_seen_at=node.last_seen_at,
        registered_at=node.registered_at,
        deregistered_at=node.deregistered_at,
        now=now,
        online_seconds=ONLINE_SECONDS,
        inactive_days=INACTIVE_DAYS,
    )
    return status == "Online"


def start(
    ports: WindowPorts, execution: ExecutionRecord, spec: WindowSpec, now: datetime
) -> ExecutionRecord:
    """Resolve the targets, create one task execution per task; the execution IN_PROGRESS."""
    nodes = resolve(ports.targets, spec.Targets)
    for task in spec.Tasks:
        chosen = resolve(ports.targets, task.Targets) if task.Targets else nodes
        if task.targetless:  # one runbook execution without a target node
            chosen = []
        ports.tasks.add(
            NewTaskExecution(
                execution_id=execution.id,
                task_name=task.Name,
                priority=task.Priority,
                waves=tuple(tuple(wave) for wave in plan(task, chosen)),
                error_limit=error_limit(task, len(chosen)),
            )
        )
    away = sum(not _online(n, now) for n in nodes)
    started = replace(
        execution,
        targets=tuple(n.id for n in nodes),
        status=Status.IN_PROGRESS,
        started_at=now,
        status_details=f"{len(nodes)} target nodes"
        + (f", {away} not Online at the start" if away else ""),
    )
    ports.executions.save(started)
    ports.events.emit(
        window_started(now, execution.window_name, execution.id, len(nodes), started.status_details)
    )
    return started
