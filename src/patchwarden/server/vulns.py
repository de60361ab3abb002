"""The server's vulnerability assessment of the nodes' uploaded inventories (Inspector's
agent-based mode: a changed inventory, or new vulnerability data, rescans the node).

Not in the upload request: an upload stores the inventory and :func:`inventory_changed`
dates it after the node's last assessment; the background :func:`loop` runs
:func:`assess_pending` every :func:`interval` seconds.  A node (with an inventory, not
deregistered) is *pending* when it was never assessed, when its inventory was uploaded
after its last assessment (an unchanged delta upload does not move ``uploaded_at``), or when
the vulnerability database file was modified after its last assessment.

One round opens the database once and assesses at most ``limit`` pending nodes, each in
three steps (:mod:`patchwarden.pipeline.fleet.assess`): read its inventory and findings
history, match them against the database with no write transaction open (SQLite's single
writer stays free), then one short write transaction stores the findings, the assessment
time and warnings, and runs the change-triggered rules (``no-active-findings`` judges the
fresh findings) — unless the inventory changed in between, in which case the node simply
stays pending.  Several replicas on one PostgreSQL stay out of each other's way through a
per-node advisory lock (:mod:`patchwarden.adapters.storage.assessment_store`).

This module wires the server database into that use case and keeps what belongs to the
process: the loop, the thread hand-off, and the memo of nodes whose assessment raised and of
the unreadable database file last warned about.  The memo is module state rather than the
app's: one process assesses with one vulnerability database, and tests reset it here.

No suppressions apply on the server yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from patchwarden.adapters.storage.assessment_queue import SqlAssessmentQueue
from patchwarden.adapters.storage.assessment_queue import (
    inventory_changed as inventory_changed,  # re-exported: the upload routes call it
)
from patchwarden.adapters.storage.assessment_queue import pending as pending  # re-exported
from patchwarden.adapters.storage.assessment_store import (
    SqlFindingsWriter,
    SqlStoredInventories,
    lock_key,
)
from patchwarden.adapters.vulndb import SqliteVulnDb
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.assess import assess
from patchwarden.pipeline.fleet.assess import FailedKey, FleetAssessment
from patchwarden.server import governance
from patchwarden.server.db import Database
from patchwarden.server.settings import ServerSettings

log = logging.getLogger("patchwarden.server.vulns")
BATCH = 20
"""Nodes assessed per round at most."""
_lock_key = lock_key  # another replica's lock on a node, for the tests

_failed: dict[str, FailedKey] = {}
"""node id → (uploaded_at, content_hash, database time) of an assessment that raised: not
retried in this process until one of them changes (the failure would repeat)."""
_broken: tuple[Path, datetime] | None = None
"""The unreadable database file (and its time) last warned about."""
_missing: Path | None = None
"""The missing database file last warned about."""


def _database_time(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:  # no database yet: nothing to assess against
        return None


@contextlib.contextmanager
def _open_vulndb(path: Path, db_time: datetime) -> Iterator[SqliteVulnDb | None]:
    """The vulnerability database; None when it cannot be read (warned once per file
    version)."""
    global _broken
    store = SqliteVulnDb(path)
    try:
        try:
            store.check()
        except PatchwardenError as exc:
            if _broken != (path, db_time):
                log.warning("vulnerability assessment skipped: %s", exc)
                _broken = (path, db_time)
            yield None
            return
        _broken = None
        yield store
    finally:
        store.close()


def _failed_node(node_id: str, exc: Exception) -> None:
    known = isinstance(exc, PatchwardenError)
    log.warning(
        "vulnerability assessment of %s failed: %s",
        node_id,
        exc,
        exc_info=None if known else exc,
    )


def assess_pending(db: Database, settings: ServerSettings, *, limit: int = BATCH) -> int:
    """One round: assess up to ``limit`` pending nodes against the vulnerability database
    (opened once); the number assessed.  Nothing happens without a database file; a file
    that cannot be read logs a warning (once per file version) and assesses nothing."""
    global _missing
    path = settings.vulndb_path
    db_time = _database_time(path)
    if db_time is None:
        if _missing != path:
            log.warning(
                "no vulnerability database at %s: uploaded inventories are not assessed and "
                "there are no findings (run `patchwarden db update` or `db import`)",
                path,
            )
            _missing = path
        return 0
    _missing = None
    fleet = FleetAssessment(
        SqlAssessmentQueue(db.read),
        SqlStoredInventories(db.read, db.engine),
        SqlFindingsWriter(db.write, governance.changed),
        _failed,
        match=assess,  # looked up per round: tests replace it
        on_failure=_failed_node,
    )
    return fleet.round(lambda: _open_vulndb(path, db_time), db_time, settings.clock, limit)


async def loop(db: Database, settings: ServerSettings, seconds: float) -> None:
    """The background assessment: :func:`assess_pending` every ``seconds``."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(assess_pending, db, settings)
        except Exception:  # retried at the next round
            log.exception("vulnerability assessment round failed")
