"""Plain values the window use cases and their ports exchange (no ORM rows cross the
ports): windows, executions, task executions, target nodes and the command of a wave
phase."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from patchwarden.core.window_machine import TaskState
from patchwarden.core.windows import Status


@dataclass(frozen=True)
class WindowRecord:
    """A stored maintenance window: its document and the scheduler's marker."""

    id: str
    name: str
    document: dict[str, Any]
    enabled: bool
    created_at: datetime
    modified_at: datetime
    handled_until: datetime
    """The last scheduled time the scheduler handled (started, skipped or missed)."""
    next_execution_at: datetime | None


@dataclass(frozen=True)
class NewWindow:
    """A window to create (its id is the repository's to choose)."""

    name: str
    document: dict[str, Any]
    enabled: bool
    at: datetime
    """Creation time, modification time and the scheduler's first marker."""
    next_execution_at: datetime | None


@dataclass(frozen=True)
class ExecutionRecord:
    """One scheduled time of a window (``window_executions``)."""

    id: str
    window_id: str
    scheduled_for: datetime
    status: Status
    status_details: str
    document: dict[str, Any]
    """The window document as it was when the execution was created."""
    targets: tuple[str, ...]
    """Node ids resolved when it started."""
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    claimed_by: str

    @property
    def window_name(self) -> str:
        """The window's name as the stored document gives it."""
        name: str = self.document.get("metadata", {}).get("name", "")
        return name


@dataclass(frozen=True)
class NewExecution:
    """An execution to create unless one exists for (window, scheduled time)."""

    window_id: str
    scheduled_for: datetime
    status: Status
    status_details: str
    document: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    claimed_by: str


@dataclass(frozen=True)
class TaskExecution:
    """One task of an execution with the machine's state of it."""

    id: str
    execution_id: str
    task_name: str
    priority: int
    state: TaskState


@dataclass(frozen=True)
class NewTaskExecution:
    """A task execution to create, PENDING, with its waves and MaxErrors fixed."""

    execution_id: str
    task_name: str
    priority: int
    waves: tuple[tuple[str, ...], ...]
    error_limit: int


@dataclass(frozen=True)
class WindowTarget:
    """A node a window's targets select, with what the plan and its status need."""

    id: str
    patch_group: str | None
    registered_at: datetime
    last_seen_at: datetime | None
    deregistered_at: datetime | None = None


@dataclass(frozen=True)
class PhaseRequest:
    """One wave phase as a rate-controlled RunPatchBaseline command."""

    document_name: str
    parameters: dict[str, Any]
    """Pseudo-parameters filled in; ``SnapshotId`` left out when the execution's snapshot
    is pinned afterwards."""
    node_ids: tuple[str, ...]
    max_concurrency: str
    max_errors: str
    timeout_seconds: int
    execution_timeout_seconds: int
    comment: str
    actor: str


@dataclass(frozen=True)
class SnapshotInvocation:
    """An invocation of a wave's command, with what its baseline is resolved from."""

    id: str
    operating_system: str
    patch_group: str | None
