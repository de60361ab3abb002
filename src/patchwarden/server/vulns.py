"""The server's vulnerability assessment of the nodes' uploaded inventories (Inspector's
agent-based mode: a changed inventory, or new vulnerability data, rescans the node).

Not in the upload request: an upload stores the inventory and :func:`inventory_changed`
dates it after the node's last assessment; the background :func:`loop` runs
:func:`assess_pending` every :func:`interval` seconds.  A node (with an inventory, not
deregistered) is *pending* when it was never assessed, when its inventory was uploaded
after its last assessment (``inventories.uploaded_at > node_assessments.assessed_at``; an
unchanged delta upload does not move ``uploaded_at``), or when the vulnerability database
file was modified after its last assessment.

One round opens the database once and assesses at most ``limit`` pending nodes, each in
three steps: read its inventory and findings history (a read-only session), match them
against the database (no write transaction is open: SQLite's single writer stays free),
then one short write transaction stores the findings, the assessment time and warnings, and
runs the change-triggered rules (``no-active-findings`` judges the fresh findings) — unless
the inventory changed in between, in which case the node simply stays pending.

With several replicas on one PostgreSQL, a transaction-level advisory lock per node, held
from the read to the commit, keeps two replicas from assessing one node at once (the other
replica skips it).  The write step takes the inventory row ``FOR UPDATE SKIP LOCKED`` and
:func:`inventory_changed` locks the same row before it reads the last assessment time, so
an upload and an assessment of one node are ordered: either the assessment sees the new
inventory and gives up, or the upload sees the assessment and dates itself after it.

No suppressions apply on the server yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from patchwarden.adapters.storage.findings import (
    NodeAssessmentRow,
    NodeFindingState,
    record_assessment,
)
from patchwarden.adapters.storage.inventories import stored_inventory
from patchwarden.adapters.storage.tables import Inventory, Node
from patchwarden.adapters.vulndb import SqliteVulnDb
from patchwarden.core.suppression import FindingRecord
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.assess import Assessment, assess
from patchwarden.server import governance
from patchwarden.server.db import Database
from patchwarden.server.settings import ServerSettings

log = logging.getLogger("patchwarden.server.vulns")
INTERVAL_ENV = "PATCHWARDEN_ASSESS_INTERVAL"
"""Seconds between assessment rounds (default 2); 0 turns the background loop off (tests
then call :func:`assess_pending` themselves)."""
DEFAULT_INTERVAL = 2.0
BATCH = 20
"""Nodes assessed per round at most."""
_AFTER = timedelta(microseconds=1)

_failed: dict[str, tuple[datetime, str, datetime]] = {}
"""node id → (uploaded_at, content_hash, database time) of an assessment that raised: not
retried in this process until one of them changes (the failure would repeat)."""
_broken: tuple[Path, datetime] | None = None
"""The unreadable database file (and its time) last warned about."""


def interval() -> float:
    """The configured round interval (0: no background loop)."""
    from patchwarden.errors import InputError

    text = os.environ.get(INTERVAL_ENV, "").strip()
    try:
        value = float(text) if text else DEFAULT_INTERVAL
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise InputError(f"{INTERVAL_ENV}: seconds between 0 (off) and 3600, got {text!r}")
    return value


def inventory_changed(session: Session, header: Inventory) -> None:
    """Make the node of the just-stored ``header`` pending: its ``uploaded_at`` after its
    last assessment, even when an assessment (of the previous inventory) committed while
    this upload waited for the inventory row, or the clock did not move.  Called by the
    upload, in its transaction, whenever the inventory changed."""
    session.execute(
        select(Inventory.node_id).where(Inventory.node_id == header.node_id).with_for_update()
    )
    last = session.scalar(
        select(NodeAssessmentRow.assessed_at).where(NodeAssessmentRow.node_id == header.node_id)
    )
    if last is not None and header.uploaded_at <= last:
        header.uploaded_at = last + _AFTER


def _database_time(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:  # no database yet: nothing to assess against
        return None


def _pending(db_time: datetime) -> ColumnElement[bool]:
    last = NodeAssessmentRow.assessed_at
    return or_(last.is_(None), last < Inventory.uploaded_at, last < db_time)


def _query(*columns: Any) -> Select[Any]:
    """``columns`` of nodes with an inventory, not deregistered, and their assessment."""
    return (
        select(*columns)
        .join(Node, Node.id == Inventory.node_id)
        .outerjoin(NodeAssessmentRow, NodeAssessmentRow.node_id == Inventory.node_id)
        .where(Node.deregistered_at.is_(None))
    )


def pending(session: Session, db_time: datetime, limit: int) -> list[str]:
    """Up to ``limit`` pending node ids: the never-assessed first, then the longest waiting."""
    query = (
        _query(Inventory.node_id)
        .where(_pending(db_time))
        .order_by(NodeAssessmentRow.assessed_at.asc().nulls_first(), Inventory.node_id)
        .limit(limit)
    )
    return list(session.scalars(query))


class _Seen(NamedTuple):
    """What the read step saw of one pending node."""

    uploaded_at: datetime
    content_hash: str
    assessed_at: datetime | None


class _DeferredFindings(NodeFindingState):
    """The node's findings history, read up front; what :func:`assess` records is kept for
    the write transaction."""

    def __init__(self, session: Session, node_id: str) -> None:
        super().__init__(session)
        self._history = super().finding_history(node_id)
        self.records: list[FindingRecord] | None = None

    def finding_history(self, root: str) -> list[FindingRecord]:
        return self._history

    def record_findings(self, root: str, records: Iterable[FindingRecord]) -> None:
        self.records = list(records)


def _lock_key(node_id: str) -> int:
    digest = hashlib.sha256(f"assess:{node_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def assess_pending(db: Database, settings: ServerSettings, *, limit: int = BATCH) -> int:
    """One round: assess up to ``limit`` pending nodes against the vulnerability database
    (opened once); the number assessed.  Nothing happens without a database file; a file
    that cannot be read logs a warning (once per file version) and assesses nothing."""
    global _broken
    path = settings.vulndb_path
    db_time = _database_time(path)
    if db_time is None or limit <= 0:
        return 0
    with db.read() as session:  # room for nodes skipped: failing, taken, assessed meanwhile
        candidates = pending(session, db_time, 2 * limit + len(_failed))
    if not candidates:
        return 0
    store = SqliteVulnDb(path)
    try:
        try:
            store.check()
        except PatchwardenError as exc:
            if _broken != (path, db_time):
                log.warning("vulnerability assessment skipped: %s", exc)
                _broken = (path, db_time)
            return 0
        _broken = None
        done = 0
        for node_id in candidates:
            if done >= limit:
                break
            done += _assess(db, store, node_id, db_time, settings.clock())
        return done
    finally:
        store.close()


def _assess(
    db: Database, store: SqliteVulnDb, node_id: str, db_time: datetime, at: datetime
) -> bool:
    """Assess one node if it is still pending and no other replica is at it."""
    postgres = db.engine.dialect.name == "postgresql"
    with contextlib.ExitStack() as stack:
        session = stack.enter_context(db.read())
        if postgres and not session.scalar(
            select(func.pg_try_advisory_xact_lock(_lock_key(node_id)))
        ):
            return False  # another replica is assessing it
        row = session.execute(
            _query(
                Inventory.uploaded_at, Inventory.content_hash, NodeAssessmentRow.assessed_at
            ).where(Inventory.node_id == node_id, _pending(db_time))
        ).one_or_none()
        if row is None:  # assessed meanwhile (by another replica), or gone
            return False
        seen = _Seen(*row)
        if _failed.get(node_id) == (seen.uploaded_at, seen.content_hash, db_time):
            return False
        node = session.get(Node, node_id)
        inventory = stored_inventory(session, node) if node is not None else None
        if node is None or inventory is None:
            return False
        findings = _DeferredFindings(session, node_id)
        if not postgres:  # SQLite: no lock to keep, and an in-memory one has one connection
            stack.close()
        try:
            result = assess(
                inventory,
                at,
                store=store,
                state=findings,
                suppressions=(),
                node_names=(node.id, node.hostname),
            )
        except Exception as exc:  # e.g. a damaged page of the database: warn, do not retry
            _failed[node_id] = (seen.uploaded_at, seen.content_hash, db_time)
            known = isinstance(exc, PatchwardenError)
            log.warning(
                "vulnerability assessment of %s failed: %s", node_id, exc, exc_info=not known
            )
            return False
        _failed.pop(node_id, None)
        return _store(db, node_id, seen, result, findings.records, max(at, seen.uploaded_at))
    return False  # pragma: no cover - ExitStack does not swallow exceptions


def _store(
    db: Database,
    node_id: str,
    seen: _Seen,
    result: Assessment,
    records: Sequence[FindingRecord] | None,
    at: datetime,
) -> bool:
    """The write step: findings, assessment, change-triggered rules — unless the inventory
    (or the assessment) changed since the read step."""
    with db.write() as session, session.begin():
        now = session.execute(
            select(Inventory.uploaded_at, Inventory.content_hash)
            .where(Inventory.node_id == node_id)
            .with_for_update(skip_locked=True)
        ).one_or_none()
        last = session.scalar(
            select(NodeAssessmentRow.assessed_at).where(NodeAssessmentRow.node_id == node_id)
        )
        if now is None or tuple(now) != seen[:2] or last != seen.assessed_at:
            return False  # an upload is storing or stored a new inventory: still pending
        if records is not None:
            NodeFindingState(session).record_findings(node_id, records)
        record_assessment(session, node_id, at, result.assessed, result.warnings)
        governance.changed(session, node_id, at)  # the rules judge the fresh findings
    return True


async def loop(db: Database, settings: ServerSettings, seconds: float) -> None:
    """The background assessment: :func:`assess_pending` every ``seconds``."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(assess_pending, db, settings)
        except Exception:  # retried at the next round
            log.exception("vulnerability assessment round failed")
