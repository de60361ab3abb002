"""Rule definitions (what a ``kind: Rule`` document holds) validated from plain values.

::

    Type: required-tags
    Parameters: {TagKeys: [Patch Group]}
    Scope: {ResourceTypes: [Node], Tags: {Environment: [prod]}}
    Trigger: {ConfigurationChange: true, MaximumExecutionFrequency: Six_Hours}

The trigger is change-triggered, periodic or both (reference §8.1); periodic alone defaults
to TwentyFour_Hours and a rule without a ``Trigger`` is change-triggered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from patchwarden.core.rules.model import NodeSnapshot, ResourceSnapshot, RuleType
from patchwarden.core.rules.params import validate_params
from patchwarden.errors import InputError

FREQUENCIES: dict[str, timedelta] = {
    "One_Hour": timedelta(hours=1),
    "Three_Hours": timedelta(hours=3),
    "Six_Hours": timedelta(hours=6),
    "Twelve_Hours": timedelta(hours=12),
    "TwentyFour_Hours": timedelta(hours=24),
}
NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
RESOURCE_TYPES = ("Node",)


@dataclass(frozen=True)
class Rule:
    """A validated rule: type, complete parameters, scope and trigger."""

    name: str
    type: str
    parameters: Mapping[str, object]
    resource_types: tuple[str, ...] = RESOURCE_TYPES
    scope_tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Tag key → allowed values (empty: any value); every key must match."""
    on_change: bool = True
    frequency: str | None = None
    """MaximumExecutionFrequency when periodic, else ``None``."""

    @property
    def period(self) -> timedelta | None:
        """How often the periodic trigger fires, ``None`` when not periodic."""
        return FREQUENCIES[self.frequency] if self.frequency else None

    def in_scope(self, node: NodeSnapshot | ResourceSnapshot) -> bool:
        """Whether the rule applies to this resource (type and tag filters)."""
        if node.resource_type not in self.resource_types:
            return False
        for key, values in self.scope_tags.items():
            if key not in node.tags or (values and node.tags[key] not in values):
                return False
        return True


def _mapping(value: object, where: str) -> Mapping[str, object]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"{where}: must be a mapping, got {type(value).__name__}")
    return value


def _scope(
    raw: Mapping[str, object], where: str, judged: tuple[str, ...]
) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """ResourceTypes (a subset of the types the rule type judges, default all) and Tags."""
    unknown = sorted(set(raw) - {"ResourceTypes", "Tags"})
    if unknown:
        raise InputError(f"{where}.{unknown[0]}: unknown field")
    types = raw.get("ResourceTypes", list(judged))
    if not isinstance(types, list) or not types or any(t not in judged for t in types):
        raise InputError(f"{where}.ResourceTypes: must be a list of {', '.join(judged)}")
    tags: dict[str, tuple[str, ...]] = {}
    for key, values in _mapping(raw.get("Tags"), f"{where}.Tags").items():
        if isinstance(values, str):
            values = [values]
        if values is None:
            values = []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InputError(f"{where}.Tags.{key}: must be a string or a list of strings")
        tags[key] = tuple(values)
    return tuple(types), tags


def _trigger(raw: Mapping[str, object], where: str) -> tuple[bool, str | None]:
    unknown = sorted(set(raw) - {"ConfigurationChange", "Periodic", "MaximumExecutionFrequency"})
    if unknown:
        raise InputError(f"{where}.{unknown[0]}: unknown field")
    frequency = raw.get("MaximumExecutionFrequency")
    periodic = raw.get("Periodic", frequency is not None)
    on_change = raw.get("ConfigurationChange", not periodic)
    if not isinstance(periodic, bool) or not isinstance(on_change, bool):
        raise InputError(f"{where}: ConfigurationChange and Periodic must be true or false")
    if frequency is not None and frequency not in FREQUENCIES:
        raise InputError(
            f"{where}.MaximumExecutionFrequency: must be one of {', '.join(FREQUENCIES)}, "
            f"got {frequency!r}"
        )
    if not (periodic or on_change):
        raise InputError(f"{where}: a rule needs a change trigger, a periodic one or both")
    return on_change, (str(frequency or "TwentyFour_Hours") if periodic else None)


def parse_rule(
    name: str, spec: object, registry: Mapping[str, RuleType], where: str = "spec"
) -> Rule:
    """A :class:`Rule` from a document's ``spec``; :class:`InputError` names the field."""
    if not NAME.match(name):
        raise InputError(f"metadata.name: must match {NAME.pattern}, got {name!r}")
    body = _mapping(spec, where)
    unknown = sorted(set(body) - {"Type", "Parameters", "Scope", "Trigger", "Description"})
    if unknown:
        raise InputError(f"{where}.{unknown[0]}: unknown field")
    kind = body.get("Type")
    if not isinstance(kind, str) or kind not in registry:
        raise InputError(
            f"{where}.Type: must be one of {', '.join(sorted(registry))}, got {kind!r}"
        )
    rule_type = registry[str(kind)]
    params = validate_params(
        rule_type.parameters,
        _mapping(body.get("Parameters"), f"{where}.Parameters"),
        f"{where}.Parameters",
    )
    types, tags = _scope(
        _mapping(body.get("Scope"), f"{where}.Scope"), f"{where}.Scope", rule_type.resource_types
    )
    on_change, frequency = _trigger(
        _mapping(body.get("Trigger"), f"{where}.Trigger"), f"{where}.Trigger"
    )
    return Rule(name, rule_type.identifier, params, types, tags, on_change, frequency)
