"""Schedules that can never fire: refused when a window is loaded, applied or previewed.

- :func:`never_matches` — a cron expression no calendar date satisfies (``cron(0 0 30 2 ? *)``,
  30 February), whatever the time: checked with the window's other limits;
- :func:`check_fires` — that, or no run left after ``now``: an ``at()`` in the past, a cron
  whose year field lies entirely in the past.  ``now`` is a parameter (core reads no clock).
"""

from __future__ import annotations

from datetime import UTC, datetime

from patchwarden.core.schedule.cron import CronExpression
from patchwarden.core.schedule.expression import Schedule
from patchwarden.errors import InputError

_EPOCH = datetime(1970, 1, 1)


def never_matches(cron: CronExpression) -> bool:
    """Whether no date in the year field's range (1970-2199) matches ``cron``."""
    return cron.next_match(_EPOCH) is None


def check_never_matches(schedule: Schedule) -> None:
    """InputError when ``schedule`` is a cron no calendar date matches."""
    if schedule.cron is not None and never_matches(schedule.cron):
        raise InputError(f"Schedule {schedule.expression}: never fires (no date matches it)")


def check_fires(schedule: Schedule, now: datetime, *, timezone: str = "UTC") -> None:
    """InputError (one line) when ``schedule`` has no run after ``now`` (aware), evaluated in
    ``timezone`` without StartDate, EndDate or ScheduleOffset."""
    check_never_matches(schedule)
    if schedule.next_after(now, timezone=timezone) is not None:
        return
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if schedule.at is not None:
        why = f"{schedule.at:%Y-%m-%dT%H:%M:%S} is in the past"
    elif schedule.cron is not None:
        why = f"its last year, {schedule.cron.years[-1]}, is in the past"
    else:  # a rate always fires again
        why = "no run is left"
    raise InputError(f"Schedule {schedule.expression}: never fires: {why} (now {stamp})")
