"""``/api/v1/tokens``: operator API tokens (admin only)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from patchwarden.adapters.storage.tables import Token
from patchwarden.server import audit
from patchwarden.server.auth import Admin, make_token
from patchwarden.server.db import Now, ReadDB, WriteDB
from patchwarden.server.errors import conflict, not_found

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


class TokenCreate(BaseModel):
    """A new token: a unique name and a role."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@:-]+$")
    role: Literal["viewer", "operator", "admin"]


def _view(row: Token) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "revoked_at": row.revoked_at,
    }


@router.post("", status_code=201)
def create_token(body: TokenCreate, who: Admin, session: WriteDB, at: Now) -> dict[str, Any]:
    """Create a token; its value is in ``token`` and is shown only this once."""
    if session.scalar(select(Token.id).where(Token.name == body.name)) is not None:
        raise conflict(f"a token named {body.name!r} already exists")
    row, value = make_token(body.name, body.role, who.actor, at)
    session.add(row)
    audit.record(session, who, "token.create", row.id, at, {"name": body.name, "role": body.role})
    return {**_view(row), "token": value}


@router.get("")
def list_tokens(_: Admin, session: ReadDB) -> list[dict[str, Any]]:
    """Every token (never the secrets)."""
    return [_view(t) for t in session.scalars(select(Token).order_by(Token.created_at))]


@router.delete("/{token_id}")
def revoke_token(token_id: str, who: Admin, session: WriteDB, at: Now) -> dict[str, Any]:
    """Revoke a token: it stops working at once."""
    row = session.get(Token, token_id)
    if row is None:
        raise not_found(f"token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = at
        audit.record(session, who, "token.revoke", row.id, at, {"name": row.name})
    return _view(row)
