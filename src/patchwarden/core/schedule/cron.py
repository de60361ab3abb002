"""AWS cron expressions: parsing and the next wall-clock match.

``cron(Minutes Hours Day-of-month Month Day-of-week Year)``, or with a leading Seconds field
(maintenance windows accept it). Matching works on naive wall-clock datetimes; time zones and
DST are :mod:`.zones`' business.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from patchwarden.core.schedule.days import DayRule, parse_day_of_month, parse_day_of_week
from patchwarden.core.schedule.fields import (
    HOURS,
    MINUTES,
    MONTH,
    SECONDS,
    YEAR,
    parse_field,
)
from patchwarden.errors import InputError

FIELD_NAMES = "Minutes Hours Day-of-month Month Day-of-week Year"


@dataclass(frozen=True)
class CronExpression:
    """A parsed cron expression: the allowed values of each field, ascending."""

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: DayRule
    months: tuple[int, ...]
    years: tuple[int, ...]
    _days_cache: dict[tuple[int, int], tuple[int, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def days_of(self, year: int, month: int) -> tuple[int, ...]:
        """The matching days of one month (memoised: the day rules are the slow part)."""
        key = (year, month)
        found = self._days_cache.get(key)
        if found is None:
            found = self.days.days(year, month)
            if len(self._days_cache) < 4096:
                self._days_cache[key] = found
        return found

    def next_match(self, moment: datetime) -> datetime | None:
        """The first match at or after the naive ``moment`` (whole seconds), None when the
        year field runs out."""
        y0, mo0, d0, h0, mi0, s0 = (
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
            moment.second,
        )
        years, months, hours, minutes, seconds = (
            self.years,
            self.months,
            self.hours,
            self.minutes,
            self.seconds,
        )
        for y in years[bisect_left(years, y0) :]:
            same_y = y == y0
            for mo in months[bisect_left(months, mo0) :] if same_y else months:
                same_mo = same_y and mo == mo0
                days = self.days_of(y, mo)
                for d in days[bisect_left(days, d0) :] if same_mo else days:
                    same_d = same_mo and d == d0
                    for h in hours[bisect_left(hours, h0) :] if same_d else hours:
                        same_h = same_d and h == h0
                        for mi in minutes[bisect_left(minutes, mi0) :] if same_h else minutes:
                            if same_h and mi == mi0:
                                i = bisect_left(seconds, s0)
                                if i == len(seconds):
                                    continue
                                return datetime(y, mo, d, h, mi, seconds[i])
                            return datetime(y, mo, d, h, mi, seconds[0])
        return None


def parse_cron(expression: str, body: str) -> CronExpression:
    """Parse the text inside ``cron(...)``; ``expression`` is the whole text for messages."""
    parts = body.split()
    if len(parts) == 7:
        seconds = parse_field(SECONDS, expression, parts[0])
        parts = parts[1:]
    elif len(parts) == 6:
        seconds = (0,)
    else:
        raise InputError(
            f"{expression}: expected 6 fields ({FIELD_NAMES}) or 7 with a leading Seconds "
            f"field, got {len(parts)}"
        )
    minute, hour, dom, month, dow, year = parts
    if dom == "?" and dow == "?":
        raise InputError(f"{expression}: day-of-month and day-of-week cannot both be '?'")
    if (dom == "?") == (dow == "?"):
        raise InputError(
            f"{expression}: exactly one of day-of-month {dom!r} and day-of-week {dow!r} must be '?'"
        )
    days = parse_day_of_week(expression, dow) if dom == "?" else parse_day_of_month(expression, dom)
    return _cached(
        seconds,
        parse_field(MINUTES, expression, minute),
        parse_field(HOURS, expression, hour),
        days,
        parse_field(MONTH, expression, month),
        parse_field(YEAR, expression, year),
    )


@lru_cache(maxsize=256)
def _cached(
    seconds: tuple[int, ...],
    minutes: tuple[int, ...],
    hours: tuple[int, ...],
    days: DayRule,
    months: tuple[int, ...],
    years: tuple[int, ...],
) -> CronExpression:
    return CronExpression(seconds, minutes, hours, days, months, years)
