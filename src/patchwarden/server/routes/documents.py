"""``POST /api/v1/apply``: documents of the kinds the server keeps (``patchwarden apply``)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Body

from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.baselines import SqlBaselines
from patchwarden.documents import BaselineDocument, parse_documents
from patchwarden.documents.window import WindowDocument
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.fleet.baselines import save_baseline
from patchwarden.pipeline.fleet.images import IMAGE_KINDS
from patchwarden.server import audit
from patchwarden.server.auth import Operator
from patchwarden.server.db import Now, WriteDB
from patchwarden.server.errors import bad_request
from patchwarden.server.governance.apply import KINDS as GOVERNANCE_KINDS
from patchwarden.server.governance.apply import apply_document as governance_apply
from patchwarden.server.outcomes import answered
from patchwarden.server.routes.deployments import apply_deployment
from patchwarden.server.routes.images import apply_image
from patchwarden.server.routes.suppressions import apply_suppression
from patchwarden.server.windows.api import store as store_window

router = APIRouter(prefix="/api/v1", tags=["documents"])

SERVED_KINDS = (
    "PatchBaseline", "MaintenanceWindow", *GOVERNANCE_KINDS, *IMAGE_KINDS, "Deployment",
    "Suppression",
)  # fmt: skip
"""Kinds the server stores (others are refused with a clear message)."""


@router.post("/apply")
def apply_documents(
    who: Operator, session: WriteDB, at: Now, documents: Any = Body()
) -> dict[str, Any]:
    """Create or update every document in the list, all or nothing."""
    if not isinstance(documents, list) or not documents:
        raise bad_request("body: expected a non-empty JSON list of documents")
    results = []
    for index, raw in enumerate(documents):
        where = f"documents[{index}]"
        try:
            (doc,) = parse_documents(json.dumps(raw), where + ".json")
        except PatchwardenError as exc:
            raise bad_request(str(exc)) from None
        if isinstance(doc, WindowDocument):
            window, made = store_window(session, doc, at)
            audit.record(session, who, f"window.{'create' if made else 'update'}", doc.name, at)
            results.append(
                {
                    "kind": doc.kind,
                    "name": window.name,
                    "result": "created" if made else "configured",
                }
            )
            continue
        governed = governance_apply(session, who, doc, at)
        if governed is not None:
            results.append(governed)
            continue
        imaged = (
            apply_image(session, who, doc, at)
            or apply_deployment(session, who, doc, at)
            or apply_suppression(session, who, doc, raw, at)
        )
        if imaged is not None:
            results.append(imaged)
            continue
        if not isinstance(doc, BaselineDocument):
            raise bad_request(
                f"{where}: kind {doc.kind} is not kept by the server "
                f"(it serves {', '.join(SERVED_KINDS)})"
            )
        with answered():
            row, created = save_baseline(
                SqlBaselines(session), SqlAuditLog(session), doc, who.actor, at
            )
        action = "created" if created else "configured"
        results.append({"kind": doc.kind, "name": row.name, "result": action})
    return {"applied": results}
