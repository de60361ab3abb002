"""The audit log: every mutation, written in the transaction that makes it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from patchwarden.adapters.storage import audit_log
from patchwarden.server.auth import Principal
from patchwarden.server.db import WriteDB


def record(
    session: WriteDB,
    who: Principal | str,
    action: str,
    target: str,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one entry (``who`` is a principal or an actor string such as ``system``)."""
    actor = who if isinstance(who, str) else who.actor
    audit_log.record(session, actor, action, target, at, detail)
