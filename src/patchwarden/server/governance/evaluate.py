"""Rule evaluation in the server: on change (a node's compliance, inventory or tags), on a
timer (periodic rules), when a rule is created, and on demand.  Every evaluation is kept;
the latest per (rule, resource) feeds the remediation state machine."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage import nodes as node_store
from patchwarden.adapters.storage.governance_tables import (
    EvaluationRow,
    ResourceComplianceRow,
    RuleRow,
)
from patchwarden.adapters.storage.tables import Node
from patchwarden.core.rules import (
    ComplianceType,
    Evaluation,
    NodeSnapshot,
    Rule,
    RuleType,
    evaluate,
)
from patchwarden.rule_plugins import active
from patchwarden.server.governance import remediate, store
from patchwarden.server.governance.codec import snapshot

log = logging.getLogger("patchwarden.governance")


def record(
    session: Session, rule: str, node_id: str, verdict: Evaluation, trigger: str, at: datetime
) -> None:
    """Keep one evaluation, update the latest result and tell remediation about it."""
    session.add(
        EvaluationRow(
            rule=rule,
            resource_id=node_id,
            compliance=verdict.compliance.value,
            annotation=verdict.annotation,
            trigger=trigger,
            evaluated_at=at,
        )
    )
    latest = session.get(ResourceComplianceRow, (rule, node_id))
    if latest is None:
        latest = ResourceComplianceRow(rule=rule, resource_id=node_id, changed_at=at)
        session.add(latest)
    elif latest.compliance != verdict.compliance.value:
        latest.changed_at = at
    latest.compliance = verdict.compliance.value
    latest.annotation = verdict.annotation
    latest.evaluated_at = at
    session.flush()
    remediate.observe(session, rule, node_id, verdict.compliance.value, at)


def run(
    session: Session, rules: Iterable[Rule], targets: Iterable[Node], trigger: str, at: datetime
) -> Counter[str]:
    """Evaluate ``rules`` on ``targets``; counts per compliance type."""
    counts: Counter[str] = Counter()
    registry = active()
    snapshots = [snapshot(session, node) for node in targets]
    for rule in rules:
        for snap in snapshots:
            verdict = _safely(rule, snap, at, registry)
            record(session, rule.name, snap.node_id, verdict, trigger, at)
            counts[verdict.compliance.value] += 1
    return counts


def _safely(
    rule: Rule, snap: NodeSnapshot, at: datetime, registry: Mapping[str, RuleType]
) -> Evaluation:
    """A rule type that raises (a custom plugin's bug) yields INSUFFICIENT_DATA, never a
    failed request: the agent reporting a change must not pay for it."""
    try:
        return evaluate(rule, snap, at, registry)
    except Exception as exc:
        log.warning("rule %s failed on %s: %s", rule.name, snap.node_id, exc)
        return Evaluation(ComplianceType.INSUFFICIENT_DATA, f"the rule failed: {exc}")


def changed(session: Session, node_id: str, at: datetime) -> None:
    """The change trigger: a node's compliance, inventory or tags changed."""
    node = session.get(Node, node_id)
    if node is None or node.deregistered_at is not None:
        return
    triggered = [rule for rule in store.rules(session) if rule.on_change]
    if triggered:
        run(session, triggered, [node], "ConfigurationChange", at)


def on_demand(session: Session, at: datetime, name: str | None = None) -> Counter[str]:
    """``rules evaluate [NAME]``: every rule (or one) on every active node."""
    rules = [rule for rule in store.rules(session) if name is None or rule.name == name]
    return run(session, rules, node_store.active_nodes(session), "OnDemand", at)


def periodic(session: Session, at: datetime) -> Counter[str]:
    """Periodic rules whose MaximumExecutionFrequency has elapsed."""
    due = []
    for rule in store.rules(session):
        period = rule.period
        row = session.get(RuleRow, rule.name)
        if period is None or row is None:
            continue
        if row.last_periodic_at is None or at - row.last_periodic_at >= period:
            row.last_periodic_at = at
            due.append(rule)
    if not due:
        return Counter()
    return run(session, due, node_store.active_nodes(session), "ScheduledNotification", at)


def results(session: Session, rule: str | None = None) -> dict[str, dict[str, ComplianceType]]:
    """rule → resource → latest compliance (active nodes only)."""
    alive = set(session.scalars(select(Node.id).where(Node.deregistered_at.is_(None))))
    query = select(ResourceComplianceRow)
    if rule is not None:
        query = query.where(ResourceComplianceRow.rule == rule)
    out: dict[str, dict[str, ComplianceType]] = {}
    for row in session.scalars(query):
        if row.resource_id in alive:
            out.setdefault(row.rule, {})[row.resource_id] = ComplianceType(row.compliance)
    return out
