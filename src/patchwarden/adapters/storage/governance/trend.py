"""Rule compliance over time, rebuilt from the evaluation history (``gov_evaluations``
keeps every evaluation): for each day, rule → resource → the latest verdict at the end of
that day, over the same resources as :func:`.views.results` (active nodes) and the rules
stored now.  Scores are then the core's :func:`~patchwarden.core.conformance.score` of
these results, exactly as :func:`.views.pack_score` scores the latest ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.governance.views import Results
from patchwarden.adapters.storage.governance_tables import EvaluationRow, RuleRow
from patchwarden.adapters.storage.tables import Node
from patchwarden.core.rules import ComplianceType


@dataclass(frozen=True)
class Day:
    """The results as they stood at the end of ``day`` (or at ``until``, for today)."""

    day: date
    results: Results
    evaluated: bool
    """Whether any evaluation of a current rule had happened by then."""


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def daily(session: Session, until: datetime, days: int) -> list[Day]:
    """The last ``days`` days up to ``until`` (its own day last), oldest first."""
    last = until.astimezone(UTC).date()
    wanted = [last - timedelta(days=n) for n in range(days - 1, -1, -1)]
    begin = _start(wanted[0])
    alive = set(session.scalars(select(Node.id).where(Node.deregistered_at.is_(None))))
    created = dict(session.execute(select(RuleRow.name, RuleRow.created_at)).all())

    def kept(rule: str, resource_id: str, at: datetime) -> bool:
        # a rule deleted and created again under its name starts a new history
        born = created.get(rule)
        return resource_id in alive and born is not None and at >= born

    current: dict[str, dict[str, ComplianceType]] = {}
    seen = False
    latest_before = (
        select(func.max(EvaluationRow.id))
        .where(EvaluationRow.evaluated_at < begin)
        .group_by(EvaluationRow.rule, EvaluationRow.resource_id)
    )
    columns = (
        EvaluationRow.rule,
        EvaluationRow.resource_id,
        EvaluationRow.compliance,
        EvaluationRow.evaluated_at,
    )
    for rule, resource_id, compliance, at in session.execute(
        select(*columns).where(EvaluationRow.id.in_(latest_before))
    ):
        if kept(rule, resource_id, at):
            current.setdefault(rule, {})[resource_id] = ComplianceType(compliance)
            seen = True
    window = session.execute(
        select(*columns)
        .where(EvaluationRow.evaluated_at >= begin, EvaluationRow.evaluated_at <= until)
        .order_by(EvaluationRow.evaluated_at, EvaluationRow.id)
    )
    pending = iter(window)
    upcoming = next(pending, None)
    out = []
    for day in wanted:
        end = min(_start(day + timedelta(days=1)), until + timedelta(microseconds=1))
        while upcoming is not None and upcoming[3] < end:
            rule, resource_id, compliance, at = upcoming
            if kept(rule, resource_id, at):
                current.setdefault(rule, {})[resource_id] = ComplianceType(compliance)
                seen = True
            upcoming = next(pending, None)
        snapshot = {rule: dict(verdicts) for rule, verdicts in current.items()}
        out.append(Day(day, snapshot, seen))
    return out


def pack_rules(session: Session) -> dict[str, list[str]]:
    """Each deployed pack's rules (pack → rule names), as :func:`.views.pack_score` takes
    them."""
    out: dict[str, list[str]] = {}
    for name, pack in session.execute(
        select(RuleRow.name, RuleRow.pack).where(RuleRow.pack.is_not(None)).order_by(RuleRow.name)
    ):
        if pack is not None:
            out.setdefault(pack, []).append(name)
    return out
