"""Maintenance-window limits on a schedule (reference §5.1).

- Duration 1-24 hours; Cutoff 0-23 hours and smaller than Duration;
- ScheduleOffset 1-6 days, only with a cron() schedule;
- schedules firing more often than every 5 minutes are unsupported;
- a cron expression no date matches (``cron(0 0 30 2 ? *)``) never fires.

The frequency limit is checked here, not by :func:`parse_schedule`, so ``window next`` can
still show what a too-frequent expression would do.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from patchwarden.core.schedule.cron import CronExpression
from patchwarden.core.schedule.expression import Schedule
from patchwarden.core.schedule.firing import check_never_matches
from patchwarden.errors import InputError

MIN_INTERVAL = timedelta(minutes=5)


def validate_window(
    duration_hours: int, cutoff_hours: int, schedule: Schedule, offset_days: int | None
) -> None:
    """InputError naming the field when a window's timing fields break the AWS limits."""
    if not 1 <= duration_hours <= 24:
        raise InputError(f"Duration {duration_hours}: must be 1-24 hours")
    if not 0 <= cutoff_hours <= 23:
        raise InputError(f"Cutoff {cutoff_hours}: must be 0-23 hours")
    if cutoff_hours >= duration_hours:
        raise InputError(f"Cutoff {cutoff_hours}: must be smaller than Duration ({duration_hours})")
    if offset_days is not None:
        if schedule.kind != "cron":
            raise InputError(
                f"ScheduleOffset {offset_days}: only allowed with a cron() schedule, "
                f"not {schedule.expression}"
            )
        if not 1 <= offset_days <= 6:
            raise InputError(f"ScheduleOffset {offset_days}: must be 1-6 days")
    check_never_matches(schedule)
    gap = shortest_interval(schedule)
    if gap is not None and gap < MIN_INTERVAL:
        raise InputError(
            f"Schedule {schedule.expression}: fires every {_words(gap)}; maintenance windows "
            "support at most one run every 5 minutes"
        )


def shortest_interval(schedule: Schedule) -> timedelta | None:
    """The shortest time between two runs (a lower bound for cron), None for ``at()``."""
    if schedule.interval is not None:
        return schedule.interval
    if schedule.cron is None:
        return None
    return _cron_gap(schedule.cron)


def _cron_gap(cron: CronExpression) -> timedelta:
    if len(cron.seconds) > 1:
        return timedelta(seconds=_min_gap(cron.seconds, 60))
    if len(cron.minutes) > 1:
        wraps = len(cron.hours) == 24 or any(
            b - a == 1 for a, b in zip(cron.hours, cron.hours[1:], strict=False)
        )
        return timedelta(minutes=_min_gap(cron.minutes, 60 if wraps else 0))
    if len(cron.hours) > 1:
        return timedelta(hours=_min_gap(cron.hours, 24))
    return timedelta(days=1)


def _min_gap(values: tuple[int, ...], period: int) -> int:
    gaps = [b - a for a, b in itertools.pairwise(values)]
    if period:
        gaps.append(values[0] + period - values[-1])
    return min(gaps)


def _words(gap: timedelta) -> str:
    seconds = int(gap.total_seconds())
    if seconds % 60:
        return f"{seconds} s"
    return f"{seconds // 60} min"
