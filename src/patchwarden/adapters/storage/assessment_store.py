"""The read and write steps of the fleet's vulnerability assessment in the server database
(the ports of :mod:`patchwarden.pipeline.fleet.assess`).

With several replicas on one PostgreSQL, a transaction-level advisory lock per node, held
from the read to the commit of the write, keeps two replicas from assessing one node at once
(the other replica skips it).  The write step takes the inventory row ``FOR UPDATE SKIP
LOCKED`` and :func:`~.assessment_queue.inventory_changed` locks the same row before it reads
the last assessment time, so an upload and an assessment of one node are ordered: either the
assessment sees the new inventory and gives up, or the upload sees the assessment and dates
itself after it.  SQLite has no lock to keep: its read session ends before the matching.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from patchwarden.adapters.storage import events
from patchwarden.adapters.storage.assessment_queue import assessable, is_pending
from patchwarden.adapters.storage.findings import (
    NodeAssessmentRow,
    NodeFindingState,
    record_assessment,
)
from patchwarden.adapters.storage.inventories import stored_inventory
from patchwarden.adapters.storage.tables import Inventory, Node
from patchwarden.core.suppression import tag_names
from patchwarden.pipeline.fleet.assess import NodeRead, Outcome, Seen, StoredNode

AfterStore = Callable[[Session, str, datetime], None]
"""(session, node id, assessment time) → more work in the write step's transaction."""


def lock_key(node_id: str) -> int:
    """The PostgreSQL advisory lock key of assessing ``node_id``."""
    digest = hashlib.sha256(f"assess:{node_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class SqlStoredInventories:
    """The :class:`~patchwarden.pipeline.fleet.assess.StoredInventories` of the server
    database (advisory locks on PostgreSQL)."""

    def __init__(self, sessions: sessionmaker[Session], engine: Engine) -> None:
        self._sessions = sessions
        self._locks = engine.dialect.name == "postgresql"

    @contextmanager
    def read(self, node_id: str, db_time: datetime) -> Iterator[NodeRead | None]:
        """The node while it is pending and not locked by another replica, else None."""
        with ExitStack() as stack:
            session = stack.enter_context(self._sessions())
            if self._locks and not session.scalar(
                select(func.pg_try_advisory_xact_lock(lock_key(node_id)))
            ):
                yield None  # another replica is assessing it
                return
            row = session.execute(
                assessable(
                    Inventory.uploaded_at, Inventory.content_hash, NodeAssessmentRow.assessed_at
                ).where(Inventory.node_id == node_id, is_pending(db_time))
            ).one_or_none()
            if row is None:
                yield None
                return
            # SQLite: no lock to keep, and an in-memory one has one connection
            release = None if self._locks else stack
            yield _SqlNodeRead(session, node_id, Seen(*row), release)


class _SqlNodeRead:
    """One node in its read session."""

    def __init__(self, session: Session, node_id: str, seen: Seen, release: ExitStack | None):
        self._session = session
        self._node_id = node_id
        self._seen = seen
        self._release = release

    @property
    def seen(self) -> Seen:
        return self._seen

    def load(self) -> StoredNode | None:
        session = self._session
        node = session.get(Node, self._node_id)
        inventory = stored_inventory(session, node) if node is not None else None
        if node is None or inventory is None:
            return None
        history = NodeFindingState(session).finding_history(self._node_id)
        names = (node.id, node.hostname, *tag_names(node.tags))
        if self._release is not None:
            self._release.close()
        return StoredNode(inventory, names, history)


class SqlFindingsWriter:
    """The :class:`~patchwarden.pipeline.fleet.assess.FindingsWriter` of the server
    database; ``after`` runs in the same transaction once the findings are stored."""

    def __init__(self, sessions: sessionmaker[Session], after: AfterStore) -> None:
        self._sessions = sessions
        self._after = after

    def store(self, node_id: str, seen: Seen, outcome: Outcome) -> bool:
        """Findings, assessment and ``after`` in one transaction — unless the inventory
        (or the assessment) changed since ``seen``."""
        with self._sessions() as session, session.begin():
            now = session.execute(
                select(Inventory.uploaded_at, Inventory.content_hash)
                .where(Inventory.node_id == node_id)
                .with_for_update(skip_locked=True)
            ).one_or_none()
            last = session.scalar(
                select(NodeAssessmentRow.assessed_at).where(NodeAssessmentRow.node_id == node_id)
            )
            if now is None or tuple(now) != (seen.uploaded_at, seen.content_hash):
                return False  # an upload is storing or stored a new inventory: still pending
            if last != seen.assessed_at:
                return False  # assessed meanwhile
            if outcome.records is not None:
                NodeFindingState(session).record_findings(node_id, outcome.records)
            record_assessment(session, node_id, outcome.at, outcome.assessed, outcome.warnings)
            for item in outcome.events:
                events.record(session, item)
            self._after(session, node_id, outcome.at)
        return True
