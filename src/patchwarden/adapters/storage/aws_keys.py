"""AWS-style access keys bound to operator tokens (the ``/aws/ssm`` endpoint's SigV4).

A key pair is made together with its token (``POST /api/v1/tokens`` with ``aws_keys``)
and acts with the token's role.  SigV4 derives its signing key from the *plain* secret
access key, so the server must hold it as AWS does: it is stored as is, never logged and
never shown again after creation.  Revoking the token disables its keys (the lookup joins
the token and refuses a revoked one); deleting the token row deletes them (ON DELETE
CASCADE).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

from patchwarden.adapters.storage.aws_key_tables import AwsAccessKey
from patchwarden.adapters.storage.tables import Token
from patchwarden.pipeline.fleet.records import AwsKeyPair

ACCESS_KEY_PREFIX = "PWAK"
"""How a Patchwarden access key id starts (AWS's start ``AKIA``/``ASIA``)."""


@dataclass(frozen=True)
class KeyOwner:
    """The token behind an access key (what authorising a signed request needs)."""

    token_id: str
    name: str
    role: str


def new_access_key_id() -> str:
    """``PWAK`` + 16 upper-case base32 characters (80 random bits): 20 characters, like
    AWS's ids."""
    return ACCESS_KEY_PREFIX + base64.b32encode(secrets.token_bytes(10)).decode()


def new_secret_access_key() -> str:
    """40 URL-safe characters (240 random bits), the length of AWS's secret keys."""
    return secrets.token_urlsafe(30)


class SqlAwsKeys:
    """The :class:`~patchwarden.pipeline.fleet.ports.AwsKeyRepository` of a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def create(self, token_id: str, at: datetime) -> AwsKeyPair:
        """A new key pair for the token ``token_id``."""
        self._session.flush()  # the token row first (no relationship orders the inserts)
        pair = AwsKeyPair(new_access_key_id(), new_secret_access_key())
        self._session.add(
            AwsAccessKey(
                access_key_id=pair.access_key_id,
                token_id=token_id,
                secret=pair.secret_access_key,
                created_at=at,
            )
        )
        try:
            self._session.flush()
        except StatementError as exc:
            exc.hide_parameters = True  # the secret must not reach a log with the error
            raise
        return pair


def key_lookup(
    sessions: sessionmaker[Session],
) -> Callable[[str], tuple[str, KeyOwner] | None]:
    """A lookup of (secret, owner) by access key id; None for an unknown key or a key
    whose token is revoked."""

    def lookup(access_key_id: str) -> tuple[str, KeyOwner] | None:
        if not access_key_id.startswith(ACCESS_KEY_PREFIX) or len(access_key_id) > 20:
            return None
        query = (
            select(AwsAccessKey.secret, Token.id, Token.name, Token.role)
            .join(Token, Token.id == AwsAccessKey.token_id)
            .where(AwsAccessKey.access_key_id == access_key_id, Token.revoked_at.is_(None))
        )
        with sessions() as session:
            row = session.execute(query).first()
        if row is None:
            return None
        return row[0], KeyOwner(row[1], row[2], row[3])

    return lookup
