"""Two scheduler replicas (separate engines and connection pools, as two server processes
have) race ``tick`` on one database: exactly one execution per scheduled time, and each
wave's command is created once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fleet_helpers import Api
from sqlalchemy import func, select
from window_helpers import run_all, window

from patchwarden.adapters.storage import make_engine
from patchwarden.adapters.storage.tables import (
    Command,
    WindowExecution,
    WindowTaskCommand,
)
from patchwarden.server.db import Database
from patchwarden.server.windows import scheduler


@pytest.fixture(autouse=True)
def _no_background_scheduler(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PATCHWARDEN_SCHEDULER_INTERVAL", "0")
    yield


def test_two_replicas_race_for_the_same_executions(api: Api, db_url: str) -> None:
    nodes = [api.register(tags={"Role": "web"}) for _ in range(4)]
    doc = window(Schedule="rate(30 minutes)", task={"MaxConcurrency": [1, "50%"]})
    api.ok("POST", "/api/v1/windows", json=doc)
    replicas = [Database.open(make_engine(db_url)) for _ in range(2)]
    errors: list[BaseException] = []
    done: Counter[str] = Counter()
    try:
        for _ in range(8):
            api.clock.advance(15 * 60)
            now = api.clock.now()
            barrier = threading.Barrier(4)

            def race(
                db: Database, name: str, barrier: threading.Barrier = barrier, now: datetime = now
            ) -> None:
                try:
                    barrier.wait()
                    done.update(scheduler.tick(db, now, name))
                except BaseException as exc:  # surfaced below
                    errors.append(exc)

            threads = [
                threading.Thread(target=race, args=(replicas[i % 2], f"replica-{i}"))
                for i in range(4)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            run_all(nodes)
            assert not errors, errors
    finally:
        for db in replicas:
            db.engine.dispose()
    assert done["errors"] == 0
    with replicas[0].read() as session:
        times = session.execute(
            select(WindowExecution.scheduled_for, func.count()).group_by(
                WindowExecution.scheduled_for
            )
        ).all()
        links = session.scalar(select(func.count()).select_from(WindowTaskCommand))
        commands = session.scalar(select(func.count()).select_from(Command))
        statuses = Counter(session.scalars(select(WindowExecution.status)))
    assert len(times) == 4 and all(count == 1 for _, count in times)  # every 30 min for 2 h
    assert {t for t, _ in times} == {
        api.clock.now() - timedelta(minutes=m) for m in (0, 30, 60, 90)
    }
    assert links == commands and links
    assert sum(done[k] for k in ("pending", "skipped_overlapping", "missed")) == 4
    # an execution needs three rounds (three waves): the next time comes due meanwhile
    assert statuses == {"SUCCESS": 1, "SKIPPED_OVERLAPPING": 2, "IN_PROGRESS": 1}, statuses
