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
import os
from collections import Counter
from datetime import datetime

from starlette.concurrency import run_in_threadpool

from patchwarden.errors import InputError
from patchwarden.pipeline.windows import tick as rounds
from patchwarden.server.db import Database
from patchwarden.server.settings import ServerSettings
from patchwarden.server.window_wiring import SessionWindows

log = logging.getLogger("patchwarden.scheduler")
INTERVAL_ENV = "PATCHWARDEN_SCHEDULER_INTERVAL"
"""Seconds between ticks (default 15); 0 turns the background loop off (tests then call
:func:`tick` themselves)."""
TEST_TICK_ENV = "PATCHWARDEN_SCHEDULER_TEST_TICK"
"""``1`` enables ``POST /api/v1/windows/-/tick`` (tests only: it lets a caller pick now)."""
DEFAULT_INTERVAL = 15.0


def interval() -> float:
    """The configured tick interval (0: no background loop)."""
    text = os.environ.get(INTERVAL_ENV, "").strip()
    try:
        value = float(text) if text else DEFAULT_INTERVAL
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise InputError(f"{INTERVAL_ENV}: seconds between 0 (off) and 3600, got {text!r}")
    return value


def tick(db: Database, now: datetime, replica: str = "") -> Counter[str]:
    """One scheduler round at ``now``: due executions, then every active execution."""
    return rounds.tick(SessionWindows(db), now, replica)


async def loop(db: Database, settings: ServerSettings, seconds: float) -> None:
    """The background scheduler: :func:`tick` every ``seconds``."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(tick, db, settings.clock(), settings.replica_id)
        except Exception:  # retried at the next tick
            log.exception("scheduler tick failed")
