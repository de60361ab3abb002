"""Read models of rules, evaluations, runbooks and conformance packs for the API (field
names as the API shows them); compliance summaries and pack scores come from the core's
:func:`~patchwarden.core.conformance.score` over the latest results of active nodes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.governance.documents import SqlDocuments
from patchwarden.adapters.storage.governance_tables import (
    ConformancePackRow,
    EvaluationRow,
    ResourceComplianceRow,
    RuleRow,
    RunbookRow,
)
from patchwarden.adapters.storage.resource_tables import ResourceRow
from patchwarden.adapters.storage.tables import Node
from patchwarden.core.conformance import score
from patchwarden.core.rules import ComplianceType
from patchwarden.core.runbook.destinations import Destinations

Results = dict[str, dict[str, ComplianceType]]
"""rule → resource → latest compliance."""


@dataclass(frozen=True)
class RuleView:
    """A rule with its compliance summary and counts per compliance type."""

    name: str
    type: str
    pack: str | None
    compliance: str
    counts: Mapping[str, int]
    document: Mapping[str, Any]
    modified_at: datetime


@dataclass(frozen=True)
class ResourceResult:
    """The latest result of a rule on one resource."""

    resource_id: str
    compliance: str
    annotation: str
    evaluated_at: datetime


@dataclass(frozen=True)
class EvaluationView:
    """One evaluation of the history."""

    rule: str
    resource_id: str
    compliance: str
    annotation: str
    trigger: str
    evaluated_at: datetime


@dataclass(frozen=True)
class RuleCompliance:
    """A rule's compliance and the latest compliance per resource."""

    rule: str
    compliance: str
    resources: Mapping[str, str]


@dataclass(frozen=True)
class RunbookView:
    """A stored runbook."""

    name: str
    pack: str | None
    document: Mapping[str, Any]


@dataclass(frozen=True)
class PackScoreView:
    """Pack compliance and compliance score (reference §8.3)."""

    name: str
    compliance: str
    score: float | str
    compliant_pairs: int
    non_compliant_pairs: int
    rules: Mapping[str, str]


def results(session: Session, rule: str | None = None) -> Results:
    """rule → resource → latest compliance (active nodes and imported resources only)."""
    alive = set(session.scalars(select(Node.id).where(Node.deregistered_at.is_(None))))
    alive.update(session.scalars(select(ResourceRow.resource_id)))
    query = select(ResourceComplianceRow)
    if rule is not None:
        query = query.where(ResourceComplianceRow.rule == rule)
    out: Results = {}
    for row in session.scalars(query):
        if row.resource_id in alive:
            out.setdefault(row.rule, {})[row.resource_id] = ComplianceType(row.compliance)
    return out


def _rule_view(row: RuleRow, latest: Mapping[str, ComplianceType]) -> RuleView:
    counts = {c.value: sum(1 for v in latest.values() if v is c) for c in ComplianceType}
    summary = score({row.name: latest}).rules.get(row.name, ComplianceType.INSUFFICIENT_DATA)
    return RuleView(
        row.name, row.type, row.pack, summary.value, counts, row.document, row.modified_at
    )


def rules(session: Session) -> list[RuleView]:
    """Every rule with its compliance summary, by name."""
    latest = results(session)
    rows = session.scalars(select(RuleRow).order_by(RuleRow.name))
    return [_rule_view(row, latest.get(row.name, {})) for row in rows]


def rule(session: Session, name: str) -> tuple[RuleView, list[ResourceResult]] | None:
    """One rule with its summary and the latest result per active resource."""
    row = session.get(RuleRow, name)
    if row is None:
        return None
    latest = results(session, name).get(name, {})
    found = session.scalars(select(ResourceComplianceRow).where(ResourceComplianceRow.rule == name))
    resources = [
        ResourceResult(r.resource_id, r.compliance, r.annotation, r.evaluated_at)
        for r in found
        if r.resource_id in latest
    ]
    return _rule_view(row, latest), resources


def rule_exists(session: Session, name: str) -> bool:
    """Whether a rule of that name is stored."""
    return session.get(RuleRow, name) is not None


def evaluations(
    session: Session, rule: str | None, resource_id: str | None, limit: int
) -> list[EvaluationView]:
    """Evaluation history, newest first, at most ``limit`` (1 to 1,000)."""
    query = select(EvaluationRow).order_by(EvaluationRow.id.desc()).limit(max(1, min(limit, 1000)))
    if rule:
        query = query.where(EvaluationRow.rule == rule)
    if resource_id:
        query = query.where(EvaluationRow.resource_id == resource_id)
    return [
        EvaluationView(e.rule, e.resource_id, e.compliance, e.annotation, e.trigger, e.evaluated_at)
        for e in session.scalars(query)
    ]


def rule_compliance(session: Session) -> list[RuleCompliance]:
    """Per rule (by name) and per resource: the latest compliance."""
    latest = results(session)
    names = session.scalars(select(RuleRow.name).order_by(RuleRow.name))
    return [
        RuleCompliance(
            name,
            score({name: latest.get(name, {})}).rules[name].value,
            {k: v.value for k, v in sorted(latest.get(name, {}).items())},
        )
        for name in names
    ]


def runbooks(session: Session) -> list[RunbookView]:
    """Stored runbooks, by name."""
    rows = session.scalars(select(RunbookRow).order_by(RunbookRow.name))
    return [RunbookView(r.name, r.pack, r.document) for r in rows]


def pack_score(session: Session, name: str) -> PackScoreView | None:
    """A deployed pack's compliance and score (``None``: no such pack)."""
    if session.get(ConformancePackRow, name) is None:
        return None
    return _pack_score(session, name)


def _pack_score(session: Session, name: str) -> PackScoreView:
    names = list(session.scalars(select(RuleRow.name).where(RuleRow.pack == name)))
    latest = results(session)
    result = score({rule: latest.get(rule, {}) for rule in names})
    return PackScoreView(
        name=name,
        compliance=result.compliance.value,
        score=result.score if result.score is not None else "INSUFFICIENT_DATA",
        compliant_pairs=result.compliant,
        non_compliant_pairs=result.non_compliant,
        rules={k: v.value for k, v in sorted(result.rules.items())},
    )


def packs(session: Session) -> list[tuple[PackScoreView, str, Mapping[str, Any]]]:
    """Deployed packs by name: their score, status and deploy-time parameters."""
    rows = session.scalars(select(ConformancePackRow).order_by(ConformancePackRow.name))
    return [(_pack_score(session, r.name), r.status, r.parameters) for r in rows]


def shell_enabled(session: Session) -> bool:
    """Whether an admin enabled RunShellScript in runbooks."""
    return SqlDocuments(session).shell_enabled()


def destinations(session: Session) -> Destinations:
    """The webhook destinations an admin configured."""
    return SqlDocuments(session).destinations()
