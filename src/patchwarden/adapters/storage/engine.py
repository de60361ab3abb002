"""Database engines: a SQLite file by default, PostgreSQL via ``postgresql+psycopg://…``.

SQLite is tuned for one server process with many threads: WAL (readers never wait for the
writer), foreign keys on, a busy timeout, and ``BEGIN IMMEDIATE`` for every transaction that
may write — a deferred transaction that reads and then writes fails at once with
SQLITE_BUSY when another connection committed in between, which the busy timeout cannot
cure.  Read-only sessions (:func:`read_engine`) start deferred and never block the writer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from patchwarden.errors import InputError

READ_ONLY = "patchwarden_read_only"
"""Execution option marking an engine whose transactions only read (SQLite: deferred)."""


def default_url() -> str:
    """``sqlite:///<data_dir>/server.db``."""
    from patchwarden import settings

    return f"sqlite:///{settings.data_dir() / 'server.db'}"


def is_sqlite(engine: Engine) -> bool:
    """Whether the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def make_engine(url: str | None = None, *, echo: bool = False) -> Engine:
    """An engine for ``url`` (default :func:`default_url`); the SQLite file's directory is
    created.  A URL SQLAlchemy cannot parse or a driver it lacks is an :class:`InputError`."""
    text = url or default_url()
    try:
        parsed = make_url(text)
    except Exception as exc:  # sqlalchemy.exc.ArgumentError and friends
        raise InputError(f"database URL: cannot parse {text!r}: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(text, parsed.database, echo)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise InputError(f"database URL: unsupported backend {backend!r} (use sqlite or postgresql)")


def _sqlite_engine(url: str, database: str | None, echo: bool) -> Engine:
    from pathlib import Path

    memory = not database or database == ":memory:"
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if memory:
        kwargs["poolclass"] = StaticPool
    else:
        Path(database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def read_engine(engine: Engine) -> Engine:
    """The same engine for read-only sessions (no write lock taken on SQLite)."""
    return engine.execution_options(**{READ_ONLY: True})
