"""Storing governance documents: Rule (with its remediation), Runbook, and conformance packs
deployed, updated and deleted as a unit (their rules and runbooks are owned by the pack and
cannot be changed one by one)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.governance_tables import (
    ConformancePackRow,
    GovernanceSetting,
    RemediationConfigRow,
    RemediationStateRow,
    ResourceComplianceRow,
    RuleRow,
    RunbookRow,
)
from patchwarden.core.conformance import ConformancePack, parse_pack
from patchwarden.core.remediation import RemediationConfig, parse_remediation
from patchwarden.core.rules import Rule, parse_rule
from patchwarden.core.runbook import Runbook, parse_runbook
from patchwarden.documents.governance import (
    ConformancePackDocument,
    RuleDocument,
    RunbookDocument,
)
from patchwarden.errors import InputError
from patchwarden.rule_plugins import active

SHELL_SETTING = "RunShellScriptEnabled"
GovernanceDocument = RuleDocument | RunbookDocument | ConformancePackDocument


def _owned(row: RuleRow | RunbookRow | None, kind: str, name: str, pack: str | None) -> None:
    if row is not None and row.pack != pack:
        owner = f"conformance pack {row.pack!r}" if row.pack else "a standalone document"
        raise InputError(f"{kind} {name!r} belongs to {owner}; change it there")


def put_rule(
    session: Session, name: str, spec: Mapping[str, Any], at: datetime, pack: str | None = None
) -> bool:
    """Create or replace a rule (and its remediation configuration); True when created."""
    row = session.get(RuleRow, name)
    _owned(row, "rule", name, pack)
    rule = rule_of(name, dict(spec))
    document = {
        "apiVersion": "patchwarden/v1",
        "kind": "Rule",
        "metadata": {"name": name},
        "spec": dict(spec),
    }
    if row is None:
        session.add(
            RuleRow(
                name=name,
                type=rule.type,
                document=document,
                pack=pack,
                created_at=at,
                modified_at=at,
                last_periodic_at=None,
            )
        )
    else:
        row.type, row.document, row.modified_at = rule.type, document, at
    remediation = spec.get("Remediation")
    session.execute(delete(RemediationConfigRow).where(RemediationConfigRow.rule == name))
    if remediation is not None:
        put_remediation(session, name, remediation, at, pack)
    session.flush()
    return row is None


def put_remediation(
    session: Session, rule: str, raw: object, at: datetime, pack: str | None
) -> None:
    """Store a remediation configuration of ``rule``."""
    config = parse_remediation(raw, "Remediation", rule)
    session.merge(
        RemediationConfigRow(
            rule=rule,
            runbook=config.runbook,
            config=dict(raw),  # type: ignore[call-overload]
            pack=pack,
            modified_at=at,
        )
    )


def put_runbook(
    session: Session, name: str, spec: Mapping[str, Any], at: datetime, pack: str | None = None
) -> bool:
    """Create or replace a runbook; True when created."""
    row = session.get(RunbookRow, name)
    _owned(row, "runbook", name, pack)
    parse_runbook(name, dict(spec))
    document = {
        "apiVersion": "patchwarden/v1",
        "kind": "Runbook",
        "metadata": {"name": name},
        "spec": dict(spec),
    }
    if row is None:
        session.add(
            RunbookRow(name=name, document=document, pack=pack, created_at=at, modified_at=at)
        )
    else:
        row.document, row.modified_at = document, at
    session.flush()
    return row is None


def delete_rule(session: Session, name: str, pack: str | None = None) -> bool:
    """Delete a rule with its remediation, states and latest results (history stays)."""
    row = session.get(RuleRow, name)
    if row is None:
        return False
    _owned(row, "rule", name, pack)
    for table in (RemediationConfigRow, RemediationStateRow, ResourceComplianceRow):
        session.execute(delete(table).where(table.rule == name))
    session.delete(row)
    return True


def deploy_pack(
    session: Session, doc: ConformancePackDocument, given: Mapping[str, object], at: datetime
) -> bool:
    """Deploy or update a pack as a unit: its rules, remediations and runbooks replace the
    previous ones (those no longer in the pack are deleted).  True when created."""
    pack = parse_pack(doc.name, dict(doc.spec), active(), given)
    row = session.get(ConformancePackRow, doc.name)
    for book_spec, book in zip(_runbook_specs(doc), pack.runbooks, strict=True):
        put_runbook(session, book.name, book_spec, at, doc.name)
    remediations = {r["ConfigRuleName"]: r for r in _remediation_specs(doc, pack)}
    for rule in pack.rules:
        spec = rule_spec(rule)
        if rule.name in remediations:
            spec["Remediation"] = remediations[rule.name]
        put_rule(session, rule.name, spec, at, doc.name)
    keep_rules = {r.name for r in pack.rules}
    for old in session.scalars(select(RuleRow).where(RuleRow.pack == doc.name)).all():
        if old.name not in keep_rules:
            delete_rule(session, old.name, doc.name)
    keep_books = {b.name for b in pack.runbooks}
    session.execute(
        delete(RunbookRow).where(RunbookRow.pack == doc.name, RunbookRow.name.not_in(keep_books))
    )
    if row is None:
        session.add(
            ConformancePackRow(
                name=doc.name,
                document=doc.to_json(),
                parameters=dict(pack.parameters),
                status="CREATE_COMPLETE",
                created_at=at,
                modified_at=at,
            )
        )
    else:
        row.document, row.parameters, row.modified_at = doc.to_json(), dict(pack.parameters), at
    session.flush()
    return row is None


def delete_pack(session: Session, name: str) -> bool:
    """Delete a pack with everything it owns."""
    row = session.get(ConformancePackRow, name)
    if row is None:
        return False
    for rule in session.scalars(select(RuleRow).where(RuleRow.pack == name)).all():
        delete_rule(session, rule.name, name)
    session.execute(delete(RunbookRow).where(RunbookRow.pack == name))
    session.delete(row)
    return True


def _runbook_specs(doc: ConformancePackDocument) -> list[dict[str, Any]]:
    raw = doc.spec.get("Runbooks") or {}
    assert isinstance(raw, Mapping)
    return [dict(spec) for spec in raw.values()]


def _remediation_specs(doc: ConformancePackDocument, pack: ConformancePack) -> list[dict[str, Any]]:
    from patchwarden.core.runbook.text import substitute

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


def rule_of(name: str, spec: Mapping[str, Any]) -> Rule:
    """The core rule of a stored spec."""
    return parse_rule(name, {k: v for k, v in spec.items() if k != "Remediation"}, active())


def rules(session: Session) -> list[Rule]:
    """Every stored rule (those whose type is no longer installed are skipped)."""
    found = []
    for row in session.scalars(select(RuleRow).order_by(RuleRow.name)):
        try:
            found.append(rule_of(row.name, row.document["spec"]))
        except InputError:
            continue
    return found


def runbook(session: Session, name: str) -> Runbook | None:
    """A stored runbook, parsed."""
    row = session.get(RunbookRow, name)
    return parse_runbook(name, row.document["spec"]) if row else None


def remediation(session: Session, rule: str) -> RemediationConfig | None:
    """A rule's remediation configuration."""
    row = session.get(RemediationConfigRow, rule)
    return parse_remediation(row.config, "Remediation", rule) if row else None


def shell_enabled(session: Session) -> bool:
    """Whether an admin enabled RunShellScript in runbooks."""
    row = session.get(GovernanceSetting, SHELL_SETTING)
    return bool(row and row.value.get("enabled"))


def set_shell(session: Session, enabled: bool, actor: str, at: datetime) -> None:
    """Enable or disable RunShellScript in runbooks."""
    session.merge(
        GovernanceSetting(
            key=SHELL_SETTING, value={"enabled": enabled}, modified_at=at, modified_by=actor
        )
    )
