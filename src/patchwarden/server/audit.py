"""The audit log: every mutation, written in the transaction that makes it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from patchwarden.adapters.storage.tables import AuditEntry
from patchwarden.server.auth import Principal


def record(
    session: Session,
    who: Principal | str,
    action: str,
    target: str,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one entry (``who`` is a principal or an actor string such as ``system``)."""
    actor = who if isinstance(who, str) else who.actor
    session.add(AuditEntry(at=at, actor=actor, action=action, target=target, detail=detail or {}))
