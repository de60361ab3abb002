"""The server's own ``db update`` on a schedule (``PATCHWARDEN_DB_UPDATE_EVERY``, off by
default): the same use case as the CLI's (:func:`patchwarden.pipeline.dbupdate.update`) on
the server's vulnerability database, every so often.  A newer database file makes every
node pending (:mod:`patchwarden.server.vulns`), so new CVEs reach the findings without an
inventory upload.  Each update is audited (``vulndb.update``, actor ``scheduler``) and the
last outcome is served with the database's status (``GET /api/v1/findings/database``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool

from patchwarden import settings as local_settings
from patchwarden.adapters.storage import events
from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.core.events import vulndb_updated
from patchwarden.errors import PatchwardenError
from patchwarden.server.db import Database
from patchwarden.server.settings import DB_URLS_ENV, ServerSettings

log = logging.getLogger("patchwarden.server.vulndb")
SCHEDULER = "scheduler"


@dataclass(frozen=True)
class UpdateOutcome:
    """What the last scheduled update did."""

    at: datetime
    ok: bool
    message: str
    feeds: tuple[tuple[str, int, bool], ...] = ()
    """``(feed, advisories, modified)`` per file read."""

    def view(self) -> dict[str, Any]:
        """As the API answers it."""
        return {
            "at": self.at.isoformat(),
            "ok": self.ok,
            "message": self.message,
            "feeds": [{"feed": f, "records": n, "modified": m} for f, n, m in self.feeds],
        }


_last: UpdateOutcome | None = None
"""The last update of this process (module state: one process, one database)."""


def last_update() -> UpdateOutcome | None:
    """The outcome of this process's last scheduled update."""
    return _last


def update_now(db: Database, settings: ServerSettings) -> UpdateOutcome:
    """One update of the server's database from the configured feeds."""
    from patchwarden.adapters.feeds import select_feeds, url_overrides
    from patchwarden.adapters.http import HttpDownloader
    from patchwarden.adapters.vulndb import SqliteVulnDb
    from patchwarden.pipeline import dbupdate

    global _last
    conf = settings.db_updates
    at = settings.clock.now()
    store = SqliteVulnDb(settings.vulndb_path)
    try:
        feeds = select_feeds(
            [f.name for f in store.feeds()] if settings.vulndb_path.is_file() else [],
            conf.feeds,
            url_overrides(conf.urls, DB_URLS_ENV),
        )
        downloader = HttpDownloader(max_bytes=local_settings.vulndb_max_download())
        try:
            result = dbupdate.update(store, downloader, feeds, at)
        finally:
            downloader.close()
        changed = tuple((s.feed, s.records, s.modified) for s in result.sources)
        updated = sorted({s.feed for s in result.sources if s.modified})
        message = "updated: " + ", ".join(updated) if updated else "no feed changed"
        outcome = UpdateOutcome(at, True, message, changed)
    except PatchwardenError as exc:
        outcome = UpdateOutcome(at, False, str(exc))
        log.warning("vulnerability database update failed: %s", exc)
    finally:
        store.close()
    with db.write() as session, session.begin():
        SqlAuditLog(session).record(
            SCHEDULER,
            "vulndb.update",
            str(settings.vulndb_path),
            at,
            {"ok": outcome.ok, "message": outcome.message},
        )
        if not outcome.ok or any(modified for _, _, modified in outcome.feeds):
            path = str(settings.vulndb_path)
            events.record(session, vulndb_updated(at, path, outcome.message, outcome.ok))
    _last = outcome
    return outcome


async def loop(db: Database, settings: ServerSettings, seconds: float) -> None:
    """:func:`update_now` at start and every ``seconds``."""
    while True:
        try:
            await run_in_threadpool(update_now, db, settings)
        except Exception:  # retried at the next round
            log.exception("vulnerability database update round failed")
        await asyncio.sleep(seconds)
