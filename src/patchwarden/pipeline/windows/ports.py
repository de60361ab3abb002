"""The narrow ports of the window use cases (SQLAlchemy implementations in
:mod:`patchwarden.adapters.storage.windows`, the server's command and runbook machinery
behind :class:`CommandSender` and :class:`RunbookStarter`; in-memory fakes in the unit
tests).  Every port works inside the caller's transaction: nothing here commits."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from patchwarden.core.window_machine import PhaseCommand, TaskState
from patchwarden.pipeline.fleet.records import TargetSelection
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


class WindowRepository(Protocol):
    """Stored maintenance windows."""

    def get(self, window_id: str) -> WindowRecord | None:
        """The window with this id."""
        ...

    def by_name(self, name: str, *, lock: bool = False) -> WindowRecord | None:
        """The window called ``name`` (locked for this transaction with ``lock``)."""
        ...

    def enabled_ids(self) -> list[str]:
        """Ids of the enabled windows."""
        ...

    def create(self, window: NewWindow) -> WindowRecord:
        """Store a new window."""
        ...

    def update(self, window: WindowRecord) -> None:
        """Store the (locked) window's document, switch, times and marker."""
        ...

    def mark_handled(
        self,
        window_id: str,
        next_execution_at: datetime | None,
        handled_until: datetime | None,
        unless_beyond: datetime,
    ) -> None:
        """Set the next execution time and (when given) the marker, unless another
        transaction already moved the marker beyond ``unless_beyond``."""
        ...

    def delete(self, window_id: str) -> None:
        """Delete the window and its history."""
        ...


class ExecutionRepository(Protocol):
    """Window executions."""

    def get(self, execution_id: str, *, lock: bool = False) -> ExecutionRecord | None:
        """The execution as stored now (its row locked with ``lock``)."""
        ...

    def try_lock(self, execution_id: str) -> bool:
        """Take the execution's advisory lock for this transaction unless another replica
        holds it (always True where one process serialises writers)."""
        ...

    def claim(self, execution: NewExecution) -> bool:
        """Create the execution unless one exists for its (window, scheduled time)."""
        ...

    def first_active(self, window_id: str) -> str | None:
        """An execution of the window that has not ended, if any."""
        ...

    def active_ids(self) -> list[str]:
        """Ids of every execution that has not ended."""
        ...

    def save(self, execution: ExecutionRecord) -> None:
        """Store the execution's status, details, targets, times and claimer."""
        ...


class TaskExecutions(Protocol):
    """The task executions of window executions."""

    def add(self, task: NewTaskExecution) -> None:
        """Store a PENDING task execution."""
        ...

    def of(self, execution_id: str) -> list[TaskExecution]:
        """The execution's tasks by priority, then name."""
        ...

    def save(self, task_id: str, state: TaskState) -> None:
        """Store what changed of the task's state (its waves and MaxErrors never do)."""
        ...


class PhaseCommands(Protocol):
    """The commands of task executions' wave phases."""

    def lock(self, task_id: str, wave: int, phase: int) -> PhaseCommand | None:
        """The command sent for (wave, phase), locked; None when none was sent."""
        ...

    def refresh(self, command_id: str, at: datetime, *, cancel: bool) -> PhaseCommand:
        """Request the (locked) command's cancellation first with ``cancel``, then apply
        timeouts, MaxErrors and cancellation; the command as it is then (``refreshed``)."""
        ...

    def link(self, task_id: str, wave: int, phase: int, command_id: str) -> None:
        """Record ``command_id`` as the command of the task's (wave, phase)."""
        ...


class CommandSender(Protocol):
    """Sending one wave phase as an ordinary rate-controlled command."""

    def send(self, request: PhaseRequest, at: datetime) -> str:
        """Create the command with one invocation per node; its id."""
        ...


class SnapshotStore(Protocol):
    """The baseline snapshot of an execution and the invocations it is pinned on."""

    def baselines(self, execution_id: str) -> dict[str, Any]:
        """``"patch group|OS"`` → [document, source] resolved so far."""
        ...

    def set_baselines(self, execution_id: str, snapshot: dict[str, Any]) -> None:
        """Replace the execution's snapshot."""
        ...

    def invocations(self, command_id: str) -> list[SnapshotInvocation]:
        """The command's invocations with their nodes' OS and patch group."""
        ...

    def set_snapshot_id(self, command_id: str, snapshot_id: str) -> None:
        """Add ``SnapshotId`` to the command's parameters."""
        ...

    def pin(self, invocation_id: str, baseline: dict[str, Any] | None, source: str) -> None:
        """Give the invocation its baseline now (not at delivery)."""
        ...


class RunbookCatalog(Protocol):
    """Stored runbooks."""

    def exists(self, runbook: str) -> bool:
        """Whether a runbook of that name is stored."""
        ...


class RunbookRuns(RunbookCatalog, Protocol):
    """Runbooks and the runbook executions window tasks started."""

    def statuses(self, actor_prefix: str) -> dict[str, str]:
        """Status of each runbook execution whose creator starts with ``actor_prefix``,
        by the rest of the creator (oldest first)."""
        ...


class RunbookStarter(Protocol):
    """Starting a runbook execution inside the caller's transaction."""

    def start(
        self, runbook: str, parameters: Mapping[str, object], at: datetime, actor: str
    ) -> str:
        """Start ``runbook``; the execution's status right after (InputError: refused)."""
        ...


class TargetResolver(Protocol):
    """Registered nodes, as window targets select them."""

    def targets(self, selection: TargetSelection) -> list[WindowTarget]:
        """Active nodes matching ``selection``, by id."""
        ...


class ParameterCheck(Protocol):
    """The server's validation of RunPatchBaseline parameters."""

    def check(self, parameters: Mapping[str, Any], where: str) -> None:
        """InputError (naming ``where``) unless ``parameters`` are valid."""
        ...
