"""The database of a running app and the FastAPI dependencies that open sessions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from patchwarden.adapters.storage import read_engine
from patchwarden.server.settings import ServerSettings


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
    return settings(request).clock()


def write_session(request: Request) -> Iterator[Session]:
    """A session committed when the handler returns without an error."""
    with database(request).write() as session, session.begin():
        yield session


def read_session(request: Request) -> Iterator[Session]:
    """A read-only session (rolled back at the end)."""
    with database(request).read() as session:
        yield session


WriteDB = Annotated[Session, Depends(write_session, scope="function")]
"""A write session, committed before the response is sent."""
ReadDB = Annotated[Session, Depends(read_session, scope="function")]
"""A read-only session."""
Now = Annotated[datetime, Depends(now)]
"""The app clock's current time."""
Settings = Annotated[ServerSettings, Depends(settings)]
"""The app's settings."""
