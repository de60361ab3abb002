"""Starting a window execution: targets resolved at execution time (keys AND-ed, values
OR-ed), one task execution per task with its waves and MaxErrors fixed now."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from patchwarden.core.events import window_started
from patchwarden.core.presence import ping_status
from patchwarden.core.windows import Status
from patchwarden.documents.window import TargetSpec, TaskSpec, WindowSpec
from patchwarden.pipeline.fleet.targets import selection
from patchwarden.pipeline.windows.context import WindowPorts
from patchwarden.pipeline.windows.ports import TargetResolver
from patchwarden.pipeline.windows.records import ExecutionRecord, NewTaskExecution, WindowTarget
from patchwarden.pipeline.windows.tasks import error_limit, plan

ONLINE_SECONDS = 300
"""A node that checked in within this many seconds counts as Online (the server default)."""
INACTIVE_DAYS = 30


def resolve(targets: TargetResolver, specs: Sequence[TargetSpec]) -> list[WindowTarget]:
    """The registered nodes the targets select now (keys AND-ed, values OR-ed), by id; no
    targets select no node."""
    if not specs:
        return []
    return targets.targets(selection((), [(t.Key, t.Values) for t in specs]))


def window_nodes(targets: TargetResolver, spec: WindowSpec) -> list[WindowTarget]:
    """The nodes of the window's own Targets, then those only its registered targets
    (``WindowTargets``) add, in their order."""
    nodes = resolve(targets, spec.Targets)
    seen = {n.id for n in nodes}
    for registered in spec.WindowTargets:
        for node in resolve(targets, registered.Targets):
            if node.id not in seen:
                seen.add(node.id)
                nodes.append(node)
    return nodes


def _task_plan(
    targets: TargetResolver, spec: WindowSpec, task: TaskSpec, nodes: list[WindowTarget]
) -> tuple[list[list[str]], int]:
    """The task's waves and its target count.  With ``WindowTargetIds`` the waves of each
    registered target follow those of the one before (one target after another, as AWS);
    a node two of them select runs once, with the first."""
    if task.WindowTargetIds:
        waves: list[list[str]] = []
        seen: set[str] = set()
        for target_id in task.WindowTargetIds:
            found = resolve(targets, spec.registered(target_id).Targets)
            chosen = [n for n in found if n.id not in seen]
            seen.update(n.id for n in chosen)
            waves += plan(task, chosen)
        return waves, len(seen)
    chosen = resolve(targets, task.Targets) if task.Targets else nodes
    if task.targetless:  # one runbook execution without a target node
        chosen = []
    return plan(task, chosen), len(chosen)


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
        waves, count = _task_plan(ports.targets, spec, task, nodes)
        ports.tasks.add(
            NewTaskExecution(
                execution_id=execution.id,
                task_name=task.Name,
                priority=task.Priority,
                waves=tuple(tuple(wave) for wave in waves),
                error_limit=error_limit(task, count),
            )
        )
    nodes = window_nodes(ports.targets, spec)
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
