"""Today's compliance counts, recorded every ``history`` interval for the console's trend
(the counts ``GET /api/v1/compliance/summary`` answers, fleet-wide)."""

from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool

from patchwarden.adapters.storage.compliance_history import record_day
from patchwarden.adapters.storage.queries.compliance import fleet_states
from patchwarden.pipeline.fleet.compliance import summarize
from patchwarden.server.db import Database
from patchwarden.server.settings import ServerSettings

log = logging.getLogger("patchwarden.server.history")
STATES = ("COMPLIANT", "NON_COMPLIANT", "UNREPORTED")


def record_today(db: Database, settings: ServerSettings) -> dict[str, int]:
    """Count the fleet's states now and keep them as today's (UTC); the counts."""
    with db.read() as session:
        total = summarize(fleet_states(session, {}), "patch_group")["total"]
    counts = {state: int(total[state]) for state in STATES}
    record_day(db.write, settings.clock.now().date(), counts)
    return counts


async def loop(db: Database, settings: ServerSettings, seconds: float) -> None:
    """:func:`record_today` now and every ``seconds``."""
    while True:
        try:
            await run_in_threadpool(record_today, db, settings)
        except Exception:  # retried at the next round
            log.exception("recording the compliance history failed")
        await asyncio.sleep(seconds)
