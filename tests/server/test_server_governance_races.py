"""Governance state changed by two transactions at once (PostgreSQL: the governance tick,
a node's report and an operator's request run concurrently, on one replica or several).

Every change of a remediation state is read-modify-write: the state read must be the one
the write replaces, or a concurrent change is lost (seen as runs never started, attempts
counted twice, exceptions recorded while a run was still in progress)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from patchwarden.adapters.storage import make_engine
from patchwarden.adapters.storage.governance.remediations import SqlRemediations
from patchwarden.core.remediation import Phase, RemediationState
from patchwarden.pipeline.governance.context import Governance
from patchwarden.server.db import Database
from patchwarden.server.governance.wiring import SessionUnitOfWork

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _blocked_by(db: Database, pid: int) -> int:
    """Backends waiting for a lock ``pid`` holds."""
    with db.engine.connect() as conn:
        found = conn.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
            {"pid": pid},
        ).scalar()
    return int(found or 0)


def test_a_remediation_state_changed_meanwhile_is_not_lost(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite serialises the writers of its one server process")
    db = Database.open(make_engine(db_url))
    try:
        with db.write() as session, session.begin():
            SqlRemediations(session).save("has-owner", "mi-1", RemediationState(), AT)

        # the tick starts a run: IN_PROGRESS, first attempt (not committed yet)
        starting = db.write()
        starting.begin()
        store = SqlRemediations(starting)
        before = store.state("has-owner", "mi-1")
        assert before is not None
        store.save("has-owner", "mi-1", replace(before, phase=Phase.IN_PROGRESS, attempts=1), AT)
        pid = int(starting.execute(text("SELECT pg_backend_pid()")).scalar_one())

        # meanwhile a report's evaluation records the node's compliance
        errors: list[BaseException] = []

        def evaluate() -> None:
            try:
                with db.write() as session, session.begin():
                    other = SqlRemediations(session)
                    seen = other.state("has-owner", "mi-1") or RemediationState()
                    other.save("has-owner", "mi-1", replace(seen, compliance="NON_COMPLIANT"), AT)
            except BaseException as exc:  # reported by the test thread
                errors.append(exc)

        thread = threading.Thread(target=evaluate)
        thread.start()
        deadline = time.monotonic() + 60
        while not _blocked_by(db, pid):  # it waits for the run's transaction, wherever
            assert time.monotonic() < deadline, "the evaluation never waited for the run"
            assert thread.is_alive(), errors
            time.sleep(0.05)
        starting.commit()
        starting.close()
        thread.join()
        assert not errors, errors

        with db.write() as session, session.begin():
            final = SqlRemediations(session).state("has-owner", "mi-1")
        assert final is not None
        assert (final.phase, final.attempts, final.compliance) == (
            Phase.IN_PROGRESS,
            1,
            "NON_COMPLIANT",
        )
    finally:
        db.engine.dispose()


def test_a_governance_transaction_ended_by_a_deadlock_runs_again(db_url: str) -> None:
    """The tick and a report lock two states in opposite orders: PostgreSQL ends one of the
    transactions to break the deadlock; when it is the tick's, it runs again (its webhooks
    were not sent yet) instead of failing the phase and leaving the work to the next tick
    — or, for the outcome of a webhook already sent, to the resend a minute later."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite serialises the writers of its one server process")
    db = Database.open(make_engine(db_url))
    try:
        with db.write() as session, session.begin():
            for node in ("mi-a", "mi-b"):
                SqlRemediations(session).save("has-owner", node, RemediationState(), AT)
        report = db.write()
        report.begin()
        SqlRemediations(report).state("has-owner", "mi-b")  # the report holds b
        report_pid = int(report.execute(text("SELECT pg_backend_pid()")).scalar_one())
        attempts: list[int] = []

        def work(gov: Governance) -> str:
            attempts.append(len(attempts) + 1)
            gov.remediations.state("has-owner", "mi-a")
            gov.remediations.state("has-owner", "mi-b")  # waits for the report (first)
            return "done"

        outcome: list[object] = []

        def tick() -> None:
            try:
                outcome.append(SessionUnitOfWork(db).run(work)[0])
            except BaseException as exc:  # reported by the test thread
                outcome.append(exc)

        thread = threading.Thread(target=tick)
        thread.start()
        deadline = time.monotonic() + 60
        while not _blocked_by(db, report_pid):
            assert time.monotonic() < deadline, "the tick never waited for the report"
            time.sleep(0.05)
        SqlRemediations(report).state("has-owner", "mi-a")  # the cycle: PostgreSQL ends one
        report.commit()
        report.close()
        thread.join()
        assert outcome == ["done"]
        assert attempts == [1, 2]
    finally:
        db.engine.dispose()


def test_the_tick_skips_a_node_whose_states_a_report_holds(db_url: str) -> None:
    """The remediation phase claims all of a node's states or none of them.  A report
    evaluating the node holds one (rule by rule); had the tick claimed another rule's state
    and then re-evaluated the node (a run's ``addTags`` step), each would wait for the
    other.  The node is left to the next tick, and the tick holds none of its states."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite serialises the writers of its one server process")
    db = Database.open(make_engine(db_url))
    try:
        queued = RemediationState(phase=Phase.QUEUED)
        nodes = [f"mi-{i}" for i in range(1, 8)]
        with db.write() as session, session.begin():
            store = SqlRemediations(session)
            for node in nodes:
                store.save("a-rule", node, RemediationState(), AT)
                store.save("b-rule", node, queued, AT)
        report = db.write()
        report.begin()
        SqlRemediations(report).state("a-rule", "mi-3")  # the report evaluates mi-3
        try:
            with db.write() as session, session.begin():
                claimed = SqlRemediations(session).claim((Phase.QUEUED,))
                others = [node for node in nodes if node != "mi-3"]
                assert sorted(t.resource_id for t in claimed) == others
                assert {t.rule for t in claimed} == {"b-rule"}
                with db.write() as other, other.begin():  # mi-3's queued state is free
                    free = text(
                        "SELECT rule FROM gov_remediation_states WHERE resource_id = 'mi-3'"
                        " AND rule = 'b-rule' FOR UPDATE NOWAIT"
                    )
                    assert other.execute(free).scalars().all() == ["b-rule"]
        finally:
            report.rollback()
            report.close()
        with db.write() as session, session.begin():  # the next tick takes it
            claimed = SqlRemediations(session).claim((Phase.QUEUED,))
            assert sorted(t.resource_id for t in claimed) == nodes
    finally:
        db.engine.dispose()
