"""``POST /api/v1/apply`` for governance documents, inside the request's transaction (the
documents route owns it; applying a document sends no webhook).  Each answer carries
``automatic_actions``: what the document makes the server do on its own, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from patchwarden.documents.envelope import LoadedDocument
from patchwarden.pipeline.governance import apply
from patchwarden.server.auth import Principal
from patchwarden.server.db import Session
from patchwarden.server.governance.wiring import detached

KINDS = apply.KINDS


def apply_document(
    session: Session, who: Principal, doc: LoadedDocument, at: datetime
) -> dict[str, Any] | None:
    """Store a governance document; ``None`` when ``doc`` is of another kind."""
    applied = apply.apply_document(detached(session), who.actor, doc, at)
    if applied is None:
        return None
    return {
        "kind": applied.kind,
        "name": applied.name,
        "result": applied.result,
        "automatic_actions": list(applied.automatic_actions),
    }
