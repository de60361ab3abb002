"""The responsibility report: per resource kind, who owns each layer and in what state it
is; per resource, each layer's verdicts.

A layer's checks are the rules of its rule types: the operator's governance rules of that
type when there are any (their parameters and scope), else the type with its default
parameters.  A layer's state is the worst verdict of its checks (NON_COMPLIANT, then
INSUFFICIENT_DATA, COMPLIANT, NOT_APPLICABLE); a layer nothing checks is NOT_CHECKED.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from patchwarden.core.responsibility.kinds import (
    BY_TYPE,
    KINDS,
    Layer,
    Owner,
    ResourceKind,
    owner,
)
from patchwarden.core.rules import (
    RULE_TYPES,
    Evaluation,
    NodeSnapshot,
    ResourceSnapshot,
    Rule,
    RuleType,
    evaluate,
    validate_params,
)

Subject = NodeSnapshot | ResourceSnapshot
NOT_CHECKED = "NOT_CHECKED"
ORDER = ("NON_COMPLIANT", "INSUFFICIENT_DATA", "COMPLIANT", "NOT_APPLICABLE", NOT_CHECKED)
"""States, worst first."""


@dataclass(frozen=True)
class Check:
    """One rule's verdict on one layer of one resource."""

    rule: str
    compliance: str
    annotation: str


@dataclass(frozen=True)
class LayerState:
    """One layer of one resource."""

    layer: Layer
    owner: Owner
    state: str
    checks: tuple[Check, ...] = ()


@dataclass(frozen=True)
class ResourceRow:
    """One resource: its kind, where it comes from and its layers."""

    kind: str
    resource_id: str
    resource_type: str
    name: str
    source: str
    layers: tuple[LayerState, ...]

    @property
    def state(self) -> str:
        """The worst state of its layers."""
        return worst(layer.state for layer in self.layers)


@dataclass(frozen=True)
class KindRow:
    """One row of the matrix: the kind, the owner of each layer, its resources' states."""

    kind: ResourceKind
    resources: int
    states: Mapping[str, int]
    """Resource state → how many resources are in it."""
    layer_states: Mapping[Layer, Mapping[str, int]]

    @property
    def state(self) -> str:
        """The worst state of its resources (NOT_CHECKED when it has none)."""
        return worst(self.states)


@dataclass(frozen=True)
class Report:
    """The whole view."""

    generated_at: datetime
    kinds: tuple[KindRow, ...]
    resources: tuple[ResourceRow, ...]


def worst(states: Iterable[str]) -> str:
    """The worst of ``states`` (NOT_CHECKED for none)."""
    ranked = [ORDER.index(s) for s in states if s in ORDER]
    return ORDER[min(ranked)] if ranked else NOT_CHECKED


def default_rule(rule_type: RuleType) -> Rule:
    """The rule a report uses for a type the operator has no rule of: default parameters,
    every resource type the rule type judges."""
    params = validate_params(rule_type.parameters, {}, rule_type.identifier)
    return Rule(rule_type.identifier, rule_type.identifier, params, rule_type.resource_types)


def checks_for(
    rules: Sequence[Rule], registry: Mapping[str, RuleType] = RULE_TYPES
) -> dict[str, tuple[Rule, ...]]:
    """Rule type → the rules that check it: the operator's, or the default one.  Types
    with required parameters and no rule are skipped (nothing to judge with)."""
    out: dict[str, tuple[Rule, ...]] = {}
    for kind in KINDS:
        for duty in kind.layers.values():
            for identifier in duty.checks:
                own = tuple(rule for rule in rules if rule.type == identifier)
                rule_type = registry.get(identifier)
                if own:
                    out[identifier] = own
                elif rule_type is not None and not any(p.required for p in rule_type.parameters):
                    out[identifier] = (default_rule(rule_type),)
    return out


def _ident(subject: Subject) -> tuple[str, str, str, str]:
    if isinstance(subject, NodeSnapshot):
        name = subject.tags.get("Name") or subject.name
        return subject.node_id, subject.resource_type, name, "patchwarden"
    return subject.resource_id, subject.resource_type, subject.name, subject.source


def judge(
    subject: Subject,
    kind: ResourceKind,
    checks: Mapping[str, tuple[Rule, ...]],
    now: datetime,
    registry: Mapping[str, RuleType] = RULE_TYPES,
) -> ResourceRow:
    """One resource's row: every layer with its owner and its checks' verdicts (rules
    whose scope does not cover the resource are left out, not NOT_APPLICABLE)."""
    resource_id, resource_type, name, source = _ident(subject)
    attributes = subject.attributes if isinstance(subject, ResourceSnapshot) else {}
    layers = []
    for layer, duty in kind.layers.items():
        verdicts = []
        for identifier in duty.checks:
            for rule in checks.get(identifier, ()):
                if not rule.in_scope(subject):
                    continue
                verdict: Evaluation = evaluate(rule, subject, now, registry)
                verdicts.append(Check(rule.name, verdict.compliance.value, verdict.annotation))
        state = worst(v.compliance for v in verdicts)
        layers.append(LayerState(layer, owner(kind, layer, attributes), state, tuple(verdicts)))
    return ResourceRow(kind.name, resource_id, resource_type, name, source, tuple(layers))


def build(
    subjects: Iterable[Subject],
    rules: Sequence[Rule],
    now: datetime,
    registry: Mapping[str, RuleType] = RULE_TYPES,
) -> Report:
    """The report over ``subjects`` (nodes, images, imported resources) with the
    operator's ``rules``; every kind is listed, with or without resources."""
    checks = checks_for(rules, registry)
    rows = []
    for subject in subjects:
        kind = BY_TYPE.get(subject.resource_type)
        if kind is not None:
            rows.append(judge(subject, kind, checks, now, registry))
    order = {kind.name: i for i, kind in enumerate(KINDS)}
    rows.sort(key=lambda r: (order[r.kind], r.name or r.resource_id))
    kinds = []
    for kind in KINDS:
        own = [r for r in rows if r.kind == kind.name]
        layer_states = {
            layer: Counter(next(ls.state for ls in r.layers if ls.layer is layer) for r in own)
            for layer in kind.layers
        }
        kinds.append(KindRow(kind, len(own), Counter(r.state for r in own), layer_states))
    return Report(now, tuple(kinds), tuple(rows))
