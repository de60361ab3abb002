"""Apply the Alembic migrations: on server start and by ``patchwarden server migrate``.

Several replicas may start at once on one PostgreSQL: the upgrade runs under a
transaction-level advisory lock there, so exactly one applies each revision.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from patchwarden.adapters.storage.engine import database_problem

_LOCK_KEY = 0x70772D6D  # "pw-m": the advisory lock of schema migrations


def alembic_config() -> Config:
    """An Alembic configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return config


def head() -> str:
    """The newest revision shipped."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    """The revision the database is at (``None`` before the first migration); an
    unreachable database is an :class:`EnvironmentProblem` of one line."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise database_problem(engine, exc) from None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent); an unreachable or unusable database
    is an :class:`EnvironmentProblem` of one line naming it (password masked)."""
    config = alembic_config()
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise database_problem(engine, exc) from None
