"""Property test: next_after against a brute-force stepper on random valid cron expressions.

The generator builds each field from parts and computes the values it allows itself; the
oracle walks UTC hours and minutes, reads the wall clock in the zone, and fires at the first
minute whose wall time matches and is not the second pass of a repeated hour (a wall time the
clock skips never shows up when stepping UTC). It shares no code with the implementation.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from patchwarden.core.schedule import next_runs, parse_schedule

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# zones whose offsets change on whole UTC hours (the oracle steps UTC hours)
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Tokyo"]
HORIZON = timedelta(days=3 * 366)
# DST changes (UTC) in 2026, to aim `after` at the interesting hours of their zone
TRANSITIONS = [
    ("Europe/Berlin", datetime(2026, 3, 29, 1)),
    ("Europe/Berlin", datetime(2026, 10, 25, 1)),
    ("America/New_York", datetime(2026, 3, 8, 7)),
    ("America/New_York", datetime(2026, 11, 1, 6)),
    ("Australia/Sydney", datetime(2026, 4, 4, 16)),
    ("Australia/Sydney", datetime(2026, 10, 3, 16)),
]
MOMENTS = st.one_of(
    st.tuples(st.sampled_from(ZONES), st.datetimes(datetime(2026, 1, 1), datetime(2028, 12, 31))),
    st.builds(
        lambda pair, minutes: (pair[0], pair[1] + timedelta(minutes=minutes)),
        st.sampled_from(TRANSITIONS),
        st.integers(-240, 120),
    ),
)

Field = tuple[str, frozenset[int]]
DayCheck = Callable[[date], bool]


def _name(value: int, low: int, names: list[str] | None, draw: st.DrawFn) -> str:
    if names and draw(st.booleans()):
        name = names[value - low]
        return draw(st.sampled_from([name, name.lower(), name.capitalize()]))
    return str(value)


@st.composite
def plain(
    draw: st.DrawFn, low: int, high: int, names: list[str] | None = None, *, steps: bool = True
) -> Field:
    kinds = ["*", "value", "range", "start/step", "*/step", "range/step", "list"]
    kind = draw(st.sampled_from(kinds if steps else [k for k in kinds if "/" not in k]))
    value = st.integers(low, high)
    if kind == "*":
        return "*", frozenset(range(low, high + 1))
    if kind == "value":
        v = draw(value)
        return _name(v, low, names, draw), frozenset({v})
    if kind == "range":  # may wrap around
        a, b = draw(value), draw(value)
        span = high - low + 1
        allowed = {low + (a - low + i) % span for i in range((b - a) % span + 1)}
        return f"{_name(a, low, names, draw)}-{_name(b, low, names, draw)}", frozenset(allowed)
    step = draw(st.integers(1, high - low + 1))
    if kind == "start/step":
        a = draw(value)
        return f"{a}/{step}", frozenset(range(a, high + 1, step))
    if kind == "*/step":
        return f"*/{step}", frozenset(range(low, high + 1, step))
    if kind == "range/step":
        a, b = sorted((draw(value), draw(value)))
        return f"{a}-{b}/{step}", frozenset(range(a, b + 1, step))
    values = draw(st.lists(value, min_size=1, max_size=4))
    return ",".join(_name(v, low, names, draw) for v in values), frozenset(values)


def aws_dow(day: date) -> int:
    return day.isoweekday() % 7 + 1  # 1 = SUN … 7 = SAT


def last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def nearest_weekday(day: date, n: int) -> int | None:
    """The weekday (Mon-Fri) of the month closest to day n, by brute force."""
    last = last_day(day)
    if n > last:
        return None
    weekdays = [d for d in range(1, last + 1) if day.replace(day=d).isoweekday() <= 5]
    return min(weekdays, key=lambda d: abs(d - n))


@st.composite
def day_fields(draw: st.DrawFn) -> tuple[str, str, DayCheck]:
    """(day-of-month, day-of-week, predicate on a date)."""
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["plain", "L", "L-n", "LW", "nW"]))
        if kind == "plain":
            text, allowed = draw(plain(1, 31))
            return text, "?", lambda d: d.day in allowed
        if kind == "L":
            return "L", "?", lambda d: d.day == last_day(d)
        if kind == "L-n":
            n = draw(st.integers(1, 5))
            return f"L-{n}", "?", lambda d: d.day == last_day(d) - n
        if kind == "LW":
            return "LW", "?", lambda d: d.day == nearest_weekday(d, last_day(d))
        n = draw(st.integers(1, 31))
        return f"{n}W", "?", lambda d: d.day == nearest_weekday(d, n)
    kind = draw(st.sampled_from(["plain", "plain", "nL", "n#k", "L"]))
    if kind == "plain":
        text, allowed = draw(plain(1, 7, DAYS, steps=False))  # AWS: no / in day-of-week
        return "?", text, lambda d: aws_dow(d) in allowed
    if kind == "L":
        return "?", "L", lambda d: aws_dow(d) == 7
    n = draw(st.integers(1, 7))
    if kind == "nL":
        return "?", f"{n}L", lambda d: aws_dow(d) == n and d.day + 7 > last_day(d)
    k = draw(st.integers(1, 5))
    name = _name(n, 1, DAYS, draw)
    return "?", f"{name}#{k}", lambda d: aws_dow(d) == n and (d.day - 1) // 7 + 1 == k


@dataclass(frozen=True)
class Case:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    day: DayCheck


@st.composite
def cases(draw: st.DrawFn) -> Case:
    minute, minutes = draw(plain(0, 59))
    hour, hours = draw(plain(0, 23))
    month, months = draw(plain(1, 12, MONTHS))
    dom, dow, day = draw(day_fields())
    if draw(st.booleans()):
        year, years = "*", frozenset(range(1970, 2200))
    else:
        a, b = sorted((draw(st.integers(2026, 2031)), draw(st.integers(2026, 2031))))
        year, years = f"{a}-{b}", frozenset(range(a, b + 1))
    expression = f"cron({minute} {hour} {dom} {month} {dow} {year})"
    return Case(expression, minutes, hours, months, years, day)


def brute_force(case: Case, after: datetime, zone: str) -> datetime | None:
    """Step UTC hours, then minutes, until the wall clock matches (first pass only)."""
    tz = ZoneInfo(zone)
    hour = after.replace(minute=0, second=0, microsecond=0)
    days: dict[date, bool] = {}
    while hour <= after + HORIZON:
        local = hour.astimezone(tz)
        today = local.date()
        if today not in days:
            days[today] = (
                local.year in case.years and local.month in case.months and case.day(today)
            )
        if days[today] and local.hour in case.hours and local.fold == 0:
            for minute in sorted(case.minutes):
                instant = hour + timedelta(minutes=minute - local.minute)
                if instant > after and instant.astimezone(tz).hour == local.hour:
                    return instant
        hour += timedelta(hours=1)
    return None


@settings(max_examples=300, deadline=None)
@given(
    case=cases(),
    moments=MOMENTS,
)
def test_next_after_matches_brute_force(case: Case, moments: tuple[str, datetime]) -> None:
    zone, after = moments
    moment = after.replace(tzinfo=UTC)
    found = parse_schedule(case.expression).next_after(moment, timezone=zone)
    expected = brute_force(case, moment, zone)
    if expected is None:
        assert found is None or found > moment + HORIZON, case.expression
    else:
        assert found == expected, (case.expression, zone)


@settings(max_examples=100, deadline=None)
@given(case=cases(), after=st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31)))
def test_runs_increase_and_chain(case: Case, after: datetime) -> None:
    schedule = parse_schedule(case.expression)
    moment = after.replace(tzinfo=UTC)
    for _ in range(5):
        found = schedule.next_after(moment, timezone="Europe/Berlin")
        if found is None:
            break
        assert found > moment
        assert found.tzinfo is UTC
        moment = found


@settings(max_examples=100, deadline=None)
@given(
    case=cases(),
    after=st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31)),
    offset=st.integers(1, 6),
)
def test_offset_shifts_the_matches_from_the_anchor_on(
    case: Case, after: datetime, offset: int
) -> None:
    """In UTC: runs with ScheduleOffset N = matches at or after the anchor, plus N days."""
    moment = after.replace(tzinfo=UTC)
    shifted = next_runs(case.expression, after=moment, count=4, offset_days=offset)
    matches = next_runs(case.expression, after=moment - timedelta(microseconds=1), count=4)
    assert shifted == [m + timedelta(days=offset) for m in matches]
