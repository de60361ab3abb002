"""The audit log, newest first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.tables import AuditEntry


def entries(
    session: Session,
    *,
    action: str | None,
    actor: str | None,
    limit: int,
    before: int | None,
) -> list[dict[str, Any]]:
    """Up to ``limit`` entries with an id below ``before``, of ``action`` by ``actor`` (each
    when given)."""
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
