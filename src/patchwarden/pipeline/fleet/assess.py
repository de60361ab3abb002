"""Assess the fleet's uploaded inventories against the vulnerability database: the use case
of the server's background assessment (:mod:`patchwarden.server.vulns` runs its rounds).

A round lists pending nodes (:class:`AssessmentQueue`) and assesses at most ``limit`` of
them, each in three steps so that no write transaction stays open while matching:

1. read (:class:`StoredInventories`): the node only while it is still pending and no other
   replica is at it, then its inventory and findings history;
2. match (:func:`patchwarden.pipeline.assess.assess`), findings history in memory;
3. write (:class:`FindingsWriter`): findings, assessment time and warnings — which the
   writer drops when the inventory changed since the read (the node stays pending).

A node whose assessment raised is remembered in ``failed`` with what it was assessed
against, and not tried again until its inventory or the database changes (the failure would
repeat).  The caller owns that memo, so it can outlive one round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from patchwarden.core.events import Event, NewFinding, findings_new
from patchwarden.core.model import Inventory
from patchwarden.core.suppression import FindingRecord, Suppression
from patchwarden.core.vuln import FindingStatus, Severity
from patchwarden.pipeline.assess import Assessment, assess
from patchwarden.ports import AdvisoryStore, Clock, FindingHistory


@dataclass(frozen=True)
class Seen:
    """What the read step saw of a pending node (the write step stores only if unchanged)."""

    uploaded_at: datetime
    content_hash: str
    assessed_at: datetime | None


@dataclass(frozen=True)
class StoredNode:
    """A node's stored inventory, the names suppressions know it by, its findings history."""

    inventory: Inventory
    names: tuple[str, ...]
    history: list[FindingRecord]


@dataclass(frozen=True)
class Outcome:
    """What the write step stores for one node."""

    records: Sequence[FindingRecord] | None
    """The node's findings with their lifecycle; None: leave the stored ones as they are."""
    assessed: bool
    warnings: tuple[str, ...]
    at: datetime
    events: tuple[Event, ...] = ()
    """Stored with the findings (``finding.new``)."""


class NodeRead(Protocol):
    """One pending node during its read step."""

    @property
    def seen(self) -> Seen:
        """Its inventory and last assessment, as read."""
        ...

    def load(self) -> StoredNode | None:
        """Its inventory and findings history (None when the node or its inventory is gone);
        ends the read, unless a lock must be held until the write step."""
        ...


class AssessmentQueue(Protocol):
    """The nodes waiting for an assessment."""

    def pending(self, db_time: datetime, limit: int) -> list[str]:
        """Up to ``limit`` nodes never assessed, or assessed before their inventory was
        uploaded or before ``db_time`` (the database's modification): the never-assessed
        first, then the longest waiting."""
        ...


class StoredInventories(Protocol):
    """The read step."""

    def read(self, node_id: str, db_time: datetime) -> AbstractContextManager[NodeRead | None]:
        """The node while it is still pending and nobody else assesses it (else None), held
        until the end of the ``with`` block."""
        ...


class FindingsWriter(Protocol):
    """The write step."""

    def store(self, node_id: str, seen: Seen, outcome: Outcome) -> bool:
        """Store ``outcome`` unless the node's inventory or assessment is no longer what
        ``seen`` says; whether it did."""
        ...


class Matcher(Protocol):
    """The matching step (:func:`patchwarden.pipeline.assess.assess`)."""

    def __call__(
        self,
        inventory: Inventory,
        now: datetime,
        *,
        store: AdvisoryStore | None,
        state: FindingHistory | None,
        suppressions: Sequence[Suppression],
        node_names: Iterable[str],
    ) -> Assessment: ...


FailedKey = tuple[datetime, str, datetime]
"""(uploaded_at, content_hash, database time) of an assessment that raised."""


def _ignore(node_id: str, error: Exception) -> None:
    """The default ``on_failure``: nothing to tell."""


@dataclass
class FleetAssessment:
    """The assessment rounds over the ports of one server."""

    queue: AssessmentQueue
    inventories: StoredInventories
    writer: FindingsWriter
    failed: MutableMapping[str, FailedKey]
    """Node → what its assessment raised on (see the module docstring)."""
    match: Matcher = assess
    on_failure: Callable[[str, Exception], None] = _ignore
    """Told of each assessment that raised (node id, exception)."""

    def round(
        self,
        open_store: Callable[[], AbstractContextManager[AdvisoryStore | None]],
        db_time: datetime,
        clock: Clock,
        limit: int,
        suppressions: Sequence[Suppression] = (),
    ) -> int:
        """Assess up to ``limit`` pending nodes against the store ``open_store`` opens (once,
        and only when some node is pending; None: it cannot be used) as of ``db_time``, with
        the fleet's ``suppressions``; how many were assessed."""
        if limit <= 0:
            return 0
        # room for nodes skipped: failing, taken by another replica, assessed meanwhile
        candidates = self.queue.pending(db_time, 2 * limit + len(self.failed))
        if not candidates:
            return 0
        with open_store() as store:
            if store is None:
                return 0
            done = 0
            for node_id in candidates:
                if done >= limit:
                    break
                done += self.node(node_id, store, db_time, clock.now(), suppressions)
            return done

    def node(
        self,
        node_id: str,
        store: AdvisoryStore,
        db_time: datetime,
        at: datetime,
        suppressions: Sequence[Suppression] = (),
    ) -> bool:
        """Assess one node if it is still pending and no other replica is at it."""
        with self.inventories.read(node_id, db_time) as read:
            if read is None:  # assessed meanwhile (by another replica), taken, or gone
                return False
            seen = read.seen
            key = (seen.uploaded_at, seen.content_hash, db_time)
            if self.failed.get(node_id) == key:
                return False
            stored = read.load()
            if stored is None:
                return False
            state = _Deferred(stored.history)
            try:
                result = self.match(
                    stored.inventory,
                    at,
                    store=store,
                    state=state,
                    suppressions=suppressions,
                    node_names=stored.names,
                )
            except Exception as exc:  # e.g. a damaged page of the database: do not retry
                self.failed[node_id] = key
                self.on_failure(node_id, exc)
                return False
            self.failed.pop(node_id, None)
            at = max(at, seen.uploaded_at)
            news = new_serious(node_id, stored.history, state.records, at)
            outcome = Outcome(state.records, result.assessed, result.warnings, at, news)
            return self.writer.store(node_id, seen, outcome)


SERIOUS = frozenset({Severity.HIGH, Severity.CRITICAL})


def new_serious(
    node_id: str,
    history: Sequence[FindingRecord],
    records: Sequence[FindingRecord] | None,
    at: datetime,
) -> tuple[Event, ...]:
    """One ``finding.new`` event for the findings of this round that are open, ACTIVE, HIGH,
    CRITICAL or known exploited, and were not in the node's history (under their id or an
    alias); none when there are none."""
    if not records:
        return ()
    known = {(r.finding.vulnerability_id, r.finding.package_name) for r in history}
    found = []
    for record in records:
        f = record.finding
        if record.closed_at is not None or f.status is not FindingStatus.ACTIVE:
            continue
        if f.severity not in SERIOUS and not f.known_exploited:
            continue
        names = (f.vulnerability_id, *f.aliases)
        if any((name, f.package_name) in known for name in names):
            continue
        package = f"{f.package_name} {f.package_version}".strip()
        found.append(NewFinding(f.vulnerability_id, package, f.severity.value, f.known_exploited))
    if not found:
        return ()
    found.sort(key=lambda n: (not n.known_exploited, n.severity != "CRITICAL", n.vulnerability_id))
    return (findings_new(at, node_id, found),)


class _Deferred:
    """The :class:`~patchwarden.ports.FindingHistory` the matching step sees: the findings
    history read up front; what it records is kept for the write step."""

    def __init__(self, history: list[FindingRecord]) -> None:
        self._history = history
        self.records: list[FindingRecord] | None = None

    def finding_history(self, root: str) -> list[FindingRecord]:
        return self._history

    def record_findings(self, root: str, records: Iterable[FindingRecord]) -> None:
        self.records = list(records)
