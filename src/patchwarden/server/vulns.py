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

The fleet's ``Suppression`` documents (``apply``) are applied to every node's findings with
the CLI's semantics, and ``NodeTags`` match the node's tags.  A change of them (an apply, a
delete) or the expiry of one makes every node assessed before it pending, like a newer
database: :func:`assessment_time` is the latest of the three.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from patchwarden import settings as local_settings
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
from patchwarden.adapters.storage.suppressions import stored_suppressions, suppressions_changed_at
from patchwarden.adapters.vulndb import SqliteVulnDb
from patchwarden.core.events import vulndb_missing, vulndb_stale
from patchwarden.core.suppression import Suppression
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.assess import assess
from patchwarden.pipeline.dbstatus import staleness_warning
from patchwarden.pipeline.fleet.assess import FailedKey, FleetAssessment
from patchwarden.server import governance, notifications
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
_freshness: tuple[Path, datetime, datetime, bool] | None = None
"""(file, its time, when checked, stale) of the last staleness check."""
STALE_CHECK = timedelta(hours=1)
"""How often an unchanged database file's age is checked again."""


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


def fleet_suppressions(db: Database) -> tuple[list[Suppression], datetime | None]:
    """The stored suppressions (one that no longer parses is skipped with a warning) and
    when they last changed."""
    from patchwarden.documents import parse_documents
    from patchwarden.documents.suppression import SuppressionDocument

    with db.read() as session:
        raws = stored_suppressions(session)
        changed = suppressions_changed_at(session)
    rules = []
    for raw in raws:
        try:
            (doc,) = parse_documents(json.dumps(raw), "suppression.json")
        except PatchwardenError as exc:
            log.warning("stored suppression skipped: %s", exc)
            continue
        if isinstance(doc, SuppressionDocument):
            rules.append(doc.suppression)
    return rules, changed


def assessment_time(
    db_time: datetime, rules: list[Suppression], changed: datetime | None, now: datetime
) -> datetime:
    """What a node's findings must be newer than: the database's time, the suppressions'
    last change, the latest expiry already passed."""
    expired = [r.expires_at for r in rules if r.expires_at is not None and r.expires_at <= now]
    return max([db_time, *([changed] if changed else []), *expired])


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
            notifications.emit(db, vulndb_missing(settings.clock.now(), str(path)))
        return 0
    _missing = None
    _check_freshness(db, settings, path, db_time)
    fleet = FleetAssessment(
        SqlAssessmentQueue(db.read),
        SqlStoredInventories(db.read, db.engine),
        SqlFindingsWriter(db.write, governance.changed),
        _failed,
        match=assess,  # looked up per round: tests replace it
        on_failure=_failed_node,
    )
    rules, changed = fleet_suppressions(db)
    as_of = assessment_time(db_time, rules, changed, settings.clock.now())
    return fleet.round(
        lambda: _open_vulndb(path, db_time), as_of, settings.clock, limit, suppressions=rules
    )


def _check_freshness(db: Database, settings: ServerSettings, path: Path, db_time: datetime) -> None:
    """Emit ``vulndb.stale`` when the database turns stale (or empty): checked when the file
    changes and every :data:`STALE_CHECK`, announced once per file version."""
    global _freshness
    now = settings.clock.now()
    last = _freshness
    if last is not None and last[:2] == (path, db_time) and now - last[2] < STALE_CHECK:
        return
    store = SqliteVulnDb(path)
    try:
        store.check()
        warning = staleness_warning(store, now, local_settings.vulndb_max_age())
    except PatchwardenError:  # unreadable: assess_pending warns about it
        return
    finally:
        store.close()
    was_stale = last is not None and last[:2] == (path, db_time) and last[3]
    _freshness = (path, db_time, now, warning is not None)
    if warning is not None and not was_stale:
        notifications.emit(db, vulndb_stale(now, str(path), warning))


async def loop(db: Database, settings: ServerSettings, seconds: float) -> None:
    """The background assessment: :func:`assess_pending` every ``seconds``."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(assess_pending, db, settings)
        except Exception:  # retried at the next round
            log.exception("vulnerability assessment round failed")
