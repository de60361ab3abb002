"""IANA time zones and the DST rule for schedules.

Schedules are evaluated on wall-clock time in the window's zone. Where the wall clock jumps,
Patchwarden follows the behaviour AWS documents for EventBridge Scheduler:

- **spring forward**: a run whose wall time does not exist that day (02:30 in Europe/Berlin on
  the last Sunday of March) is **skipped**, not moved to 03:00;
- **fall back**: a run whose wall time happens twice (01:30 in America/New_York on the first
  Sunday of November) fires **once**, at the first occurrence (``fold=0``).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from patchwarden.errors import InputError


@lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    """The IANA zone ``name`` (``UTC`` is the fast path); InputError when unknown."""
    if name in ("UTC", "Etc/UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(f"time zone {name!r}: not a known IANA time zone") from exc


def wall(moment: datetime, tz: tzinfo) -> datetime:
    """The naive wall-clock time of the aware ``moment`` in ``tz``."""
    return moment.astimezone(tz).replace(tzinfo=None, fold=0)


def to_utc(local: datetime, tz: tzinfo) -> datetime | None:
    """The UTC instant of the naive wall time ``local`` in ``tz``: the first occurrence of a
    repeated time, None for a time the clock skips."""
    if tz is UTC:
        return local.replace(tzinfo=UTC)
    instant = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local:
        return None
    return instant


def require_aware(name: str, moment: datetime | None) -> None:
    """Schedules compute with instants: a naive datetime is the caller's mistake."""
    if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
        raise InputError(f"{name}: needs a time zone (an aware datetime), got {moment}")
