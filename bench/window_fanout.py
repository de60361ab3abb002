"""Benchmark: the maintenance-window scheduler when one window fans out to many nodes.

10,000 simulated nodes (rows inserted directly through the storage layer: registration is
not what is measured) carry ``Role=web``; one window targets them with the canary list
``[1, "10%", "50%"]`` (waves of 1, 1,000, 5,000 and 3,999 nodes).  The scheduler's
:func:`patchwarden.server.windows.scheduler.tick` is driven with an injected ``now``:

- **start**: the tick that creates the execution, resolves the 10,000 targets, plans the
  waves and dispatches the canary;
- **wave**: each tick that sees the previous wave finished (its invocations are marked
  Success directly in the database, as agents would report) and dispatches the next one —
  a RunPatchBaseline command with one invocation per node, through the ordinary command
  machinery (``server.commands.send``);
- **idle**: a tick while a 5,000-node wave is in flight (nothing to do but look);
- per invocation dispatched: the summed scheduler time of all dispatching ticks divided by
  the invocations they created.

PostgreSQL (a fresh schema of database ``test``, dropped afterwards) and SQLite (a file in a
temporary directory).  Prints a Markdown table; not a test.  Usage::

    .venv/bin/python bench/window_fanout.py [--nodes 10000] [--backends postgresql,sqlite]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, func, insert, select, text, update

from patchwarden.adapters.storage import make_engine, upgrade
from patchwarden.adapters.storage.tables import Invocation, Node, NodeTag
from patchwarden.documents import parse_documents
from patchwarden.documents.window import WindowDocument
from patchwarden.server.db import Database
from patchwarden.server.windows import scheduler
from patchwarden.server.windows.api import store

PG_URL = os.environ.get(
    "PATCHWARDEN_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = """\
apiVersion: patchwarden/v1
kind: MaintenanceWindow
metadata: {name: fanout}
spec:
  Schedule: at(2026-03-01T12:01:00)
  Duration: 6
  Cutoff: 1
  Targets: [{Key: tag:Role, Values: [web]}]
  Tasks:
    - Name: install
      MaxConcurrency: [1, "10%", "50%"]
      MaxErrors: "10%"
      TaskInvocationParameters:
        RunCommand: {Parameters: {Operation: Install, RebootOption: NoReboot}}
"""


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh, empty database URL of ``backend``."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/server.db"
        return
    schema = f"pw_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def populate(db: Database, count: int) -> None:
    """``count`` nodes tagged Role=web, and the window."""
    nodes = [
        {
            "id": f"mi-{i:017x}",
            "credential_hash": "0" * 64,
            "tags": {"Role": "web"},
            "patch_group": None,
            "registered_at": T0,
            "last_seen_at": T0,
        }
        for i in range(count)
    ]
    with db.write() as session, session.begin():
        session.execute(insert(Node), nodes)
        session.execute(
            insert(NodeTag), [{"node_id": n["id"], "key": "Role", "value": "web"} for n in nodes]
        )
        (doc,) = parse_documents(WINDOW, "fanout.yaml")
        assert isinstance(doc, WindowDocument)
        store(session, doc, T0)


def finish_running(db: Database, now: datetime) -> None:
    """What the agents would do: every running or pending invocation ends Success."""
    with db.write() as session, session.begin():
        session.execute(
            update(Invocation)
            .where(Invocation.status.in_(["Pending", "InProgress"]))
            .values(status="Success", status_details="Success", started_at=now, finished_at=now)
        )


def invocations(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Invocation)) or 0)


def run(backend: str, count: int) -> dict[str, float]:
    with database(backend) as url:
        engine = make_engine(url)
        upgrade(engine)
        db = Database.open(engine)
        populate(db, count)
        now = T0 + timedelta(minutes=1)
        timings: list[tuple[float, int]] = []
        idle = 0.0
        while True:
            before = invocations(db)
            started = time.perf_counter()
            counts = scheduler.tick(db, now, "bench")
            elapsed = time.perf_counter() - started
            created = invocations(db) - before
            if created:
                timings.append((elapsed, created))
                if created >= count // 2:  # measure a look at the big wave in flight
                    started = time.perf_counter()
                    scheduler.tick(db, now + timedelta(seconds=1), "bench")
                    idle = time.perf_counter() - started
            if not counts.get("advanced") and not counts.get("pending"):
                break
            finish_running(db, now)
            now += timedelta(minutes=1)
        engine.dispose()
    dispatched = sum(n for _, n in timings)
    total = sum(t for t, _ in timings)
    return {
        "start_s": timings[0][0],
        "waves": len(timings),
        "dispatched": dispatched,
        "total_s": total,
        "per_invocation_ms": 1000 * total / dispatched,
        "largest_wave_s": max(t for t, _ in timings),
        "idle_s": idle,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--backends", default="postgresql,sqlite")
    args = parser.parse_args()
    print(f"window fan-out to {args.nodes:,} nodes, canary list [1, 10%, 50%]\n")
    print(
        "| backend | waves | invocations | scheduler time | per invocation "
        "| largest wave tick | idle tick (5,000 in flight) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for backend in args.backends.split(","):
        r = run(backend, args.nodes)
        print(
            f"| {backend} | {r['waves']:.0f} | {r['dispatched']:,.0f} | {r['total_s']:.2f} s "
            f"| {r['per_invocation_ms']:.3f} ms | {r['largest_wave_s']:.2f} s "
            f"| {1000 * r['idle_s']:.0f} ms |"
        )


if __name__ == "__main__":
    main()
