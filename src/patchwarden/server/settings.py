"""Server settings (a frozen value; the CLI and tests build it)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from patchwarden import settings as local_settings
from patchwarden.adapters.clock import WALL


def utcnow() -> datetime:
    """The wall clock, UTC (:data:`patchwarden.adapters.clock.WALL`)."""
    return WALL.now()


def _replica() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class ServerSettings:
    """What :func:`patchwarden.server.app.create_app` needs."""

    database_url: str | None = None
    """SQLAlchemy URL; ``None`` = the SQLite file under the data directory."""
    clock: Callable[[], datetime] = utcnow
    replica_id: str = field(default_factory=_replica)
    """Written into ``invocations.claimed_by`` (which replica delivered an invocation)."""
    long_poll_seconds: float = 20.0
    """Longest wait of ``GET /api/v1/agent/commands`` (agents may ask for less)."""
    poll_check_interval: float = 0.5
    """How often a waiting long-poll looks for new work in the database."""
    online_seconds: int = 300
    """A node is Online when it checked in within this many seconds."""
    inactive_days: int = 30
    """... and Inactive when it has not checked in for this many days (or is deregistered)."""
    migrate: bool = True
    """Apply the Alembic migrations when the app starts."""
    vulndb_path: Path = field(default_factory=local_settings.vulndb_path)
    """The vulnerability database every inventory upload is assessed against (opened
    read-only per assessment; while the file does not exist nothing is assessed)."""
