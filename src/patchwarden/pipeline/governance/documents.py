"""Storing governance documents: Rule (with its remediation), Runbook, and conformance packs
deployed, updated and deleted as a unit (their rules and runbooks are owned by the pack and
cannot be changed one by one)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from patchwarden.core.conformance import ConformancePack, parse_pack
from patchwarden.core.remediation import parse_remediation
from patchwarden.core.rules import Rule
from patchwarden.core.runbook import parse_runbook
from patchwarden.core.runbook.destinations import runbook_refusal
from patchwarden.core.runbook.text import substitute
from patchwarden.documents.governance import ConformancePackDocument
from patchwarden.errors import InputError
from patchwarden.pipeline.governance.catalog import rule_of
from patchwarden.pipeline.governance.ports import DocumentStore
from patchwarden.pipeline.governance.records import StoredRule, StoredRunbook
from patchwarden.rule_plugins import active


def _owned(
    found: StoredRule | StoredRunbook | None, kind: str, name: str, pack: str | None
) -> None:
    if found is not None and found.pack != pack:
        owner = f"conformance pack {found.pack!r}" if found.pack else "a standalone document"
        raise InputError(f"{kind} {name!r} belongs to {owner}; change it there")


def _envelope(kind: str, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "patchwarden/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": dict(spec),
    }


def put_rule(
    store: DocumentStore,
    name: str,
    spec: Mapping[str, Any],
    at: datetime,
    pack: str | None = None,
) -> bool:
    """Create or replace a rule (and its remediation configuration); True when created."""
    found = store.rule(name)
    _owned(found, "rule", name, pack)
    rule = rule_of(name, dict(spec))
    store.save_rule(name, rule.type, _envelope("Rule", name, spec), pack, at)
    remediation = spec.get("Remediation")
    if remediation is not None:
        config = parse_remediation(remediation, "Remediation", name)
        store.save_remediation(name, config.runbook, dict(remediation), pack, at)
    return found is None


def put_runbook(
    store: DocumentStore,
    name: str,
    spec: Mapping[str, Any],
    at: datetime,
    pack: str | None = None,
) -> bool:
    """Create or replace a runbook; True when created.  A ``notify`` step must name a
    webhook destination an admin configured (never a URL)."""
    found = store.runbook(name)
    _owned(found, "runbook", name, pack)
    book = parse_runbook(name, dict(spec))
    refusal = runbook_refusal(book, store.destinations().urls)
    if refusal is not None:
        raise InputError(refusal)
    store.save_runbook(name, _envelope("Runbook", name, spec), pack, at)
    return found is None


def delete_rule(store: DocumentStore, name: str, pack: str | None = None) -> bool:
    """Delete a rule with its remediation, states and latest results (history stays)."""
    found = store.rule(name)
    if found is None:
        return False
    _owned(found, "rule", name, pack)
    store.delete_rule(name)
    return True


def deploy_pack(
    store: DocumentStore,
    doc: ConformancePackDocument,
    given: Mapping[str, object],
    at: datetime,
) -> bool:
    """Deploy or update a pack as a unit: its rules, remediations and runbooks replace the
    previous ones (those no longer in the pack are deleted).  True when created."""
    pack = parse_pack(doc.name, dict(doc.spec), active(), given)
    created = not store.pack_exists(doc.name)
    for book_spec, book in zip(_runbook_specs(doc), pack.runbooks, strict=True):
        put_runbook(store, book.name, book_spec, at, doc.name)
    remediations = {r["ConfigRuleName"]: r for r in _remediation_specs(doc, pack)}
    for rule in pack.rules:
        spec = rule_spec(rule)
        if rule.name in remediations:
            spec["Remediation"] = remediations[rule.name]
        put_rule(store, rule.name, spec, at, doc.name)
    keep_rules = {r.name for r in pack.rules}
    for old in store.pack_rules(doc.name):
        if old not in keep_rules:
            delete_rule(store, old, doc.name)
    store.delete_runbooks(doc.name, keep={b.name for b in pack.runbooks})
    store.save_pack(doc.name, doc.to_json(), dict(pack.parameters), at)
    return created


def delete_pack(store: DocumentStore, name: str) -> bool:
    """Delete a pack with everything it owns; False when there is no such pack."""
    if not store.pack_exists(name):
        return False
    for rule in store.pack_rules(name):
        delete_rule(store, rule, name)
    store.delete_runbooks(name)
    store.delete_pack(name)
    return True


def _runbook_specs(doc: ConformancePackDocument) -> list[dict[str, Any]]:
    raw = doc.spec.get("Runbooks") or {}
    assert isinstance(raw, Mapping)
    return [dict(spec) for spec in raw.values()]


def _remediation_specs(doc: ConformancePackDocument, pack: ConformancePack) -> list[dict[str, Any]]:
    raw = doc.spec.get("Remediations") or []
    assert isinstance(raw, list)
    return [dict(substitute(item, pack.parameters)) for item in raw]  # type: ignore[call-overload]


def rule_spec(rule: Rule) -> dict[str, Any]:
    """A rule's spec as stored (pack parameters already substituted)."""
    trigger: dict[str, Any] = {"ConfigurationChange": rule.on_change}
    if rule.frequency:
        trigger.update(Periodic=True, MaximumExecutionFrequency=rule.frequency)
    spec: dict[str, Any] = {
        "Type": rule.type,
        "Parameters": _plain(rule.parameters),
        "Trigger": trigger,
    }
    if rule.scope_tags:
        spec["Scope"] = {"Tags": {k: list(v) for k, v in rule.scope_tags.items()}}
    return spec


def _plain(params: Mapping[str, object]) -> dict[str, object]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items() if v is not None}
