"""Rule evaluation: on change (a node's compliance, inventory or tags), on a timer (periodic
rules), when a rule is created, and on demand.  Every evaluation is kept; the latest per
(rule, resource) feeds the remediation state machine."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from patchwarden.core.rules import (
    ComplianceType,
    Evaluation,
    NodeSnapshot,
    ResourceSnapshot,
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
    gov: Governance,
    rules: Iterable[Rule],
    node_ids: Iterable[str],
    trigger: str,
    at: datetime,
    resources: Sequence[ResourceSnapshot] = (),
) -> Counter[str]:
    """Evaluate ``rules`` on the nodes ``node_ids`` and the imported ``resources``; each
    rule judges only the resource types it names.  Counts per compliance type.

    Resource by resource (by id), then rule by rule (by name): the order every governance
    transaction changes remediation states in (:func:`.remediation.lock_order`)."""
    counts: Counter[str] = Counter()
    registry = active()
    snapshots = [snap for snap in map(gov.nodes.snapshot, node_ids) if snap is not None]
    subjects: list[NodeSnapshot | ResourceSnapshot] = [*snapshots, *resources]
    ordered = sorted(rules, key=lambda rule: rule.name)
    for subject in sorted(subjects, key=_ident):
        for rule in ordered:
            if subject.resource_type not in rule.resource_types:
                continue
            verdict = _safely(rule, subject, at, registry)
            record(gov, rule.name, _ident(subject), verdict, trigger, at)
            counts[verdict.compliance.value] += 1
    return counts


def _ident(subject: NodeSnapshot | ResourceSnapshot) -> str:
    return subject.node_id if isinstance(subject, NodeSnapshot) else subject.resource_id


def _safely(
    rule: Rule,
    subject: NodeSnapshot | ResourceSnapshot,
    at: datetime,
    registry: Mapping[str, RuleType],
) -> Evaluation:
    """A rule type that raises (a custom plugin's bug) yields INSUFFICIENT_DATA, never a
    failed request: the agent reporting a change must not pay for it."""
    try:
        return evaluate(rule, subject, at, registry)
    except Exception as exc:
        log.warning("rule %s failed on %s: %s", rule.name, _ident(subject), exc)
        return Evaluation(ComplianceType.INSUFFICIENT_DATA, f"the rule failed: {exc}")


def changed(gov: Governance, node_id: str, at: datetime) -> None:
    """The change trigger: a node's compliance, inventory or tags changed."""
    if not gov.nodes.is_active(node_id):
        return
    triggered = [rule for rule in catalog.rules(gov.catalog) if rule.on_change]
    if triggered:
        run(gov, triggered, [node_id], "ConfigurationChange", at)


def imported(gov: Governance, resources: Sequence[ResourceSnapshot], at: datetime) -> None:
    """The change trigger of imported resources: an import added or changed them."""
    triggered = [rule for rule in catalog.rules(gov.catalog) if rule.on_change]
    if triggered and resources:
        run(gov, triggered, [], "ConfigurationChange", at, resources)


def everything(gov: Governance, rules: Sequence[Rule], trigger: str, at: datetime) -> Counter[str]:
    """``rules`` on every active node and every imported resource."""
    return run(gov, rules, gov.nodes.active(), trigger, at, gov.resources.all())


def created(gov: Governance, names: Iterable[str], at: datetime) -> None:
    """Rules just created or changed: evaluated once on every active node and imported
    resource (as Config does when a rule is created)."""
    wanted = set(names)
    rules = [rule for rule in catalog.rules(gov.catalog) if rule.name in wanted]
    if rules:
        everything(gov, rules, "Created", at)


def on_demand(gov: Governance, at: datetime, name: str | None = None) -> Counter[str]:
    """``rules evaluate [NAME]``: every rule (or one) on every active node and resource."""
    rules = [rule for rule in catalog.rules(gov.catalog) if name is None or rule.name == name]
    return everything(gov, rules, "OnDemand", at)


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
    return everything(gov, due, "ScheduledNotification", at)
