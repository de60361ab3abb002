"""``/api/v1/audit``: the audit log (admin only), newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from patchwarden.adapters.storage.queries import audit as reads
from patchwarden.server.auth import Admin
from patchwarden.server.db import ReadDB

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
MAX_ID = 2**31 - 1
"""The largest id a PostgreSQL ``integer`` holds (a larger ``before`` was a 500 there)."""


@router.get("")
def read_audit(
    _: Admin,
    session: ReadDB,
    action: str | None = None,
    actor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="entries with a smaller id")
    ] = None,
) -> list[dict[str, Any]]:
    """Entries (who, what, when), optionally filtered by action or actor."""
    return reads.entries(session, action=action, actor=actor, limit=limit, before=before)
