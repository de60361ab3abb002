"""Benchmark: the governance tick's claim of queued remediations on PostgreSQL, against the
row-by-row ``SKIP LOCKED`` claim it replaced, same run.

``SqlRemediations.claim`` locks every state of each resource it claims, or none of that
resource (``FOR UPDATE NOWAIT`` in a savepoint; halves of the list down to the held
resources when one is held), so that a run re-evaluating its node waits for no state.  The
reference is the query it replaced: the states in the phase, ``FOR UPDATE SKIP LOCKED``,
which skips only the held rows themselves.

``--nodes`` nodes each get two states (one QUEUED, one IDLE); another transaction holds
the IDLE state of ``--held`` of them (a report evaluating those nodes).  Best of ``--runs``,
each claim rolled back.  Prints a Markdown table.  Not a test: nothing asserts on time.
Usage: ``.venv/bin/python bench/remediation_claim.py [--nodes 5000] [--runs 3]``
(PostgreSQL at 127.0.0.1:5432, database ``test``, in a schema of its own dropped after).
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from patchwarden.adapters.storage import make_engine
from patchwarden.adapters.storage.governance.remediations import SqlRemediations
from patchwarden.adapters.storage.governance_tables import RemediationStateRow
from patchwarden.adapters.storage.migrate import upgrade
from patchwarden.core.remediation import Phase, RemediationState

AT = datetime(2026, 3, 1, tzinfo=UTC)
URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def skip_locked(session: Session) -> int:
    """The claim it replaced: QUEUED rows, oldest change first, held rows skipped."""
    query = (
        select(RemediationStateRow)
        .where(RemediationStateRow.phase == Phase.QUEUED.value)
        .order_by(RemediationStateRow.updated_at)
        .with_for_update(skip_locked=True)
    )
    return len(session.scalars(query).all())


def all_or_none(session: Session) -> int:
    return len(SqlRemediations(session).claim((Phase.QUEUED,)))


def best(engine: Engine, claim: Callable[[Session], int], runs: int) -> tuple[float, int]:
    fastest, claimed = float("inf"), 0
    for _ in range(runs):
        with Session(engine) as session, session.begin():
            began = time.perf_counter()
            claimed = claim(session)
            fastest = min(fastest, time.perf_counter() - began)
            session.rollback()
    return fastest, claimed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(f"{URL}?options=-csearch_path%3D{schema}")
    try:
        upgrade(engine)
        nodes = [f"mi-{i:06d}" for i in range(args.nodes)]
        with Session(engine) as session, session.begin():
            store = SqlRemediations(session)
            for node in nodes:
                store.save("a-rule", node, RemediationState(), AT)
                store.save("b-rule", node, RemediationState(phase=Phase.QUEUED), AT)
        print(f"{args.nodes} nodes, 2 states each; best of {args.runs}\n")
        print("| nodes held by a report | skip locked: ms (claimed) | all or none: ms (claimed) |")
        print("|---|---|---|")
        for held in (0, 1, 20):
            holder = Session(engine)
            holder.begin()
            step = max(1, args.nodes // max(held, 1))
            for node in nodes[::step][:held]:
                SqlRemediations(holder).state("a-rule", node)
            before, n_before = best(engine, skip_locked, args.runs)
            after, n_after = best(engine, all_or_none, args.runs)
            holder.rollback()
            holder.close()
            print(
                f"| {held} | {before * 1000:.0f} ({n_before}) "
                f"| {after * 1000:.0f} ({n_after}), {after / before:.1f} times |"
            )
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
