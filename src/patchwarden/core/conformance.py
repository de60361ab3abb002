"""Conformance packs (reference §8.3): rules + remediations + parameters as one unit, pack
compliance and the compliance score.

::

    Parameters:
      MaxPatchAgeDays: {Type: Integer, Default: 30}
    Rules:
      - Name: missing-patch-age
        Type: missing-patch-age
        Parameters: {MaxDays: "{{MaxPatchAgeDays}}"}
    Remediations:
      - {ConfigRuleName: missing-patch-age, TargetId: patch-now, Automatic: true, ...}
    Runbooks:                       # optional: runbooks shipped with the pack
      patch-now: {mainSteps: [...]}

Score = 100 x compliant (rule, resource) pairs / all pairs that have a verdict (COMPLIANT or
NON_COMPLIANT; NOT_APPLICABLE pairs are out of scope and INSUFFICIENT_DATA pairs have no
verdict).  A pack without any such pair scores ``None`` (INSUFFICIENT_DATA).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from patchwarden.core.remediation import RemediationConfig, parse_remediation
from patchwarden.core.rules import ComplianceType, Rule, RuleType, parse_rule
from patchwarden.core.runbook import Runbook, parse_runbook
from patchwarden.core.runbook.text import Unresolved, substitute
from patchwarden.errors import InputError

MAX_RULES = 130
MAX_PARAMETERS = 60
_TYPES = {"String": str, "Integer": int, "Boolean": bool, "StringList": list}


@dataclass(frozen=True)
class ConformancePack:
    """A validated pack with its parameters already substituted into its rules."""

    name: str
    parameters: Mapping[str, object]
    rules: tuple[Rule, ...]
    remediations: tuple[RemediationConfig, ...]
    runbooks: tuple[Runbook, ...] = ()


@dataclass(frozen=True)
class PackScore:
    """Pack compliance, the score (``None``: INSUFFICIENT_DATA) and the pair counts."""

    compliance: ComplianceType
    score: float | None
    compliant: int
    non_compliant: int
    rules: Mapping[str, ComplianceType]


def _list(value: object, where: str) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{where}: must be a list")
    return value


def _pack_parameters(raw: object, given: Mapping[str, object], where: str) -> dict[str, object]:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping) or len(raw) > MAX_PARAMETERS:
        raise InputError(f"{where}: must be a mapping of at most {MAX_PARAMETERS} parameters")
    values: dict[str, object] = {}
    for name, body in raw.items():
        if not isinstance(body, Mapping) or set(body) - {"Type", "Default", "Description"}:
            raise InputError(f"{where}.{name}: must be {{Type, Default, Description}}")
        kind = body.get("Type", "String")
        if not isinstance(kind, str) or kind not in _TYPES:
            raise InputError(f"{where}.{name}.Type: must be one of {', '.join(_TYPES)}")
        value = given.get(str(name), body.get("Default"))
        if value is None:
            raise InputError(f"{where}.{name}: no value given and no Default")
        if kind == "Integer" and isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, _TYPES[str(kind)]) or (
            kind == "Integer" and isinstance(value, bool)
        ):
            raise InputError(f"{where}.{name}: must be a {kind}, got {type(value).__name__}")
        values[str(name)] = value
    for name in sorted(set(given) - set(values)):
        raise InputError(f"{where}.{name}: not a parameter of this pack")
    return values


def parse_pack(
    name: str,
    spec: object,
    registry: Mapping[str, RuleType],
    given: Mapping[str, object] | None = None,
    where: str = "spec",
) -> ConformancePack:
    """A :class:`ConformancePack` from a document's ``spec`` and deploy-time parameters."""
    if not isinstance(spec, Mapping):
        raise InputError(f"{where}: must be a mapping")
    unknown = sorted(set(spec) - {"Parameters", "Rules", "Remediations", "Runbooks", "Description"})
    if unknown:
        raise InputError(f"{where}.{unknown[0]}: unknown field")
    params = _pack_parameters(spec.get("Parameters"), dict(given or {}), f"{where}.Parameters")
    rules_raw = _list(spec.get("Rules"), f"{where}.Rules")
    if not rules_raw or len(rules_raw) > MAX_RULES:
        raise InputError(f"{where}.Rules: must hold 1 to {MAX_RULES} rules")
    rules = []
    for index, raw in enumerate(rules_raw):
        at = f"{where}.Rules[{index}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("Name"), str):
            raise InputError(f"{at}.Name: required field is missing")
        body = {k: v for k, v in raw.items() if k != "Name"}
        try:
            body = substitute(body, params)  # type: ignore[assignment]
        except Unresolved as exc:
            raise InputError(f"{at}: {exc} (not a pack parameter)") from None
        rules.append(parse_rule(str(raw["Name"]), body, registry, at))
    names = [rule.name for rule in rules]
    for index, rule_name in enumerate(names):
        if names.index(rule_name) != index:
            raise InputError(f"{where}.Rules[{index}].Name: {rule_name!r} is used twice")
    runbooks_raw = spec.get("Runbooks") or {}
    if not isinstance(runbooks_raw, Mapping):
        raise InputError(f"{where}.Runbooks: must be a mapping of name → runbook")
    runbooks = tuple(
        parse_runbook(str(key), body, f"{where}.Runbooks.{key}")
        for key, body in runbooks_raw.items()
    )
    remediations = []
    for index, raw in enumerate(_list(spec.get("Remediations"), f"{where}.Remediations")):
        at = f"{where}.Remediations[{index}]"
        try:
            raw = substitute(raw, params)
        except Unresolved as exc:
            raise InputError(f"{at}: {exc} (not a pack parameter)") from None
        config = parse_remediation(raw, at)
        if config.rule not in names:
            raise InputError(
                f"{where}.Remediations[{index}].ConfigRuleName: "
                f"no rule {config.rule!r} in this pack"
            )
        remediations.append(config)
    return ConformancePack(name, params, tuple(rules), tuple(remediations), runbooks)


def rule_compliance(verdicts: Mapping[str, ComplianceType]) -> ComplianceType:
    """A rule's summary over its resources (NOT_APPLICABLE-only counts as no data)."""
    values = set(verdicts.values())
    if ComplianceType.NON_COMPLIANT in values:
        return ComplianceType.NON_COMPLIANT
    if ComplianceType.COMPLIANT in values:
        return ComplianceType.COMPLIANT
    return ComplianceType.INSUFFICIENT_DATA


def score(results: Mapping[str, Mapping[str, ComplianceType]]) -> PackScore:
    """Pack compliance and score from rule → resource → latest verdict."""
    summaries = {rule: rule_compliance(verdicts) for rule, verdicts in results.items()}
    compliant = sum(
        1 for v in results.values() for c in v.values() if c is ComplianceType.COMPLIANT
    )
    non_compliant = sum(
        1 for v in results.values() for c in v.values() if c is ComplianceType.NON_COMPLIANT
    )
    total = compliant + non_compliant
    value = round(100.0 * compliant / total, 2) if total else None
    return PackScore(rule_compliance(summaries), value, compliant, non_compliant, summaries)
