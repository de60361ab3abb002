"""Governance documents: ``Rule``, ``Runbook`` and ``ConformancePack`` (reference §8, §9).

::

    apiVersion: patchwarden/v1
    kind: Rule
    metadata: {name: patch-group-tag}
    spec:
      Type: required-tags
      Parameters: {TagKeys: [Patch Group]}
      Trigger: {ConfigurationChange: true}
      Remediation:                      # optional: the rule's remediation configuration
        TargetId: tag-default-patch-group
        Parameters: {NodeId: {ResourceValue: {Value: RESOURCE_ID}}}
        Automatic: true

The specs are validated by the core (plain values); documents keep the raw spec so the
server can store it and serve it back unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from patchwarden.core.conformance import ConformancePack, parse_pack
from patchwarden.core.remediation import RemediationConfig, parse_remediation
from patchwarden.core.rules import Rule, parse_rule
from patchwarden.core.runbook import Runbook, parse_runbook
from patchwarden.documents.envelope import Metadata, stored
from patchwarden.errors import InputError
from patchwarden.rule_plugins import active


@dataclass(frozen=True)
class RuleDocument:
    """A loaded ``Rule`` (with its optional remediation configuration)."""

    name: str
    rule: Rule
    remediation: RemediationConfig | None
    spec: Mapping[str, object]
    source: str
    description: str | None = None
    kind: str = "Rule"

    def to_json(self) -> dict[str, Any]:
        """The document as stored and served back."""
        return stored(self.kind, self.name, dict(self.spec), self.description)


@dataclass(frozen=True)
class RunbookDocument:
    """A loaded ``Runbook``."""

    name: str
    runbook: Runbook
    spec: Mapping[str, object]
    source: str
    description: str | None = None
    kind: str = "Runbook"

    def to_json(self) -> dict[str, Any]:
        """The document as stored and served back."""
        return stored(self.kind, self.name, dict(self.spec), self.description)


@dataclass(frozen=True)
class ConformancePackDocument:
    """A loaded ``ConformancePack`` (validated with its parameter defaults)."""

    name: str
    pack: ConformancePack
    spec: Mapping[str, object]
    source: str
    description: str | None = None
    kind: str = "ConformancePack"

    def to_json(self) -> dict[str, Any]:
        """The document as stored and served back."""
        return stored(self.kind, self.name, dict(self.spec), self.description)


def _spec(spec: object) -> dict[str, object]:
    if not isinstance(spec, Mapping):
        raise InputError(f"spec: must be a mapping, got {type(spec).__name__}")
    return dict(spec)


def load_rule_document(metadata: Metadata, spec: object, source: str) -> RuleDocument:
    """Validate a ``Rule`` against the active rule types."""
    body = _spec(spec)
    rule_spec = {k: v for k, v in body.items() if k != "Remediation"}
    rule = parse_rule(metadata.name, rule_spec, active())
    remediation = None
    if body.get("Remediation") is not None:
        remediation = parse_remediation(body["Remediation"], "spec.Remediation", metadata.name)
        if remediation.rule != metadata.name:
            raise InputError("spec.Remediation.ConfigRuleName: must be this rule's name")
    return RuleDocument(metadata.name, rule, remediation, body, source, metadata.description)


def load_runbook_document(metadata: Metadata, spec: object, source: str) -> RunbookDocument:
    """Validate a ``Runbook``."""
    body = _spec(spec)
    runbook = parse_runbook(metadata.name, body)
    return RunbookDocument(metadata.name, runbook, body, source, metadata.description)


def load_pack_document(metadata: Metadata, spec: object, source: str) -> ConformancePackDocument:
    """Validate a ``ConformancePack`` with its parameter defaults."""
    body = _spec(spec)
    pack = parse_pack(metadata.name, body, active())
    return ConformancePackDocument(metadata.name, pack, body, source, metadata.description)
