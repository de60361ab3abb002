"""The fleet's compliance counts per day (``compliance_history``): today's row is rewritten
by every round of the server's history loop, so a day keeps its last counts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from patchwarden.adapters.storage.tables import ComplianceDay


def record_day(sessions: sessionmaker[Session], day: date, counts: Mapping[str, int]) -> None:
    """Replace the counts of ``day`` (a replica writing the same day at the same moment
    wins; the other's equal numbers are simply not written)."""
    try:
        with sessions() as session, session.begin():
            session.execute(delete(ComplianceDay).where(ComplianceDay.day == day))
            session.add_all(ComplianceDay(day=day, state=s, nodes=n) for s, n in counts.items())
    except IntegrityError:
        pass


def days(session: Session, since: date) -> dict[date, dict[str, int]]:
    """The recorded counts from ``since`` on, by day."""
    found: dict[date, dict[str, int]] = {}
    rows = session.execute(
        select(ComplianceDay.day, ComplianceDay.state, ComplianceDay.nodes)
        .where(ComplianceDay.day >= since)
        .order_by(ComplianceDay.day)
    )
    for day, state, nodes in rows:
        found.setdefault(day, {})[state] = nodes
    return found
