"""``patchwarden apply`` for governance documents: store them, audit them and evaluate new
or changed rules once on every active node (as Config does when a rule is created)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from patchwarden.adapters.storage import nodes
from patchwarden.documents.envelope import LoadedDocument
from patchwarden.documents.governance import (
    ConformancePackDocument,
    RuleDocument,
    RunbookDocument,
)
from patchwarden.server import audit
from patchwarden.server.auth import Principal
from patchwarden.server.governance import evaluate, store

KINDS = ("Rule", "Runbook", "ConformancePack")


def _evaluate_once(session: Session, names: set[str], at: datetime) -> None:
    rules = [rule for rule in store.rules(session) if rule.name in names]
    if rules:
        evaluate.run(session, rules, nodes.active_nodes(session), "Created", at)


def deploy(
    session: Session, doc: ConformancePackDocument, parameters: Mapping[str, object], at: datetime
) -> bool:
    """Deploy (or update) a pack as a unit and evaluate its rules once; True when created."""
    created = store.deploy_pack(session, doc, parameters, at)
    _evaluate_once(session, {rule.name for rule in doc.pack.rules}, at)
    return created


def apply_document(
    session: Session, who: Principal, doc: LoadedDocument, at: datetime
) -> dict[str, Any] | None:
    """Store a governance document; ``None`` when ``doc`` is of another kind."""
    if isinstance(doc, RuleDocument):
        created = store.put_rule(session, doc.name, dict(doc.spec), at)
        _evaluate_once(session, {doc.name}, at)
        noun = "rule"
    elif isinstance(doc, RunbookDocument):
        created = store.put_runbook(session, doc.name, dict(doc.spec), at)
        noun = "runbook"
    elif isinstance(doc, ConformancePackDocument):
        created = deploy(session, doc, {}, at)
        noun = "pack"
    else:
        return None
    audit.record(session, who, f"{noun}.{'create' if created else 'update'}", doc.name, at)
    return {"kind": doc.kind, "name": doc.name, "result": "created" if created else "configured"}
