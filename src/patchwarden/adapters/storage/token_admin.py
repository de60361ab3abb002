"""Operator API tokens as the admin manages them: created (see :func:`.tokens.make_token`)
and revoked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.tables import Token
from patchwarden.adapters.storage.tokens import make_token
from patchwarden.pipeline.fleet.records import TokenRecord


def token_record(row: Token) -> TokenRecord:
    """The row as a plain value (never its secret's hash)."""
    return TokenRecord(
        id=row.id,
        name=row.name,
        role=row.role,
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
    )


class SqlTokens:
    """The :class:`~patchwarden.pipeline.fleet.ports.TokenRepository` of a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def name_taken(self, name: str) -> bool:
        """Whether a token (revoked or not) has this name."""
        return self._session.scalar(select(Token.id).where(Token.name == name)) is not None

    def create(
        self, name: str, role: str, created_by: str, at: datetime
    ) -> tuple[TokenRecord, str]:
        """Store a new token; with its value."""
        row, value = make_token(name, role, created_by, at)
        self._session.add(row)
        return token_record(row), value

    def revoke(self, token_id: str, at: datetime) -> tuple[TokenRecord, bool] | None:
        """Revoke the token (if not yet); the token and whether this revoked it."""
        row = self._session.get(Token, token_id)
        if row is None:
            return None
        revoked = row.revoked_at is None
        if revoked:
            row.revoked_at = at
        return token_record(row), revoked
