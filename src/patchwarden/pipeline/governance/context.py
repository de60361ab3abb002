"""What a governance use case runs against: the ports bound to one transaction
(:class:`Governance`), the :class:`Outbox` collecting the webhooks it asks for, and the
:class:`UnitOfWork` that opens such transactions."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from patchwarden.core.rules import ResourceSnapshot
from patchwarden.errors import InputError
from patchwarden.pipeline.events import NO_EVENTS, Events
from patchwarden.pipeline.governance.ports import (
    AuditLog,
    CommandResults,
    CommandSender,
    DocumentStore,
    ExecutionStore,
    NodeDirectory,
    RemediationStore,
    ResourceStore,
    ResultStore,
    RuleCatalog,
    TagEditor,
)
from patchwarden.pipeline.governance.records import Notification

T = TypeVar("T")


@dataclass
class Outbox:
    """Webhooks queued during a use case, to be sent after its transaction commits.

    ``delivers`` says whether the owner of the transaction sends them; when it does not
    (a caller deep inside another shell's transaction), the notifications stay unclaimed
    in their executions and the next governance tick sends them.
    """

    delivers: bool = True
    _queued: list[Notification] = field(default_factory=list)

    def queue(self, notification: Notification) -> None:
        """Ask for one webhook."""
        self._queued.append(notification)

    def drain(self) -> tuple[Notification, ...]:
        """The queued notifications (the outbox is empty afterwards)."""
        queued, self._queued = tuple(self._queued), []
        return queued


@dataclass(frozen=True)
class Governance:
    """The ports of one transaction plus its outbox."""

    catalog: RuleCatalog
    documents: DocumentStore
    results: ResultStore
    nodes: NodeDirectory
    tags: TagEditor
    remediations: RemediationStore
    executions: ExecutionStore
    commands: CommandSender
    command_results: CommandResults
    audit: AuditLog
    outbox: Outbox
    events: Events = NO_EVENTS
    """Application events (``remediation.*``), bound to the transaction."""
    resources: ResourceStore = field(default_factory=lambda: NO_RESOURCES)
    """Imported resources (none where the shell keeps none)."""


class _NoResources:
    """The resource store of a shell that keeps no imported resources."""

    def of_source(self, source: str) -> dict[str, ResourceSnapshot]:
        return {}

    def put(self, resource: ResourceSnapshot) -> None:
        raise InputError("imported resources are kept by the fleet server only")

    def delete(self, resource_ids: Collection[str]) -> None:
        return None

    def all(self) -> list[ResourceSnapshot]:
        return []

    def sources(self) -> dict[str, tuple[int, datetime]]:
        return {}


NO_RESOURCES: ResourceStore = _NoResources()


class UnitOfWork(Protocol):
    """One write transaction: ``work`` runs against ports bound to it; the notifications it
    queued come back after the commit (none when it raised: the transaction rolled back)."""

    def run(self, work: Callable[[Governance], T]) -> tuple[T, tuple[Notification, ...]]:
        """Run ``work`` in a new transaction and commit it."""
        ...
