"""``/api/v1/rules``, ``/api/v1/evaluations``, ``/api/v1/rule-compliance``, ``/api/v1/runbooks``
and ``/api/v1/governance/settings`` (conformance packs: :mod:`.conformance`).

Rules, runbooks and packs are created with ``POST /api/v1/apply`` (or ``PUT
/api/v1/conformance-packs/{name}`` to deploy a pack with parameters)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from patchwarden.adapters.storage.governance_tables import (
    EvaluationRow,
    ResourceComplianceRow,
    RuleRow,
    RunbookRow,
)
from patchwarden.core.conformance import score
from patchwarden.core.rules import ComplianceType
from patchwarden.errors import PatchwardenError
from patchwarden.server import audit
from patchwarden.server.auth import Admin, Operator, Viewer
from patchwarden.server.db import Now, ReadDB, WriteDB
from patchwarden.server.errors import bad_request, not_found
from patchwarden.server.governance import evaluate, store
from patchwarden.server.schemas import Body as StrictBody

router = APIRouter(prefix="/api/v1", tags=["governance"])


class EvaluateBody(StrictBody):
    """``POST /api/v1/rules/evaluate``: one rule, or all when ``rule`` is empty."""

    rule: str | None = None


class ShellSetting(StrictBody):
    """``PUT /api/v1/governance/settings``."""

    RunShellScriptEnabled: bool


def _rule_view(row: RuleRow, latest: dict[str, ComplianceType]) -> dict[str, Any]:
    counts = {c.value: sum(1 for v in latest.values() if v is c) for c in ComplianceType}
    summary = score({row.name: latest}).rules.get(row.name, ComplianceType.INSUFFICIENT_DATA)
    return {
        "name": row.name,
        "type": row.type,
        "pack": row.pack,
        "compliance": summary.value,
        "counts": counts,
        "document": row.document,
        "modified_at": row.modified_at,
    }


@router.get("/rules")
def list_rules(_: Viewer, session: ReadDB) -> dict[str, Any]:
    """Every rule with its compliance summary."""
    latest = evaluate.results(session)
    rows = session.scalars(select(RuleRow).order_by(RuleRow.name))
    return {"rules": [_rule_view(row, latest.get(row.name, {})) for row in rows]}


@router.get("/rules/{name}")
def get_rule(name: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
    """One rule with its summary and the latest result per resource."""
    row = session.get(RuleRow, name)
    if row is None:
        raise not_found(f"rule {name}")
    latest = evaluate.results(session, name).get(name, {})
    view = _rule_view(row, latest)
    rows = session.scalars(select(ResourceComplianceRow).where(ResourceComplianceRow.rule == name))
    view["resources"] = [
        {
            "resource_id": r.resource_id,
            "compliance": r.compliance,
            "annotation": r.annotation,
            "evaluated_at": r.evaluated_at,
        }
        for r in rows
        if r.resource_id in latest
    ]
    return view


@router.delete("/rules/{name}")
def delete_rule(name: str, who: Operator, session: WriteDB, at: Now) -> dict[str, Any]:
    """Delete a standalone rule (pack rules go with their pack)."""
    try:
        found = store.delete_rule(session, name)
    except PatchwardenError as exc:
        raise bad_request(str(exc)) from None
    if not found:
        raise not_found(f"rule {name}")
    audit.record(session, who, "rule.delete", name, at)
    return {"deleted": name}


@router.post("/rules/evaluate")
def evaluate_rules(who: Operator, session: WriteDB, at: Now, body: EvaluateBody) -> dict[str, Any]:
    """Evaluate one rule (or all) on every active node now."""
    if body.rule is not None and session.get(RuleRow, body.rule) is None:
        raise not_found(f"rule {body.rule}")
    counts = evaluate.on_demand(session, at, body.rule)
    audit.record(session, who, "rules.evaluate", body.rule or "*", at, dict(counts))
    return {"evaluated": dict(counts)}


@router.get("/evaluations")
def list_evaluations(
    _: Viewer,
    session: ReadDB,
    rule: str | None = None,
    resource_id: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Evaluation history, newest first."""
    query = select(EvaluationRow).order_by(EvaluationRow.id.desc()).limit(max(1, min(limit, 1000)))
    if rule:
        query = query.where(EvaluationRow.rule == rule)
    if resource_id:
        query = query.where(EvaluationRow.resource_id == resource_id)
    return {
        "evaluations": [
            {
                "rule": e.rule,
                "resource_id": e.resource_id,
                "compliance": e.compliance,
                "annotation": e.annotation,
                "trigger": e.trigger,
                "evaluated_at": e.evaluated_at,
            }
            for e in session.scalars(query)
        ]
    }


@router.get("/rule-compliance")
def compliance_by_rule(_: Viewer, session: ReadDB) -> dict[str, Any]:
    """Per rule and per resource: the latest compliance (``get compliance --rules``)."""
    latest = evaluate.results(session)
    names = session.scalars(select(RuleRow.name).order_by(RuleRow.name))
    return {
        "rules": [
            {
                "rule": name,
                "compliance": score({name: latest.get(name, {})}).rules[name].value,
                "resources": {k: v.value for k, v in sorted(latest.get(name, {}).items())},
            }
            for name in names
        ]
    }


@router.get("/runbooks")
def list_runbooks(_: Viewer, session: ReadDB) -> dict[str, Any]:
    """Stored runbooks."""
    rows = session.scalars(select(RunbookRow).order_by(RunbookRow.name))
    return {"runbooks": [{"name": r.name, "pack": r.pack, "document": r.document} for r in rows]}


@router.put("/governance/settings")
def put_settings(body: ShellSetting, who: Admin, session: WriteDB, at: Now) -> dict[str, Any]:
    """Admin only: allow runbooks to run RunShellScript (audited)."""
    store.set_shell(session, body.RunShellScriptEnabled, who.actor, at)
    audit.record(
        session,
        who,
        "governance.shell",
        "RunShellScript",
        at,
        {"enabled": body.RunShellScriptEnabled},
    )
    return {"RunShellScriptEnabled": body.RunShellScriptEnabled}


@router.get("/governance/settings")
def get_settings(_: Viewer, session: ReadDB) -> dict[str, Any]:
    """The governance switches."""
    return {"RunShellScriptEnabled": store.shell_enabled(session)}
