"""A managed node's ping status (SSM ``PingStatus``) from its check-in times."""

from __future__ import annotations

from datetime import datetime, timedelta

PING_STATUSES = ("Online", "ConnectionLost", "Inactive")
"""Every ping status, the liveliest first."""


def ping_status(
    *,
    last_seen_at: datetime | None,
    registered_at: datetime,
    deregistered_at: datetime | None,
    now: datetime,
    online_seconds: int,
    inactive_days: int,
) -> str:
    """``Online`` / ``ConnectionLost`` / ``Inactive`` from the last check-in (a node that
    never checked in counts from its registration; a deregistered node is ``Inactive``)."""
    if deregistered_at is not None:
        return "Inactive"
    age = now - (last_seen_at or registered_at)
    if age <= timedelta(seconds=online_seconds):
        return "Online"
    if age >= timedelta(days=inactive_days):
        return "Inactive"
    return "ConnectionLost"
