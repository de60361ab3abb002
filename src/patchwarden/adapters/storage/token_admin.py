"""Operator API tokens as the admin manages them: created (see :func:`.tokens.make_token`)
and revoked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.engine import database_problem
from patchwarden.adapters.storage.migrate import current
from patchwarden.adapters.storage.tables import Token
from patchwarden.adapters.storage.tokens import make_token
from patchwarden.errors import EnvironmentProblem
from patchwarden.pipeline.fleet import access
from patchwarden.pipeline.fleet.records import TokenRecord

SYSTEM = "system"
"""The audit log's actor for what the server's own command line does."""


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

    def active_admins(self) -> list[str]:
        """The ids of the admin tokens not revoked, locked until the transaction ends."""
        query = (
            select(Token.id)
            .where(Token.role == "admin", Token.revoked_at.is_(None))
            .order_by(Token.id)
            .with_for_update()
        )
        return list(self._session.scalars(query))

    def revoke(self, token_id: str, at: datetime) -> tuple[TokenRecord, bool] | None:
        """Revoke the token (if not yet); the token and whether this revoked it."""
        row = self._session.get(Token, token_id)
        if row is None:
            return None
        revoked = row.revoked_at is None
        if revoked:
            row.revoked_at = at
        return token_record(row), revoked


def create_local(engine: Engine, name: str, role: str, at: datetime) -> tuple[TokenRecord, str]:
    """Create a token directly in the server's database (``patchwarden server token
    create``: recovery when no admin token is left), audited as ``system``; with its value.
    A database without Patchwarden's schema or out of reach is an EnvironmentProblem;
    a taken name is a :class:`~patchwarden.pipeline.fleet.errors.Conflict`."""
    if current(engine) is None:
        raise EnvironmentProblem(
            f"database {engine.url.render_as_string(hide_password=True)} has no Patchwarden "
            "schema (is it the server's? `patchwarden server migrate` creates it)"
        )
    try:
        with Session(engine) as session, session.begin():
            return access.create_token(
                SqlTokens(session), SqlAuditLog(session), name, role, SYSTEM, at
            )
    except SQLAlchemyError as exc:
        raise database_problem(engine, exc) from None
