"""Database engines: a SQLite file by default, PostgreSQL via ``postgresql+psycopg://…``.

SQLite is tuned for one server process with many threads: WAL (readers never wait for the
writer), foreign keys on, a busy timeout, and ``BEGIN IMMEDIATE`` for every transaction that
may write — a deferred transaction that reads and then writes fails at once with
SQLITE_BUSY when another connection committed in between, which the busy timeout cannot
cure.  Read-only sessions (:func:`read_engine`) start deferred and never block the writer.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from patchwarden.errors import EnvironmentProblem, InputError

READ_ONLY = "patchwarden_read_only"
"""Execution option marking an engine whose transactions only read (SQLite: deferred)."""


def default_url() -> str:
    """``sqlite:///<data_dir>/server.db``."""
    from patchwarden import settings

    return f"sqlite:///{settings.data_dir() / 'server.db'}"


def masked_url(url: str | Engine) -> str:
    """The URL as it may be shown: the password replaced by ``***``."""
    if isinstance(url, Engine):
        return url.url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show none of it beyond the scheme
        return url.split(":", 1)[0] + ":…"


def database_problem(url: str | Engine, exc: BaseException) -> EnvironmentProblem:
    """One line naming the database (password masked) and why it cannot be used, for an
    error SQLAlchemy (or the driver, or the file system) raised."""
    cause = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    reason = lines[0] if lines else type(cause).__name__
    password = getattr(getattr(url, "url", None), "password", None)
    if isinstance(url, str):
        try:
            password = make_url(url).password
        except Exception:
            password = None
    if password:
        reason = reason.replace(str(password), "***")
    return EnvironmentProblem(f"database {masked_url(url)}: {reason}")


def is_sqlite(engine: Engine) -> bool:
    """Whether the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE PostgreSQL answered a failed statement with (``40P01`` a deadlock,
    ``55P03`` a ``NOWAIT`` lock refused, …); None for other errors and other databases."""
    if not isinstance(exc, DBAPIError):
        return None
    state = getattr(exc.orig, "sqlstate", None)
    return state if isinstance(state, str) else None


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
        try:
            return _sqlite_engine(text, parsed.database, echo)
        except OSError as exc:  # the file's directory cannot be created
            raise database_problem(text, exc) from None
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise InputError(f"database URL: unsupported backend {backend!r} (use sqlite or postgresql)")


def create_private(path: Path) -> None:
    """Create the file ``path`` (and its directory, 0700, when missing) readable and
    writable by its owner only (0600), unless it exists; SQLite gives its ``-wal``,
    ``-shm`` and ``-journal`` files the database file's mode."""
    if not path.parent.is_dir():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_engine(url: str, database: str | None, echo: bool) -> Engine:
    memory = not database or database == ":memory:"
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if memory:
        kwargs["poolclass"] = StaticPool
    else:
        create_private(Path(database or "").expanduser())
        kwargs["pool_pre_ping"] = True  # a connection closed under the pool is replaced
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
