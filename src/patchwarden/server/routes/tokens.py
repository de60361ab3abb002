"""``/api/v1/tokens``: operator API tokens (admin only)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.aws_keys import SqlAwsKeys
from patchwarden.adapters.storage.queries import access as reads
from patchwarden.adapters.storage.token_admin import SqlTokens
from patchwarden.pipeline.fleet import access
from patchwarden.pipeline.fleet.records import TokenRecord
from patchwarden.server.auth import Admin
from patchwarden.server.db import Now, ReadDB, WriteDB
from patchwarden.server.outcomes import answered

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


class TokenCreate(BaseModel):
    """A new token: a unique name and a role."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@:-]+$")
    role: Literal["viewer", "operator", "admin"]
    aws_keys: bool = Field(
        default=False,
        description="also make an AWS access key pair acting with the token's role "
        "(the /aws/ssm endpoint, docs/aws-api.md); shown only in this answer",
    )


def _view(row: TokenRecord) -> dict[str, Any]:
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
    """Create a token; its value is in ``token`` and is shown only this once (with
    ``aws_keys``, so are ``aws_access_key_id`` and ``aws_secret_access_key``)."""
    tokens, audit = SqlTokens(session), SqlAuditLog(session)
    with answered():
        if not body.aws_keys:
            row, value = access.create_token(tokens, audit, body.name, body.role, who.actor, at)
            return {**_view(row), "token": value}
        row, value, pair = access.create_token_with_aws_keys(
            tokens, SqlAwsKeys(session), audit, body.name, body.role, who.actor, at
        )
    return {
        **_view(row),
        "token": value,
        "aws_access_key_id": pair.access_key_id,
        "aws_secret_access_key": pair.secret_access_key,
    }


@router.get("")
def list_tokens(_: Admin, session: ReadDB) -> list[dict[str, Any]]:
    """Every token (never the secrets)."""
    return [_view(t) for t in reads.tokens(session)]


@router.delete("/{token_id}")
def revoke_token(token_id: str, who: Admin, session: WriteDB, at: Now) -> dict[str, Any]:
    """Revoke a token: it stops working at once."""
    with answered():
        row = access.revoke_token(SqlTokens(session), SqlAuditLog(session), token_id, who.actor, at)
    return _view(row)
