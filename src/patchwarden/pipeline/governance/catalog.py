"""Stored governance documents, parsed: the rules (those whose type is no longer installed
are skipped), runbooks and remediation configurations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from patchwarden.core.remediation import RemediationConfig, parse_remediation
from patchwarden.core.rules import Rule, parse_rule
from patchwarden.core.runbook import Runbook, parse_runbook
from patchwarden.errors import InputError
from patchwarden.pipeline.governance.ports import RuleCatalog
from patchwarden.pipeline.governance.records import StoredRule
from patchwarden.rule_plugins import active


def rule_of(name: str, spec: Mapping[str, Any]) -> Rule:
    """The core rule of a stored spec."""
    return parse_rule(name, {k: v for k, v in spec.items() if k != "Remediation"}, active())


def parsed(catalog: RuleCatalog) -> list[tuple[StoredRule, Rule]]:
    """Every stored rule with its core rule, by name; rules whose type is no longer
    installed are skipped."""
    found = []
    for stored in catalog.rules():
        try:
            found.append((stored, rule_of(stored.name, stored.spec)))
        except InputError:
            continue
    return found


def rules(catalog: RuleCatalog) -> list[Rule]:
    """Every stored rule that parses against the installed rule types, by name."""
    return [rule for _, rule in parsed(catalog)]


def runbook(catalog: RuleCatalog, name: str) -> Runbook | None:
    """A stored runbook, parsed."""
    stored = catalog.runbook(name)
    return parse_runbook(name, stored.spec) if stored else None


def remediation(catalog: RuleCatalog, rule: str) -> RemediationConfig | None:
    """A rule's remediation configuration, parsed."""
    raw = catalog.remediation(rule)
    return parse_remediation(raw, "Remediation", rule) if raw is not None else None
