"""Compliance rules (reference §8.1): an explicit registry of rule types, each with a
parameter schema and a pure ``evaluate(snapshot, params, now) -> Evaluation``.

:data:`RULE_TYPES` holds the managed types; custom types come from the entry point group
``patchwarden.rules`` and are merged in explicitly at start-up with :func:`with_custom`
(the shell discovers them; the core only checks the contract).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from patchwarden.core.rules.definition import FREQUENCIES, Rule, parse_rule
from patchwarden.core.rules.managed import MANAGED
from patchwarden.core.rules.model import (
    ComplianceType,
    Evaluation,
    FindingFact,
    NodeSnapshot,
    PatchFact,
    ResourceSnapshot,
    RuleType,
)
from patchwarden.core.rules.params import ParamSpec, validate_params
from patchwarden.core.rules.resources import RESOURCE_RULES
from patchwarden.errors import InputError

RULE_TYPES: dict[str, RuleType] = {rule.identifier: rule for rule in (*MANAGED, *RESOURCE_RULES)}
"""identifier → managed rule type (the node rules, then those of imported resources)."""


def with_custom(
    registry: Mapping[str, RuleType], custom: Iterable[tuple[str, object]]
) -> dict[str, RuleType]:
    """``registry`` plus custom rule types given as (entry point name, loaded object).

    Each object must be a :class:`RuleType` whose identifier is the entry point name and
    which does not shadow a managed type; anything else is an :class:`InputError`.
    """
    merged = dict(registry)
    for name, candidate in custom:
        if not isinstance(candidate, RuleType):
            raise InputError(f"rule plugin {name!r}: must be a RuleType, got {type(candidate)}")
        if candidate.identifier != name:
            raise InputError(f"rule plugin {name!r}: identifier is {candidate.identifier!r}")
        if name in merged:
            raise InputError(f"rule plugin {name!r}: a rule type of this name already exists")
        merged[name] = candidate
    return merged


def evaluate(
    rule: Rule,
    subject: NodeSnapshot | ResourceSnapshot,
    now: datetime,
    registry: Mapping[str, RuleType] = RULE_TYPES,
) -> Evaluation:
    """The verdict of ``rule`` on a node or an imported resource: NOT_APPLICABLE out of
    scope, else the type's."""
    if not rule.in_scope(subject):
        return Evaluation(ComplianceType.NOT_APPLICABLE, "out of the rule's scope")
    rule_type = registry.get(rule.type)
    if rule_type is None:
        return Evaluation(ComplianceType.INSUFFICIENT_DATA, f"unknown rule type {rule.type!r}")
    if isinstance(subject, NodeSnapshot):
        return rule_type.evaluate(subject, rule.parameters, now)
    if rule_type.evaluate_resource is None:
        return Evaluation(ComplianceType.NOT_APPLICABLE, "this rule judges managed nodes")
    return rule_type.evaluate_resource(subject, rule.parameters, now)


__all__ = [
    "FREQUENCIES",
    "RULE_TYPES",
    "ComplianceType",
    "Evaluation",
    "FindingFact",
    "NodeSnapshot",
    "ParamSpec",
    "PatchFact",
    "ResourceSnapshot",
    "Rule",
    "RuleType",
    "evaluate",
    "parse_rule",
    "validate_params",
    "with_custom",
]
