"""Rule evaluation: on change (a node's compliance, inventory or tags), on a timer (periodic
rules), when a rule is created, and on demand.  Every evaluation is kept; the latest per
(rule, resource) feeds the remediation state machine."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime

from patchwarden.core.rules import (
    ComplianceType,
    Evaluation,
    NodeSnapshot,
    Rule,
    RuleType,
    evaluate,
)
from patchwarden.pipeline.governance import catalog, remediation
from patchwarden.pipeline.governance.context import Governance
from patchwarden.rule_plugins import active

log = logging.getLogger("patchwarden.governance")


def record(
    gov: Governance, rule: str, node_id: str, verdict: Evaluation, trigger: str, at: datetime
) -> None:
    """Keep one evaluation, make it the latest and tell remediation about it."""
    gov.results.record(rule, node_id, verdict, trigger, at)
    remediation.observe(gov, rule, node_id, verdict.compliance.value, at)


def run(
    gov: Governance, rules: Iterable[Rule], node_ids: Iterable[str], trigger: str, at: datetime
) -> Counter[str]:
    """Evaluate ``rules`` on the nodes ``node_ids``; counts per compliance type."""
    counts: Counter[str] = Counter()
    registry = active()
    snapshots = [snap for snap in map(gov.nodes.snapshot, node_ids) if snap is not None]
    for rule in rules:
        for snap in snapshots:
            verdict = _safely(rule, snap, at, registry)
            record(gov, rule.name, snap.node_id, verdict, trigger, at)
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


def changed(gov: Governance, node_id: str, at: datetime) -> None:
    """The change trigger: a node's compliance, inventory or tags changed."""
    if not gov.nodes.is_active(node_id):
        return
    triggered = [rule for rule in catalog.rules(gov.catalog) if rule.on_change]
    if triggered:
        run(gov, triggered, [node_id], "ConfigurationChange", at)


def created(gov: Governance, names: Iterable[str], at: datetime) -> None:
    """Rules just created or changed: evaluated once on every active node (as Config does
    when a rule is created)."""
    wanted = set(names)
    rules = [rule for rule in catalog.rules(gov.catalog) if rule.name in wanted]
    if rules:
        run(gov, rules, gov.nodes.active(), "Created", at)


def on_demand(gov: Governance, at: datetime, name: str | None = None) -> Counter[str]:
    """``rules evaluate [NAME]``: every rule (or one) on every active node."""
    rules = [rule for rule in catalog.rules(gov.catalog) if name is None or rule.name == name]
    return run(gov, rules, gov.nodes.active(), "OnDemand", at)


def periodic(gov: Governance, at: datetime) -> Counter[str]:
    """Periodic rules whose MaximumExecutionFrequency has elapsed."""
    due = []
    for stored, rule in catalog.parsed(gov.catalog):
        period, ran = rule.period, stored.last_periodic_at
        if period is None:
            continue
        if ran is None or at - ran >= period:
            gov.catalog.mark_periodic(rule.name, at)
            due.append(rule)
    if not due:
        return Counter()
    return run(gov, due, gov.nodes.active(), "ScheduledNotification", at)
