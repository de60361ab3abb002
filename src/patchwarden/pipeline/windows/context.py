"""What the scheduler's use cases run against: the ports bound to one transaction
(:class:`WindowPorts`) and the :class:`UnitOfWork` that opens such transactions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from patchwarden.pipeline.events import NO_EVENTS, Events
from patchwarden.pipeline.fleet.ports import BaselineSource
from patchwarden.pipeline.windows.ports import (
    CommandSender,
    ExecutionRepository,
    PhaseCommands,
    RunbookRuns,
    RunbookStarter,
    SnapshotStore,
    TargetResolver,
    TaskExecutions,
    WindowRepository,
)

T = TypeVar("T")


@dataclass(frozen=True)
class WindowPorts:
    """The ports of one transaction."""

    windows: WindowRepository
    executions: ExecutionRepository
    tasks: TaskExecutions
    targets: TargetResolver
    phases: PhaseCommands
    sender: CommandSender
    snapshots: SnapshotStore
    baselines: BaselineSource
    runbooks: RunbookRuns
    starter: RunbookStarter
    events: Events = NO_EVENTS
    """``window.started`` / ``window.finished`` (bound to the transaction)."""


class UnitOfWork(Protocol):
    """Transactions of the window store: ``work`` runs against ports bound to one."""

    def write(self, work: Callable[[WindowPorts], T]) -> T:
        """Run ``work`` in a new write transaction and commit it (roll back if it raises)."""
        ...

    def read(self, work: Callable[[WindowPorts], T]) -> T:
        """Run ``work`` in a read-only transaction."""
        ...
