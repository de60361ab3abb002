"""Maintenance-window schedule expressions in the AWS dialect (reference §5.1), pure.

- :func:`parse_schedule` — ``cron(…)``, ``rate(N unit)``, ``at(yyyy-mm-ddThh:mm:ss)`` → a
  :class:`Schedule`, or an InputError pointing at the faulty field;
- :meth:`Schedule.next_after` / :func:`next_runs` — upcoming runs as aware UTC datetimes,
  evaluated on wall-clock time in an IANA zone (DST: see :mod:`.zones`), with
  ScheduleOffset and StartDate/EndDate;
- :func:`validate_window` — Duration, Cutoff, ScheduleOffset, the 5-minute limit and a
  cron no date matches;
- :func:`check_fires` — refuse a schedule with no run left after ``now`` (``at()`` in the
  past, a year field in the past, a cron no date matches).

Modules: ``fields`` (plain cron fields), ``days`` (day-of-month/day-of-week specials),
``cron`` (parsing and wall-clock matching), ``zones`` (time zones, DST), ``expression``
(the Schedule value), ``limits`` (window limits), ``firing`` (schedules that never fire).
See docs/schedules.md.
"""

from __future__ import annotations

from datetime import datetime

from patchwarden.core.schedule.expression import Schedule, parse_schedule
from patchwarden.core.schedule.firing import check_fires
from patchwarden.core.schedule.limits import shortest_interval, validate_window
from patchwarden.core.schedule.zones import zone

__all__ = [
    "Schedule",
    "check_fires",
    "next_runs",
    "parse_schedule",
    "shortest_interval",
    "validate_timezone",
    "validate_window",
]


def next_runs(
    expression: str,
    *,
    after: datetime,
    count: int = 1,
    timezone: str = "UTC",
    offset_days: int = 0,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[datetime]:
    """Up to ``count`` runs strictly after ``after`` (fewer when the schedule ends), as aware
    UTC datetimes. ``start`` defaults to ``after`` and stays the anchor for every run."""
    schedule = parse_schedule(expression)
    anchor = after if start is None else start
    runs: list[datetime] = []
    moment = after
    while len(runs) < count:
        found = schedule.next_after(
            moment, timezone=timezone, offset_days=offset_days, start=anchor, end=end
        )
        if found is None:
            break
        runs.append(found)
        moment = found
    return runs


def validate_timezone(name: str) -> None:
    """InputError unless ``name`` is a known IANA time zone (ScheduleTimezone)."""
    zone(name)
