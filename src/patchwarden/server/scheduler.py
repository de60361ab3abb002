"""The maintenance-window scheduler inside every server process.

:func:`tick` does one round: for each enabled window it records the scheduled times that
came due (:func:`patchwarden.core.windows.due`) and then advances every active execution.
With several replicas on one PostgreSQL each scheduled execution runs exactly once:

- *creation* is ``INSERT … ON CONFLICT DO NOTHING`` on the unique key (window, scheduled
  time): however many replicas see a time come due, one row exists;
- *running* it happens under a transaction-level advisory lock on the execution
  (``pg_try_advisory_xact_lock``): a replica that does not get the lock leaves the
  execution to the one that has it this round.  Every step is a database transaction, so
  a replica dying mid-step loses nothing and any replica (or the restarted one) resumes.

SQLite (one process) runs the same code; ``BEGIN IMMEDIATE`` serialises the writers.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from patchwarden.adapters.storage.secrets import new_uuid
from patchwarden.adapters.storage.tables import MaintenanceWindow, WindowExecution
from patchwarden.core import windows
from patchwarden.core.windows import ACTIVE, MISSED, Status
from patchwarden.documents.window import spec_of, timing
from patchwarden.server.db import Database
from patchwarden.server.settings import ServerSettings
from patchwarden.server.window_run import advance

log = logging.getLogger("patchwarden.scheduler")
INTERVAL_ENV = "PATCHWARDEN_SCHEDULER_INTERVAL"
"""Seconds between ticks (default 15); 0 turns the background loop off (tests then call
:func:`tick` themselves)."""
TEST_TICK_ENV = "PATCHWARDEN_SCHEDULER_TEST_TICK"
"""``1`` enables ``POST /api/v1/windows/-/tick`` (tests only: it lets a caller pick now)."""
DEFAULT_INTERVAL = 15.0


def interval() -> float:
    """The configured tick interval (0: no background loop)."""
    from patchwarden.errors import InputError

    text = os.environ.get(INTERVAL_ENV, "").strip()
    try:
        value = float(text) if text else DEFAULT_INTERVAL
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise InputError(f"{INTERVAL_ENV}: seconds between 0 (off) and 3600, got {text!r}")
    return value


def _claim(
    session: Session,
    window: MaintenanceWindow,
    at: datetime,
    state: tuple[Status, str],
    now: datetime,
    replica: str,
) -> bool:
    """Create the execution of ``window`` at ``at`` unless a replica already did
    (``INSERT … ON CONFLICT DO NOTHING`` on the unique key)."""
    status, details = state
    over = now if status.terminal else None
    values: dict[str, Any] = {
        "id": new_uuid(),
        "window_id": window.id,
        "scheduled_for": at,
        "status": status.value,
        "status_details": details,
        "document": window.document,
        "targets": [],
        "baselines": {},
        "created_at": now,
        "started_at": over,
        "ended_at": over,
        "claimed_by": replica,
    }
    pg = session.get_bind().dialect.name == "postgresql"
    insert = postgresql.insert if pg else sqlite.insert
    statement = insert(WindowExecution).values(**values)
    statement = statement.on_conflict_do_nothing(index_elements=["window_id", "scheduled_for"])
    return session.scalar(statement.returning(WindowExecution.id)) is not None


def _running(session: Session, window_id: str) -> bool:
    return (
        session.scalar(
            select(WindowExecution.id)
            .where(WindowExecution.window_id == window_id, WindowExecution.status.in_(ACTIVE))
            .limit(1)
        )
        is not None
    )


def schedule_window(db: Database, window_id: str, now: datetime, replica: str) -> Counter[str]:
    """Record what came due for one window (one transaction)."""
    counts: Counter[str] = Counter()
    with db.write() as session, session.begin():
        window = session.get(MaintenanceWindow, window_id)
        if window is None or not window.enabled:
            return counts
        due = windows.due(
            timing(spec_of(window.document["spec"]), anchor=window.created_at),
            now,
            window.handled_until,
        )
        for at in sorted([*due.missed, *due.start]):
            if at in due.missed:
                status, details = Status.FAILED, MISSED
            elif _running(session, window.id):
                status, details = Status.SKIPPED_OVERLAPPING, "the previous execution is running"
            else:
                status, details = Status.PENDING, ""
            if _claim(session, window, at, (status, details), now, replica):
                counts["missed" if at in due.missed else status.value.lower()] += 1
                session.flush()
        changes: dict[str, object] = {"next_execution_at": due.next_run}
        if due.handled_until is not None:
            changes["handled_until"] = due.handled_until
        session.execute(
            update(MaintenanceWindow)
            .where(
                MaintenanceWindow.id == window.id,
                MaintenanceWindow.handled_until <= (due.handled_until or window.handled_until),
            )
            .values(**changes)
        )
    return counts


def _lock_key(execution_id: str) -> int:
    return int.from_bytes(hashlib.sha256(execution_id.encode()).digest()[:8], "big", signed=True)


def run_execution(db: Database, execution_id: str, now: datetime, replica: str) -> bool:
    """Advance one execution if this replica gets its lock (one transaction)."""
    with db.write() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            got = session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _lock_key(execution_id)}
            )
            if not got:
                return False
        execution = session.get(WindowExecution, execution_id, populate_existing=True)
        if execution is None or Status(execution.status).terminal:
            return False
        execution.claimed_by = replica
        advance(session, execution, now)
    return True


def tick(db: Database, now: datetime, replica: str = "") -> Counter[str]:
    """One scheduler round at ``now``: due executions, then every active execution."""
    counts: Counter[str] = Counter()
    with db.read() as session:
        ids = list(session.scalars(select(MaintenanceWindow.id).where(MaintenanceWindow.enabled)))
    for window_id in ids:
        try:
            counts.update(schedule_window(db, window_id, now, replica))
        except Exception:  # one broken window must not stop the others
            log.exception("scheduling window %s failed", window_id)
            counts["errors"] += 1
    with db.read() as session:
        active = list(
            session.scalars(select(WindowExecution.id).where(WindowExecution.status.in_(ACTIVE)))
        )
    for execution_id in active:
        try:
            counts["advanced"] += run_execution(db, execution_id, now, replica)
        except Exception as exc:  # recorded on the execution rather than retried forever
            log.exception("window execution %s failed to advance", execution_id)
            counts["errors"] += 1
            fail(db, execution_id, now, f"internal error: {type(exc).__name__}: {exc}")
    return counts


def fail(db: Database, execution_id: str, now: datetime, details: str) -> None:
    """End an execution that cannot advance as FAILED (its running commands finish)."""
    with db.write() as session, session.begin():
        execution = session.get(WindowExecution, execution_id, with_for_update=True)
        if execution is not None and not Status(execution.status).terminal:
            execution.status, execution.ended_at = Status.FAILED, now
            execution.status_details = details[:250]


async def loop(db: Database, settings: ServerSettings, seconds: float) -> None:
    """The background scheduler: :func:`tick` every ``seconds``."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(tick, db, settings.clock(), settings.replica_id)
        except Exception:  # retried at the next tick
            log.exception("scheduler tick failed")
