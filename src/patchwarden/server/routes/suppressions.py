"""Fleet-wide suppressions: ``Suppression`` documents stored by ``POST /api/v1/apply`` and
applied to every node's findings at its next assessment (``NodeTags`` match node tags).

* ``GET /api/v1/suppressions`` — every rule, in force or expired;
* ``DELETE /api/v1/suppressions/{name}`` — remove one (the nodes are assessed again).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter

from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.images import SqlImageDocuments
from patchwarden.adapters.storage.suppressions import (
    KIND,
    mark_suppressions_changed,
    stored_suppressions,
)
from patchwarden.documents import parse_documents
from patchwarden.documents.suppression import SuppressionDocument
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.fleet.images import apply_image_document
from patchwarden.server.auth import Operator, Viewer
from patchwarden.server.db import Now, ReadDB, WriteDB
from patchwarden.server.errors import bad_request, not_found

router = APIRouter(prefix="/api/v1", tags=["findings"])


def apply_suppression(
    session: Any, who: Any, doc: Any, raw: dict[str, Any], at: datetime
) -> dict[str, Any] | None:
    """``patchwarden apply`` of a ``Suppression`` (None: another kind)."""
    if not isinstance(doc, SuppressionDocument):
        return None
    try:
        result = apply_image_document(
            SqlImageDocuments(session), SqlAuditLog(session), KIND, doc.name, "", raw,
            who.actor, at,
        )  # fmt: skip
    except PatchwardenError as exc:
        raise bad_request(str(exc)) from None
    if result != "unchanged":
        mark_suppressions_changed(session, at)
    return {"kind": KIND, "name": doc.name, "result": result}


@router.get("/suppressions")
def list_suppressions(_: Viewer, session: ReadDB, at: Now) -> list[dict[str, Any]]:
    """Every stored suppression, with whether it is in force now."""
    out = []
    for raw in stored_suppressions(session):
        (doc,) = parse_documents(json.dumps(raw), "suppression.json")
        assert isinstance(doc, SuppressionDocument)
        rule = doc.suppression
        out.append(
            {
                "name": rule.name,
                "reason": rule.reason,
                "vulnerability_ids": list(rule.vulnerability_ids),
                "packages": list(rule.packages),
                "nodes": list(rule.nodes),
                "node_tags": dict(rule.node_tags),
                "expires_at": rule.expires_at.isoformat() if rule.expires_at else None,
                "in_force": rule.in_force(at),
            }
        )
    return out


@router.delete("/suppressions/{name}")
def delete_suppression(name: str, who: Operator, session: WriteDB, at: Now) -> dict[str, Any]:
    """Remove a suppression: its findings are ACTIVE again at the nodes' next assessment."""
    deleted = SqlImageDocuments(session).delete(KIND, name, None)
    if not deleted:
        raise not_found(f"Suppression {name!r}")
    mark_suppressions_changed(session, at)
    SqlAuditLog(session).record(who.actor, "suppression.delete", name, at)
    return {"deleted": deleted}
