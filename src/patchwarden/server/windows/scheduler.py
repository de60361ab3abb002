"""The maintenance-window scheduler inside every server process: a background loop that
runs one round (:func:`patchwarden.pipeline.windows.tick.tick`) every few seconds.

Each round records the scheduled times that came due and advances every active execution,
each step in a database transaction of its own; with several replicas on one PostgreSQL
each scheduled execution is created once and run by one replica at a time (see
:mod:`patchwarden.adapters.storage.windows.executions`).  SQLite (one process) runs the
same code; ``BEGIN IMMEDIATE`` serialises the writers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from starlette.concurrency import run_in_threadpool

from patchwarden.pipeline.windows import tick as rounds
from patchwarden.server.db import Database
from patchwarden.server.settings import ServerSettings
from patchwarden.server.windows.wiring import SessionWindows

log = logging.getLogger("patchwarden.scheduler")
TEST_TICK_ENV = "PATCHWARDEN_SCHEDULER_TEST_TICK"
"""``1`` enables ``POST /api/v1/windows/-/tick`` (tests only: it lets a caller pick now)."""


def tick(db: Database, now: datetime, replica: str = "") -> Counter[str]:
    """One scheduler round at ``now``: due executions, then every active execution."""
    return rounds.tick(SessionWindows(db), now, replica)


@dataclass
class Beat:
    """When this process's scheduler loop started and last finished a round (process
    memory, read by ``/metrics`` as the scheduler's lag)."""

    started: datetime | None = None
    last: datetime | None = None


async def loop(
    db: Database, settings: ServerSettings, seconds: float, beat: Beat | None = None
) -> None:
    """The background scheduler: :func:`tick` every ``seconds`` (each round that succeeds
    noted in ``beat``)."""
    beat = beat if beat is not None else Beat()
    beat.started = settings.clock.now()
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(tick, db, settings.clock.now(), settings.replica_id)
        except Exception:  # retried at the next tick
            log.exception("scheduler tick failed")
        else:
            beat.last = settings.clock.now()
