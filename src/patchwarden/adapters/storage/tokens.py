"""Operator API tokens: a new token row with its one-time value, and the stored token an
``Authorization`` header names (the secret is kept as SHA-256 only, see :mod:`.secrets`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from patchwarden.adapters.storage.secrets import hash_secret, new_secret, token_id
from patchwarden.adapters.storage.tables import Token

AuditHook = Callable[[Session, str, str], None]
"""Records the creation of token (id, name) in the same transaction."""

TOKEN_PREFIX = "pwt_"
"""How an operator token's value starts (``pwt_<token id>.<secret>``)."""


@dataclass(frozen=True)
class StoredToken:
    """What authenticating an operator needs of a token row."""

    id: str
    name: str
    role: str
    secret_hash: str
    revoked: bool


def make_token(name: str, role: str, created_by: str, at: datetime) -> tuple[Token, str]:
    """A new token row and its plain-text value (shown once)."""
    ident, secret = token_id(), new_secret()
    row = Token(
        id=ident,
        name=name,
        role=role,
        secret_hash=hash_secret(secret),
        created_at=at,
        created_by=created_by,
        revoked_at=None,
    )
    return row, f"{TOKEN_PREFIX}{ident}.{secret}"


def find_token(sessions: sessionmaker[Session], ident: str) -> StoredToken | None:
    """The token ``ident`` (without its prefix), revoked or not; None when there is none."""
    with sessions() as session:
        row = session.get(Token, ident)
        if row is None:
            return None
        return StoredToken(row.id, row.name, row.role, row.secret_hash, row.revoked_at is not None)


def bootstrap_admin(
    sessions: sessionmaker[Session], name: str, at: datetime, record: AuditHook
) -> str | None:
    """On first start (no token at all), create the admin token ``name`` and return its value
    (shown once); ``None`` when tokens exist.  Safe with several replicas starting at once:
    the unique token name lets exactly one of them win."""
    try:
        with sessions() as session, session.begin():
            if session.scalar(select(Token.id).limit(1)) is not None:
                return None
            row, value = make_token(name, "admin", "system", at)
            session.add(row)
            record(session, row.id, row.name)
    except IntegrityError:
        return None
    return value


def ping(sessions: sessionmaker[Session]) -> None:
    """One round trip to the database (health checks)."""
    with sessions() as session:
        session.execute(select(1))
