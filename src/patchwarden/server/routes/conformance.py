"""``/api/v1/conformance-packs``: deploy (as a unit), list, score, delete (reference §8.3)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body
from sqlalchemy import select

from patchwarden.adapters.storage.governance_tables import ConformancePackRow, RuleRow
from patchwarden.core.conformance import score
from patchwarden.documents import parse_documents
from patchwarden.documents.governance import ConformancePackDocument
from patchwarden.errors import PatchwardenError
from patchwarden.server import audit
from patchwarden.server.auth import Operator, Viewer
from patchwarden.server.db import Now, ReadDB, WriteDB
from patchwarden.server.errors import bad_request, not_found
from patchwarden.server.governance import apply, evaluate, store

router = APIRouter(prefix="/api/v1", tags=["governance"])


def _pack_score(session: ReadDB | WriteDB, name: str) -> dict[str, Any]:
    names = list(session.scalars(select(RuleRow.name).where(RuleRow.pack == name)))
    latest = evaluate.results(session)
    result = score({rule: latest.get(rule, {}) for rule in names})
    return {
        "name": name,
        "compliance": result.compliance.value,
        "score": result.score if result.score is not None else "INSUFFICIENT_DATA",
        "compliant_pairs": result.compliant,
        "non_compliant_pairs": result.non_compliant,
        "rules": {k: v.value for k, v in sorted(result.rules.items())},
    }


@router.get("/conformance-packs")
def list_packs(_: Viewer, session: ReadDB) -> dict[str, Any]:
    """Deployed packs with their compliance and score."""
    rows = session.scalars(select(ConformancePackRow).order_by(ConformancePackRow.name))
    return {
        "packs": [
            {**_pack_score(session, r.name), "status": r.status, "parameters": r.parameters}
            for r in rows
        ]
    }


@router.get("/conformance-packs/{name}/score")
def pack_score(name: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
    """Pack compliance and compliance score (reference §8.3)."""
    if session.get(ConformancePackRow, name) is None:
        raise not_found(f"conformance pack {name}")
    return _pack_score(session, name)


@router.put("/conformance-packs/{name}")
def deploy_pack(
    name: str,
    who: Operator,
    session: WriteDB,
    at: Now,
    document: Any = Body(),
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Deploy or update a pack document with deploy-time parameters; its rules are
    evaluated once on every node right away."""
    import json

    try:
        (doc,) = parse_documents(json.dumps(document), "document.json")
        if not isinstance(doc, ConformancePackDocument) or doc.name != name:
            raise bad_request(f"body: a ConformancePack document named {name!r}")
        created = apply.deploy(session, doc, parameters or {}, at)
    except PatchwardenError as exc:
        raise bad_request(str(exc)) from None
    audit.record(session, who, f"pack.{'create' if created else 'update'}", name, at, parameters)
    return {"name": name, "result": "created" if created else "configured"}


@router.delete("/conformance-packs/{name}")
def delete_pack(name: str, who: Operator, session: WriteDB, at: Now) -> dict[str, Any]:
    """Delete a pack with its rules, remediations and runbooks."""
    if not store.delete_pack(session, name):
        raise not_found(f"conformance pack {name}")
    audit.record(session, who, "pack.delete", name, at)
    return {"deleted": name}
