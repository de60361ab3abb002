"""In-memory fakes of the window ports (no database): one :class:`World` holds the state,
each fake implements one port over it, and :class:`FakeUnitOfWork` runs a use case in a
"transaction" that is undone when it raises."""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from patchwarden.core.window_machine import PhaseCommand, TaskState
from patchwarden.core.windows import ACTIVE, Status
from patchwarden.errors import InputError
from patchwarden.pipeline.fleet.records import TargetSelection
from patchwarden.pipeline.windows.context import WindowPorts
from patchwarden.pipeline.windows.records import (
    ExecutionRecord,
    NewExecution,
    NewTaskExecution,
    NewWindow,
    PhaseRequest,
    SnapshotInvocation,
    TaskExecution,
    WindowRecord,
    WindowTarget,
)

T = TypeVar("T")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LINUX = "AMAZON_LINUX_2023"


@dataclass
class Node:
    """A registered node with its tags (its patch group is the ``Patch Group`` tag)."""

    id: str
    tags: dict[str, str] = field(default_factory=dict)
    operating_system: str = LINUX
    last_seen_at: datetime | None = None
    registered_at: datetime = T0

    @property
    def patch_group(self) -> str | None:
        return self.tags.get("Patch Group")


@dataclass
class Command:
    """A wave phase's command: Pending until a test finishes it."""

    id: str
    request: PhaseRequest
    parameters: dict[str, Any]
    terminal: bool = False
    cancel_requested: bool = False
    error_count: int = 0
    succeeded: tuple[str, ...] = ()
    pinned: dict[str, tuple[dict[str, Any] | None, str]] = field(default_factory=dict)


@dataclass
class World:
    """Everything the fakes store."""

    nodes: list[Node] = field(default_factory=list)
    windows: dict[str, WindowRecord] = field(default_factory=dict)
    executions: dict[str, ExecutionRecord] = field(default_factory=dict)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, TaskExecution] = field(default_factory=dict)
    commands: dict[str, Command] = field(default_factory=dict)
    links: dict[tuple[str, int, int], str] = field(default_factory=dict)
    runbooks: dict[str, str] = field(default_factory=dict)
    """Runbook name → the status a new execution of it has right after it starts."""
    runs: dict[str, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)
    """Creator → (runbook, status, parameters), in start order."""
    refused: str | None = None
    """Why the runbook starter refuses every start (None: it does not)."""
    broken: str | None = None
    """The command sender raises RuntimeError with this message (None: it sends)."""
    locked_elsewhere: set[str] = field(default_factory=set)
    """Executions whose advisory lock another replica holds."""
    group_baselines: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    resolutions: int = 0
    audit: list[tuple[str, str, str]] = field(default_factory=list)
    counter: int = 0

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def ports(self) -> WindowPorts:
        """Every port over this world."""
        return WindowPorts(
            windows=FakeWindows(self),
            executions=FakeExecutions(self),
            tasks=FakeTasks(self),
            targets=FakeTargets(self),
            phases=FakePhases(self),
            sender=FakeSender(self),
            snapshots=FakeSnapshots(self),
            baselines=FakeBaselines(self),
            runbooks=FakeRunbooks(self),
            starter=FakeStarter(self),
        )

    def finish(self, command_id: str, failing: Collection[str] = ()) -> None:
        """Every node of the command reports: the ``failing`` ones fail."""
        cmd = self.commands[command_id]
        nodes = cmd.request.node_ids
        cmd.terminal = True
        cmd.succeeded = tuple(n for n in nodes if n not in failing)
        cmd.error_count = len(nodes) - len(cmd.succeeded)

    def task_of(self, execution_id: str, name: str) -> TaskExecution:
        (found,) = (
            t for t in self.tasks.values() if t.execution_id == execution_id and t.task_name == name
        )
        return found


class FakeWindows:
    def __init__(self, world: World) -> None:
        self.world = world

    def get(self, window_id: str) -> WindowRecord | None:
        return self.world.windows.get(window_id)

    def by_name(self, name: str, *, lock: bool = False) -> WindowRecord | None:
        return next((w for w in self.world.windows.values() if w.name == name), None)

    def enabled_ids(self) -> list[str]:
        return [w.id for w in self.world.windows.values() if w.enabled]

    def create(self, window: NewWindow) -> WindowRecord:
        record = WindowRecord(
            id=self.world.new_id("mw"),
            name=window.name,
            document=window.document,
            enabled=window.enabled,
            created_at=window.at,
            modified_at=window.at,
            handled_until=window.at,
            next_execution_at=window.next_execution_at,
        )
        self.world.windows[record.id] = record
        return record

    def update(self, window: WindowRecord) -> None:
        self.world.windows[window.id] = window

    def mark_handled(
        self,
        window_id: str,
        next_execution_at: datetime | None,
        handled_until: datetime | None,
        unless_beyond: datetime,
    ) -> None:
        window = self.world.windows[window_id]
        if window.handled_until <= unless_beyond:
            self.world.windows[window_id] = replace(
                window,
                next_execution_at=next_execution_at,
                handled_until=handled_until or window.handled_until,
            )

    def delete(self, window_id: str) -> None:
        del self.world.windows[window_id]
        for ident in [e.id for e in self.world.executions.values() if e.window_id == window_id]:
            del self.world.executions[ident]


class FakeExecutions:
    def __init__(self, world: World) -> None:
        self.world = world

    def get(self, execution_id: str, *, lock: bool = False) -> ExecutionRecord | None:
        return self.world.executions.get(execution_id)

    def try_lock(self, execution_id: str) -> bool:
        return execution_id not in self.world.locked_elsewhere

    def claim(self, execution: NewExecution) -> bool:
        key = (execution.window_id, execution.scheduled_for)
        if any((e.window_id, e.scheduled_for) == key for e in self.world.executions.values()):
            return False
        record = ExecutionRecord(
            id=self.world.new_id("exec"),
            window_id=execution.window_id,
            scheduled_for=execution.scheduled_for,
            status=execution.status,
            status_details=execution.status_details,
            document=execution.document,
            targets=(),
            created_at=execution.created_at,
            started_at=execution.started_at,
            ended_at=execution.ended_at,
            claimed_by=execution.claimed_by,
        )
        self.world.executions[record.id] = record
        self.world.snapshots[record.id] = {}
        return True

    def first_active(self, window_id: str) -> str | None:
        return next(
            (
                e.id
                for e in self.world.executions.values()
                if e.window_id == window_id and e.status in ACTIVE
            ),
            None,
        )

    def active_ids(self) -> list[str]:
        return [e.id for e in self.world.executions.values() if e.status in ACTIVE]

    def save(self, execution: ExecutionRecord) -> None:
        self.world.executions[execution.id] = execution


class FakeTasks:
    def __init__(self, world: World) -> None:
        self.world = world

    def add(self, task: NewTaskExecution) -> None:
        ident = self.world.new_id("task")
        state = TaskState(Status.PENDING, task.waves, task.error_limit)
        self.world.tasks[ident] = TaskExecution(
            ident, task.execution_id, task.task_name, task.priority, state
        )

    def of(self, execution_id: str) -> list[TaskExecution]:
        found = [t for t in self.world.tasks.values() if t.execution_id == execution_id]
        return sorted(found, key=lambda t: (t.priority, t.task_name))

    def save(self, task_id: str, state: TaskState) -> None:
        self.world.tasks[task_id] = replace(self.world.tasks[task_id], state=state)


class FakeTargets:
    def __init__(self, world: World) -> None:
        self.world = world

    def _selected(self, node: Node, selection: TargetSelection) -> bool:
        if selection.ids and node.id not in selection.ids:
            return False
        if any(key not in node.tags for key in selection.tag_keys):
            return False
        for key, values in selection.tags.items():
            if key not in node.tags or ("*" not in values and node.tags[key] not in values):
                return False
        return not selection.patch_groups or node.patch_group in selection.patch_groups

    def targets(self, selection: TargetSelection) -> list[WindowTarget]:
        return [
            WindowTarget(n.id, n.patch_group, n.registered_at, n.last_seen_at)
            for n in sorted(self.world.nodes, key=lambda n: n.id)
            if self._selected(n, selection)
        ]


class FakePhases:
    def __init__(self, world: World) -> None:
        self.world = world

    def _view(self, cmd: Command, *, refreshed: bool) -> PhaseCommand:
        done = refreshed and cmd.terminal and not cmd.cancel_requested
        return PhaseCommand(
            command_id=cmd.id,
            terminal=cmd.terminal,
            cancel_requested=cmd.cancel_requested,
            error_count=cmd.error_count,
            succeeded=cmd.succeeded if done else (),
            refreshed=refreshed,
        )

    def lock(self, task_id: str, wave: int, phase: int) -> PhaseCommand | None:
        command_id = self.world.links.get((task_id, wave, phase))
        if command_id is None:
            return None
        return self._view(self.world.commands[command_id], refreshed=False)

    def refresh(self, command_id: str, at: datetime, *, cancel: bool) -> PhaseCommand:
        cmd = self.world.commands[command_id]
        if cancel:  # no node has started it: cancelled at once
            cmd.cancel_requested = cmd.terminal = True
        return self._view(cmd, refreshed=True)

    def link(self, task_id: str, wave: int, phase: int, command_id: str) -> None:
        self.world.links[task_id, wave, phase] = command_id


class FakeSender:
    def __init__(self, world: World) -> None:
        self.world = world

    def send(self, request: PhaseRequest, at: datetime) -> str:
        if self.world.broken is not None:
            raise RuntimeError(self.world.broken)
        ident = self.world.new_id("cmd")
        self.world.commands[ident] = Command(ident, request, dict(request.parameters))
        return ident


class FakeSnapshots:
    def __init__(self, world: World) -> None:
        self.world = world

    def baselines(self, execution_id: str) -> dict[str, Any]:
        return dict(self.world.snapshots[execution_id])

    def set_baselines(self, execution_id: str, snapshot: dict[str, Any]) -> None:
        self.world.snapshots[execution_id] = snapshot

    def invocations(self, command_id: str) -> list[SnapshotInvocation]:
        nodes = {n.id: n for n in self.world.nodes}
        return [
            SnapshotInvocation(f"{command_id}/{n}", nodes[n].operating_system, nodes[n].patch_group)
            for n in self.world.commands[command_id].request.node_ids
        ]

    def set_snapshot_id(self, command_id: str, snapshot_id: str) -> None:
        self.world.commands[command_id].parameters["SnapshotId"] = snapshot_id

    def pin(self, invocation_id: str, baseline: dict[str, Any] | None, source: str) -> None:
        command_id, node = invocation_id.split("/")
        self.world.commands[command_id].pinned[node] = (baseline, source)


class FakeBaselines:
    def __init__(self, world: World) -> None:
        self.world = world

    def named_document(self, name: str) -> dict[str, Any] | None:
        return None

    def group_document(self, patch_group: str, operating_system: str) -> dict[str, Any] | None:
        self.world.resolutions += 1
        return self.world.group_baselines.get((patch_group, operating_system))

    def default_document(self, operating_system: str) -> dict[str, Any] | None:
        return {"metadata": {"name": f"default-{operating_system}"}}


class FakeRunbooks:
    def __init__(self, world: World) -> None:
        self.world = world

    def exists(self, runbook: str) -> bool:
        return runbook in self.world.runbooks

    def statuses(self, actor_prefix: str) -> dict[str, str]:
        return {
            actor[len(actor_prefix) :]: status
            for actor, (_, status, _) in self.world.runs.items()
            if actor.startswith(actor_prefix)
        }


class FakeStarter:
    def __init__(self, world: World) -> None:
        self.world = world

    def start(
        self, runbook: str, parameters: Mapping[str, object], at: datetime, actor: str
    ) -> str:
        if self.world.refused is not None:
            raise InputError(self.world.refused)
        status = self.world.runbooks[runbook]
        self.world.runs[actor] = (runbook, status, dict(parameters))
        return status


class FakeUnitOfWork:
    """Transactions over a world: a write that raises leaves the world as it was."""

    def __init__(self, world: World) -> None:
        self.world = world

    def write(self, work: Callable[[WindowPorts], T]) -> T:
        saved = copy.deepcopy(self.world.__dict__)
        try:
            return work(self.world.ports())
        except BaseException:
            self.world.__dict__.update(saved)
            raise

    def read(self, work: Callable[[WindowPorts], T]) -> T:
        return work(self.world.ports())
