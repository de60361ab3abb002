"""The :class:`Schedule` value: ``cron(…)``, ``rate(…)`` or ``at(…)``, and its next run.

Pure: no clock (``after`` is a parameter), no I/O beyond zoneinfo reading its data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache

from patchwarden.core.schedule.cron import CronExpression, parse_cron
from patchwarden.core.schedule.zones import require_aware, to_utc, wall, zone
from patchwarden.errors import InputError

MAX_LENGTH = 256
RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_SECOND = timedelta(seconds=1)
_TINY = timedelta(microseconds=1)


@dataclass(frozen=True)
class Schedule:
    """A parsed, validated schedule expression."""

    kind: str  # "cron" | "rate" | "at"
    expression: str  # as given
    cron: CronExpression | None = None
    interval: timedelta | None = None  # rate
    at: datetime | None = None  # naive wall time in the window's zone

    def next_after(
        self,
        after: datetime,
        *,
        timezone: str = "UTC",
        offset_days: int = 0,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> datetime | None:
        """The first run strictly after ``after`` (aware), as an aware UTC datetime; None
        when the schedule ends (an ``at()`` in the past, a year-bounded cron, past ``end``).

        ``start`` bounds the active period (inclusive) and is the anchor of rate schedules
        and of the ScheduleOffset skip rule (default: ``after``); ``end`` is inclusive.
        ``offset_days`` (cron only) moves each run that many calendar days after its match.
        """
        for name, value in (("after", after), ("start", start), ("end", end)):
            require_aware(name, value)
        if offset_days and self.kind != "cron":
            raise InputError(f"{self.expression}: ScheduleOffset is only allowed with cron()")
        if not 0 <= offset_days <= 6:
            raise InputError(f"ScheduleOffset {offset_days}: must be 1-6 days")
        tz = zone(timezone)
        floor = after.astimezone(UTC)
        anchor = floor if start is None else start.astimezone(UTC)
        if anchor > floor:
            floor = anchor - _TINY  # a run exactly at StartDate counts
        if self.interval is not None:
            base = anchor.replace(microsecond=0)
            steps = 0 if base > floor else (floor - base) // self.interval + 1
            try:
                found: datetime | None = base + steps * self.interval
            except OverflowError:  # the next run would come after the year 9999: none
                found = None
        elif self.at is not None:
            found = to_utc(self.at, tz)
            found = found if found is not None and found > floor else None
        else:
            found = self._next_cron(floor, anchor, tz, offset_days, end)
        if found is None or (end is not None and found > end):
            return None
        return found

    def _next_cron(
        self, floor: datetime, anchor: datetime, tz: tzinfo, offset: int, end: datetime | None
    ) -> datetime | None:
        assert self.cron is not None
        shift = timedelta(days=offset)
        lower = wall(floor, tz) - shift
        candidate = lower.replace(microsecond=0) + _SECOND
        if offset:  # a match before the anchor does not count, even if its run is ahead
            first = wall(anchor, tz)
            first = first if not first.microsecond else first.replace(microsecond=0) + _SECOND
            candidate = max(candidate, first)
        limit = None if end is None else wall(end, tz) - shift + timedelta(days=1)
        while True:
            match = self.cron.next_match(candidate)
            if match is None or (limit is not None and match > limit):
                return None
            found = to_utc(match + shift, tz)
            if found is not None and found > floor:
                return found
            candidate = match + _SECOND  # skipped (DST gap) or the repeated hour's 2nd pass


@lru_cache(maxsize=1024)
def parse_schedule(expression: str) -> Schedule:
    """Parse ``cron(…)``, ``rate(…)`` or ``at(…)``; InputError with a one-line message
    pointing at the faulty part. Memoised: a scheduler re-reads the same few expressions."""
    text = expression.strip()
    if len(text) > MAX_LENGTH:
        raise InputError(f"schedule: at most {MAX_LENGTH} characters, got {len(text)}")
    head, paren, rest = text.partition("(")
    if not paren or not rest.endswith(")") or head not in ("cron", "rate", "at"):
        raise InputError(
            f"{expression!r}: a schedule is cron(...), rate(N unit) or at(yyyy-mm-ddThh:mm:ss)"
        )
    body = rest[:-1].strip()
    if head == "cron":
        return Schedule("cron", expression, cron=parse_cron(expression, body))
    if head == "rate":
        return Schedule("rate", expression, interval=_parse_rate(expression, body))
    try:
        moment = datetime.strptime(body, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise InputError(
            f"{expression}: {body!r} is not a date and time yyyy-mm-ddThh:mm:ss"
        ) from None
    return Schedule("at", expression, at=moment)


def _parse_rate(expression: str, body: str) -> timedelta:
    parts = body.split()
    if len(parts) != 2:
        raise InputError(f"{expression}: expected rate(N unit), e.g. rate(30 minutes)")
    value_text, unit = parts
    if not value_text.isdigit() or not value_text.isascii() or int(value_text) < 1:
        raise InputError(f"{expression}: value {value_text!r}: must be a positive integer")
    value = int(value_text)
    singular = unit.removesuffix("s")
    if singular not in RATE_UNITS:
        raise InputError(f"{expression}: unit {unit!r}: must be minute(s), hour(s) or day(s)")
    if (value == 1) != (unit == singular):
        wanted = singular if value == 1 else singular + "s"
        raise InputError(f"{expression}: unit {unit!r}: write {wanted!r} when the value is {value}")
    if value > 10**6:
        raise InputError(f"{expression}: value {value_text!r}: at most 1000000")
    return timedelta(seconds=value * RATE_UNITS[singular])
