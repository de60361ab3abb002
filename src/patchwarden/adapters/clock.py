"""Where ``now`` comes from: the one implementation of :class:`patchwarden.ports.Clock`.

Use cases take ``now`` as a parameter; the shells read it from a clock: the CLI and the
agent from :data:`PINNABLE` (``PATCHWARDEN_NOW``, an ISO 8601 time, pins it for demos and
tests), the server from :data:`WALL` (its tests inject a clock of their own).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime

from patchwarden.errors import InputError

NOW_ENV = "PATCHWARDEN_NOW"


class WallClock:
    """The system clock, UTC."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        return datetime.now(UTC)


class PinnableClock:
    """The system clock unless ``PATCHWARDEN_NOW`` pins it."""

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        self._environ = environ

    def now(self) -> datetime:
        """``PATCHWARDEN_NOW`` when set (a time without a zone is UTC), else the wall clock;
        a malformed value is an :class:`InputError`."""
        pinned = self._environ.get(NOW_ENV)
        if not pinned:
            return datetime.now(UTC)
        try:
            value = datetime.fromisoformat(pinned.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InputError(f"{NOW_ENV}: not an ISO 8601 time: {pinned!r}") from exc
        return value if value.tzinfo else value.replace(tzinfo=UTC)


WALL = WallClock()
PINNABLE = PinnableClock()
