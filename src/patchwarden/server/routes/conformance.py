"""``/api/v1/conformance-packs``: deploy (as a unit), list, score, delete (reference §8.3)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Body

from patchwarden.adapters.storage.governance import views
from patchwarden.documents import parse_documents
from patchwarden.documents.governance import ConformancePackDocument
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.governance import operations
from patchwarden.server.auth import Operator, Viewer
from patchwarden.server.db import Now, ReadDB
from patchwarden.server.errors import bad_request, not_found
from patchwarden.server.governance.api import GovernanceDB

router = APIRouter(prefix="/api/v1", tags=["governance"])


@router.get("/conformance-packs")
def list_packs(_: Viewer, session: ReadDB) -> dict[str, Any]:
    """Deployed packs with their compliance and score."""
    return {
        "packs": [
            {**asdict(score), "status": status, "parameters": parameters}
            for score, status, parameters in views.packs(session)
        ]
    }


@router.get("/conformance-packs/{name}/score")
def pack_score(name: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
    """Pack compliance and compliance score (reference §8.3)."""
    found = views.pack_score(session, name)
    if found is None:
        raise not_found(f"conformance pack {name}")
    return asdict(found)


@router.put("/conformance-packs/{name}")
def deploy_pack(
    name: str,
    who: Operator,
    gov: GovernanceDB,
    at: Now,
    document: Any = Body(),
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Deploy or update a pack document with deploy-time parameters; its rules are
    evaluated once on every node right away."""
    try:
        (doc,) = parse_documents(json.dumps(document), "document.json")
        if not isinstance(doc, ConformancePackDocument) or doc.name != name:
            raise bad_request(f"body: a ConformancePack document named {name!r}")
        created = operations.deploy_pack(gov, who.actor, doc, parameters, at)
    except PatchwardenError as exc:
        raise bad_request(str(exc)) from None
    return {"name": name, "result": "created" if created else "configured"}


@router.delete("/conformance-packs/{name}")
def delete_pack(name: str, who: Operator, gov: GovernanceDB, at: Now) -> dict[str, Any]:
    """Delete a pack with its rules, remediations and runbooks."""
    try:
        operations.delete_pack(gov, who.actor, name, at)
    except LookupError:
        raise not_found(f"conformance pack {name}") from None
    return {"deleted": name}
