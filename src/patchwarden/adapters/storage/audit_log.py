"""The audit log's entries: written in the transaction that makes the change, read newest
first."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from patchwarden.adapters.storage.tables import AuditEntry


def record(
    session: Session,
    actor: str,
    action: str,
    target: str,
    at: datetime,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Add one entry."""
    session.add(
        AuditEntry(at=at, actor=actor, action=action, target=target, detail=dict(detail or {}))
    )


class SqlAuditLog:
    """The :class:`~patchwarden.pipeline.fleet.ports.AuditLog` of a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def record(
        self,
        actor: str,
        action: str,
        target: str,
        at: datetime,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Add one entry."""
        record(self._session, actor, action, target, at, detail)
