"""The database of a running app and the FastAPI dependencies that open sessions.

The server's one session-wiring module: the only module of ``server/`` that imports
SQLAlchemy. Other server modules name the session type as :data:`Session` from here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, TypeVar

import anyio
from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session as Session
from sqlalchemy.orm import sessionmaker

from patchwarden.adapters.storage import make_engine, read_engine, sqlstate
from patchwarden.server.settings import ServerSettings

T = TypeVar("T")

DATABASE_ERRORS = sa_exc.SQLAlchemyError
"""The base of the errors the database layer raises (the API maps them in ``errors.py``)."""


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be used right now (a dropped or refused
    connection, a restart, a pool with no connection left, a lock or statement timeout):
    answered 503 ``unavailable``, which agents and the CLI retry, never 500."""
    if isinstance(exc, sa_exc.TimeoutError):  # the pool had no connection to lend
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or isinstance(exc, sa_exc.OperationalError)
    return False


CONFLICTS = frozenset({"40P01", "40001"})
"""SQLSTATEs of a transaction PostgreSQL ended to break a deadlock (``40P01``) or a
serialization conflict (``40001``): rolled back whole, it may simply run again."""


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` ended its transaction for one of the :data:`CONFLICTS`."""
    return sqlstate(exc) in CONFLICTS


@dataclass
class Database:
    """Engine plus session factories: ``write`` (SQLite: BEGIN IMMEDIATE) and ``read``."""

    engine: Engine
    write: sessionmaker[Session]
    read: sessionmaker[Session]

    @classmethod
    def open(cls, engine: Engine) -> Database:
        """Session factories over ``engine``."""
        return cls(
            engine,
            sessionmaker(engine, expire_on_commit=False),
            sessionmaker(read_engine(engine), expire_on_commit=False),
        )


class Reader:
    """Reads of the poll path (work board, node cache) on their own two threads and their
    own engine: under load the shared thread pool and connection pool fill with writers
    queued on a command's row lock, and a poll must not queue behind them."""

    def __init__(self, db: Database) -> None:
        url = db.engine.url
        memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
        self.db = db if memory else Database.open(make_engine(url.render_as_string(False)))
        self._own = self.db is not db
        self._threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="patchwarden-poll")

    async def run(self, fn: Callable[[Database], T]) -> T:
        """``fn(db)`` on the reader's threads."""
        return await asyncio.get_running_loop().run_in_executor(self._threads, fn, self.db)

    def close(self) -> None:
        """Stop the threads and close the engine."""
        self._threads.shutdown(wait=False)
        if self._own:
            self.db.engine.dispose()


def database(request: Request) -> Database:
    """The app's database."""
    db: Database = request.app.state.db
    return db


def settings(request: Request) -> ServerSettings:
    """The app's settings."""
    value: ServerSettings = request.app.state.settings
    return value


def now(request: Request) -> datetime:
    """The app's clock."""
    return settings(request).clock.now()


def connected(factory: Callable[[], Session]) -> Session:
    """A session of ``factory`` in a transaction with its connection checked out now, so
    that a connection the database dropped (a restart, an idle timeout, a fail-over) is
    retried once here, on a fresh session, before the route has done anything; a second
    failure propagates (503 ``unavailable``, see :func:`is_unavailable`)."""
    for attempt in (1, 2):
        session = factory()
        try:
            session.begin()
            session.connection()
        except sa_exc.DBAPIError as exc:
            session.close()
            if attempt == 2 or not is_unavailable(exc):
                raise
            continue
        return session
    raise AssertionError("unreachable")  # pragma: no cover


ROUTE_SESSIONS = 20
"""Requests that hold a database session at once (of the pool's 30 connections; the rest
serve the work board's claims and the background loops)."""


async def session_slot(request: Request) -> AsyncIterator[None]:
    """Wait on the event loop, not on a worker thread, for one of :data:`ROUTE_SESSIONS`.

    A sync route's session is opened by its dependency on one worker thread and used by
    its body on another.  Without this gate a burst of requests (1,000 nodes reporting at
    once after a batch claim) had every worker thread waiting in the pool for a connection
    while the 30 requests holding one waited for a thread to run their body — a standstill
    until the pool's 30 s timeout.  Every request holding a slot has its connection and a
    thread to spare, and the others wait here, cheaply."""
    loop = asyncio.get_running_loop()
    state = request.app.state
    slots: tuple[asyncio.AbstractEventLoop, anyio.CapacityLimiter] | None = getattr(
        state, "session_slots", None
    )
    if slots is None or slots[0] is not loop:
        slots = (loop, anyio.CapacityLimiter(ROUTE_SESSIONS))
        state.session_slots = slots
    async with slots[1]:
        yield


Slot = Annotated[None, Depends(session_slot, scope="function")]
"""One of the route sessions (resolved once per request, however many sessions it has)."""


@contextmanager
def committed(db: Database) -> Iterator[Session]:
    """A write session (:func:`connected`), committed when the block ends without an
    error."""
    with connected(db.write) as session:
        yield session
        session.commit()


def write_session(request: Request, _: Slot) -> Iterator[Session]:
    """A session committed when the handler returns without an error."""
    with committed(database(request)) as session:
        yield session


def read_session(request: Request, _: Slot) -> Iterator[Session]:
    """A read-only session (rolled back at the end)."""
    with connected(database(request).read) as session:
        yield session


WriteDB = Annotated[Session, Depends(write_session, scope="function")]
"""A write session, committed before the response is sent.

Routes agents call in numbers declare ``response_model=None``: FastAPI validates a sync
route's response model in the shared thread pool while this transaction and its row locks
are still open, so under load the lock holder waited for a thread held by its own lock
waiters until the connection pool timed out (seen with 300 nodes in ``bench/fleet_load.py``).
Without a response model the answer is encoded on the event loop."""
ReadDB = Annotated[Session, Depends(read_session, scope="function")]
"""A read-only session."""
Now = Annotated[datetime, Depends(now)]
"""The app clock's current time."""
Settings = Annotated[ServerSettings, Depends(settings)]
"""The app's settings."""
