"""The day fields of AWS cron: day-of-month and day-of-week, with their specials.

Exactly one of the two is ``?``; the other decides which days of a month match:

- day-of-month: plain values/ranges/steps/lists, ``L`` (last day), ``L-n`` (n days before the
  last), ``LW`` (last weekday, Monday-Friday), ``nW`` (the weekday nearest day n, never
  leaving the month; no match in a month without day n).
- day-of-week (1 = SUN … 7 = SAT, or SUN-SAT): plain values/ranges/lists (no ``/`` steps,
  as AWS), ``L`` (= SAT, the
  last day of the week), ``nL`` (the last weekday n of the month, ``6L`` = last Friday), ``n#k``
  (the k-th weekday n, k 1-5, ``2#1`` = first Monday; no match in a month without it).

The specials stand alone in their field (no lists), as in the AWS console's validator.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

from patchwarden.core.schedule.fields import DAY_OF_MONTH, DAY_OF_WEEK, parse_field, parse_value


def aws_weekday(year: int, month: int, day: int) -> int:
    """1 = Sunday … 7 = Saturday."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


@dataclass(frozen=True)
class DayRule:
    """Which days of a month match. ``kind`` is one of ``dom`` (``values`` are days),
    ``last`` (``arg`` days before the last day), ``lastweekday``, ``nearest`` (``arg`` = n),
    ``dow`` (``values`` are weekdays), ``lastdow`` (``arg`` = weekday) or ``nth``
    (``arg`` = weekday, ``nth`` = k)."""

    kind: str
    values: tuple[int, ...] = ()
    arg: int = 0
    nth: int = 0

    def days(self, year: int, month: int) -> tuple[int, ...]:
        """The matching days of ``month`` in ``year``, ascending."""
        first_weekday, last = calendar.monthrange(year, month)
        first_aws = (first_weekday + 1) % 7 + 1
        if self.kind == "dom":
            return tuple(d for d in self.values if d <= last)
        if self.kind == "dow":
            return tuple(
                d for d in range(1, last + 1) if (first_aws + d - 2) % 7 + 1 in self.values
            )
        if self.kind == "last":
            return (last - self.arg,) if last - self.arg >= 1 else ()
        if self.kind == "lastweekday":
            return (_nearest_weekday(year, month, last, last),)
        if self.kind == "nearest":
            return (_nearest_weekday(year, month, self.arg, last),) if self.arg <= last else ()
        if self.kind == "lastdow":
            back = (aws_weekday(year, month, last) - self.arg) % 7
            return (last - back,)
        # nth
        first = 1 + (self.arg - first_aws) % 7
        day = first + 7 * (self.nth - 1)
        return (day,) if day <= last else ()


def _nearest_weekday(year: int, month: int, day: int, last: int) -> int:
    weekday = aws_weekday(year, month, day)
    if weekday == 7:  # Saturday: Friday before, or Monday after when the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 1:  # Sunday: Monday after, or Friday before when the last day
        return day + 1 if day < last else day - 2
    return day


def parse_day_of_month(expression: str, field: str) -> DayRule:
    """Day-of-month other than ``?``."""
    upper = field.upper()
    if upper == "L":
        return DayRule("last", arg=0)
    if upper == "LW":
        return DayRule("lastweekday")
    if upper.startswith("L-"):
        offset = upper[2:]
        if not offset.isdigit() or not offset.isascii() or not 1 <= int(offset) <= 30:
            raise DAY_OF_MONTH.error(expression, field, "L-n needs n 1-30")
        return DayRule("last", arg=int(offset))
    if upper.endswith("W"):
        day = parse_value(DAY_OF_MONTH, expression, field, upper[:-1])
        return DayRule("nearest", arg=day)
    if "L" in upper or "W" in upper or "#" in upper:
        raise DAY_OF_MONTH.error(expression, field, "L, W and # cannot be combined with lists")
    return DayRule("dom", values=parse_field(DAY_OF_MONTH, expression, field))


def parse_day_of_week(expression: str, field: str) -> DayRule:
    """Day-of-week other than ``?``."""
    upper = field.upper()
    if "/" in upper:
        raise DAY_OF_WEEK.error(
            expression, field, "/ is not allowed in day-of-week (only , - * ? L #)"
        )
    if upper == "L":
        return DayRule("dow", values=(7,))
    if "#" in upper and "," in upper:
        raise DAY_OF_WEEK.error(expression, field, "# cannot be combined with a list")
    if "#" in upper:
        day_text, _, nth_text = upper.partition("#")
        day = parse_value(DAY_OF_WEEK, expression, field, day_text)
        if not nth_text.isdigit() or not nth_text.isascii() or not 1 <= int(nth_text) <= 5:
            raise DAY_OF_WEEK.error(expression, field, "the number after # must be 1-5")
        return DayRule("nth", arg=day, nth=int(nth_text))
    if upper.endswith("L") and "," not in upper:
        return DayRule("lastdow", arg=parse_value(DAY_OF_WEEK, expression, field, upper[:-1]))
    if "L" in upper:
        raise DAY_OF_WEEK.error(expression, field, "L and # cannot be combined with lists")
    return DayRule("dow", values=parse_field(DAY_OF_WEEK, expression, field))
