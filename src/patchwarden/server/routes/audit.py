"""``/api/v1/audit``: the audit log (admin only), newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from patchwarden.adapters.storage.tables import AuditEntry
from patchwarden.server.auth import Admin
from patchwarden.server.db import ReadDB

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("")
def read_audit(
    _: Admin,
    session: ReadDB,
    action: str | None = None,
    actor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1, description="entries with a smaller id")] = None,
) -> list[dict[str, Any]]:
    """Entries (who, what, when), optionally filtered by action or actor."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if before:
        query = query.where(AuditEntry.id < before)
    return [
        {
            "id": e.id,
            "at": e.at,
            "actor": e.actor,
            "action": e.action,
            "target": e.target,
            "detail": e.detail,
        }
        for e in session.scalars(query)
    ]
