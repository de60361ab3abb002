"""ScheduleOffset, StartDate/EndDate, window limits and every error path of the schedule
module."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from patchwarden.core.schedule import (
    next_runs,
    parse_schedule,
    shortest_interval,
    validate_timezone,
    validate_window,
)
from patchwarden.errors import InputError

PATCH_THURSDAY = "cron(0 2 ? * TUE#2 *)"  # 2nd Tuesday; Dec 8 2026, Jan 12 2027, Feb 9 2027


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- ScheduleOffset ----------------------------------------------------------------------


def test_offset_moves_each_run_n_days_after_its_match() -> None:
    found = next_runs(PATCH_THURSDAY, after=utc("2026-11-27T00:00"), count=2, offset_days=2)
    assert found == [utc("2026-12-10T02:00"), utc("2027-01-14T02:00")]


def test_offset_skips_the_period_whose_match_passed_but_whose_run_is_ahead() -> None:
    # Wednesday after Patch Tuesday: the Tuesday has passed, Thursday is ahead → skipped.
    found = next_runs(PATCH_THURSDAY, after=utc("2026-12-09T12:00"), count=1, offset_days=2)
    assert found == [utc("2027-01-14T02:00")]


def test_offset_anchor_is_start_when_given() -> None:
    # created (start) before the Tuesday: that period's Thursday run counts
    schedule = parse_schedule(PATCH_THURSDAY)
    found = schedule.next_after(
        utc("2026-12-09T12:00"), offset_days=2, start=utc("2026-12-01T00:00")
    )
    assert found == utc("2026-12-10T02:00")


def test_offset_keeps_every_run_of_a_frequent_cron() -> None:
    found = next_runs("cron(0 2 * * ? *)", after=utc("2026-01-01T12:00"), count=3, offset_days=3)
    assert found == [utc("2026-01-05T02:00"), utc("2026-01-06T02:00"), utc("2026-01-07T02:00")]


def test_offset_crosses_month_and_year_and_follows_the_zone() -> None:
    found = next_runs(
        "cron(0 23 L 12 ? *)",
        after=utc("2026-06-01T00:00"),
        count=1,
        offset_days=1,
        timezone="Europe/Berlin",
    )
    assert found == [utc("2027-01-01T22:00")]  # Jan 1 2027 23:00 CET


def test_offset_only_with_cron_and_in_range() -> None:
    with pytest.raises(InputError, match="only allowed with cron"):
        next_runs("rate(1 day)", after=utc("2026-01-01T00:00"), offset_days=1)
    with pytest.raises(InputError, match="ScheduleOffset 7"):
        next_runs(PATCH_THURSDAY, after=utc("2026-01-01T00:00"), offset_days=7)


# --- StartDate / EndDate -------------------------------------------------------------------


def test_start_in_the_future_delays_cron_and_counts_a_run_exactly_at_start() -> None:
    schedule = parse_schedule("cron(0 2 ? * SUN *)")
    after = utc("2026-11-27T00:00")
    assert schedule.next_after(after, start=utc("2026-12-01T00:00")) == utc("2026-12-06T02:00")
    assert schedule.next_after(after, start=utc("2026-12-06T02:00")) == utc("2026-12-06T02:00")


def test_end_is_inclusive_and_ends_the_schedule() -> None:
    schedule = parse_schedule("cron(0 2 ? * SUN *)")
    after = utc("2026-11-27T00:00")
    assert schedule.next_after(after, end=utc("2026-11-29T02:00")) == utc("2026-11-29T02:00")
    assert schedule.next_after(after, end=utc("2026-11-29T01:59")) is None
    found = next_runs("cron(0 2 ? * SUN *)", after=after, count=9, end=utc("2026-12-10T00:00"))
    assert found == [utc("2026-11-29T02:00"), utc("2026-12-06T02:00")]


def test_rate_is_anchored_at_start() -> None:
    start = utc("2026-01-01T00:00")
    assert next_runs("rate(1 day)", after=utc("2026-01-10T12:00"), start=start, count=2) == [
        utc("2026-01-11T00:00"),
        utc("2026-01-12T00:00"),
    ]
    # a future StartDate: the first run is at StartDate
    assert next_runs(
        "rate(2 hours)", after=utc("2026-11-27T00:00"), start=utc("2026-12-01T10:00"), count=2
    ) == [utc("2026-12-01T10:00"), utc("2026-12-01T12:00")]
    # the anchor itself is not "strictly after" it
    assert next_runs("rate(30 minutes)", after=start, start=start) == [
        start + timedelta(minutes=30)
    ]


def test_rate_end() -> None:
    found = next_runs(
        "rate(1 day)", after=utc("2026-01-01T00:00"), count=9, end=utc("2026-01-03T00:00")
    )
    assert found == [utc("2026-01-02T00:00"), utc("2026-01-03T00:00")]


def test_naive_datetimes_are_refused() -> None:
    schedule = parse_schedule("rate(1 day)")
    with pytest.raises(InputError, match="after: needs a time zone"):
        schedule.next_after(datetime(2026, 1, 1))
    with pytest.raises(InputError, match="end: needs a time zone"):
        schedule.next_after(utc("2026-01-01T00:00"), end=datetime(2026, 1, 2))


# --- window limits -------------------------------------------------------------------------

WEEKLY = parse_schedule("cron(0 2 ? * SUN *)")


def test_valid_window() -> None:
    validate_window(3, 1, WEEKLY, None)
    validate_window(24, 23, WEEKLY, 6)
    validate_window(1, 0, parse_schedule("rate(5 minutes)"), None)
    validate_window(1, 0, parse_schedule("at(2026-01-01T00:00:00)"), None)
    validate_window(1, 0, parse_schedule("cron(0/5 * * * ? *)"), None)
    validate_window(1, 0, parse_schedule("cron(0,58 0,2 * * ? *)"), None)  # no 00:58→01:00


@pytest.mark.parametrize(
    ("duration", "cutoff", "expression", "offset", "message"),
    [
        (0, 0, "cron(0 2 ? * SUN *)", None, "Duration 0: must be 1-24 hours"),
        (25, 0, "cron(0 2 ? * SUN *)", None, "Duration 25: must be 1-24 hours"),
        (3, -1, "cron(0 2 ? * SUN *)", None, "Cutoff -1: must be 0-23 hours"),
        (24, 24, "cron(0 2 ? * SUN *)", None, "Cutoff 24: must be 0-23 hours"),
        (3, 3, "cron(0 2 ? * SUN *)", None, r"Cutoff 3: must be smaller than Duration \(3\)"),
        (3, 1, "rate(1 day)", 2, "ScheduleOffset 2: only allowed with a cron"),
        (3, 1, "at(2026-01-01T00:00:00)", 1, "ScheduleOffset 1: only allowed with a cron"),
        (3, 1, "cron(0 2 ? * SUN *)", 0, "ScheduleOffset 0: must be 1-6 days"),
        (3, 1, "cron(0 2 ? * SUN *)", 7, "ScheduleOffset 7: must be 1-6 days"),
        (3, 1, "rate(4 minutes)", None, "fires every 4 min"),
        (3, 1, "cron(* * * * ? *)", None, "fires every 1 min"),
        (3, 1, "cron(0,3 2 * * ? *)", None, "fires every 3 min"),
        (3, 1, "cron(58 * * * ? *)", None, None),
        (3, 1, "cron(0,58 1-2 * * ? *)", None, "fires every 2 min"),
        (3, 1, "cron(0,30 * 2 * * ? *)", None, "fires every 30 s"),
    ],
)
def test_window_limits(
    duration: int, cutoff: int, expression: str, offset: int | None, message: str | None
) -> None:
    schedule = parse_schedule(expression)
    if message is None:
        validate_window(duration, cutoff, schedule, offset)
        return
    with pytest.raises(InputError, match=message):
        validate_window(duration, cutoff, schedule, offset)


def test_shortest_interval() -> None:
    assert shortest_interval(WEEKLY) == timedelta(days=1)  # a lower bound for cron
    assert shortest_interval(parse_schedule("cron(0 1,5 * * ? *)")) == timedelta(hours=4)
    assert shortest_interval(parse_schedule("rate(2 hours)")) == timedelta(hours=2)
    assert shortest_interval(parse_schedule("at(2026-01-01T00:00:00)")) is None


# --- every parse error: one line, naming the field ----------------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 25 ? * SUN *)", "cron(0 25 ? * SUN *): hour field '25': must be 0-23"),
        ("cron(60 2 ? * SUN *)", "minutes field '60': must be 0-59"),
        ("cron(60 0 2 ? * SUN *)", "seconds field '60': must be 0-59"),
        ("cron(0 2 32 * ? *)", "day-of-month field '32': must be 1-31"),
        ("cron(0 2 0 * ? *)", "day-of-month field '0': must be 1-31"),
        ("cron(0 2 1 13 ? *)", "month field '13': must be 1-12"),
        ("cron(0 2 1 FOO ? *)", "month field 'FOO': 'FOO' is not a number or JAN-DEC"),
        ("cron(0 2 ? * 0 *)", "day-of-week field '0': must be 1-7"),
        ("cron(0 2 ? * 8 *)", "day-of-week field '8': must be 1-7"),
        ("cron(0 2 ? * SUNDAY *)", "day-of-week field 'SUNDAY': 'SUNDAY' is not a number"),
        ("cron(0 2 1 * ? 1969)", "year field '1969': must be 1970-2199"),
        ("cron(0 2 1 * ? 2200)", "year field '2200': must be 1970-2199"),
        ("cron(0 2 1 * ? 2030-2026)", "year field '2030-2026': range 2030-2026 runs backwards"),
        ("cron(0 2 * * SUN *)", "exactly one of day-of-month '*' and day-of-week 'SUN'"),
        ("cron(0 2 ? * ? *)", "day-of-month and day-of-week cannot both be '?'"),
        ("cron(0 2 1 * 1 *)", "exactly one of day-of-month '1' and day-of-week '1'"),
        (
            "cron(0 2 ? * SUN)",
            "expected 6 fields (Minutes Hours Day-of-month Month Day-of-week Year) "
            "or 7 with a leading Seconds field, got 5",
        ),
        ("cron(0 0 2 ? * SUN * *)", "or 7 with a leading Seconds field, got 8"),
        ("cron()", "got 0"),
        ("cron(0/0 * * * ? *)", "minutes field '0/0': step '0' must be a positive number"),
        ("cron(*/x * * * ? *)", "minutes field '*/x': step 'x'"),
        ("cron(1,,2 * * * ? *)", "minutes field '1,,2': has an empty list item"),
        ("cron(? * * * ? *)", "minutes field '?': '?' is not a number"),
        ("cron(0 2 L,1 * ? *)", "day-of-month field 'L,1': L, W and # cannot be combined"),
        ("cron(0 2 L-0 * ? *)", "day-of-month field 'L-0': L-n needs n 1-30"),
        ("cron(0 2 L-31 * ? *)", "L-n needs n 1-30"),
        ("cron(0 2 32W * ? *)", "day-of-month field '32W': must be 1-31"),
        ("cron(0 2 ? * 2#6 *)", "day-of-week field '2#6': the number after # must be 1-5"),
        ("cron(0 2 ? * 2#0 *)", "the number after # must be 1-5"),
        ("cron(0 2 ? * 8#1 *)", "day-of-week field '8#1': must be 1-7"),
        ("cron(0 2 ? * 8L *)", "day-of-week field '8L': must be 1-7"),
        ("cron(0 2 ? * 1,6L *)", "L and # cannot be combined with lists"),
        ("cron(0 0 ? * 1-7/2 *)", "day-of-week field '1-7/2': / is not allowed in day-of-week"),
        ("cron(0 0 ? * */2 *)", "day-of-week field '*/2': / is not allowed"),
        ("cron(0 0 ? * MON/2 *)", "/ is not allowed in day-of-week (only , - * ? L #)"),
        ("cron(0 0 ? * 2#1,3 *)", "day-of-week field '2#1,3': # cannot be combined with a list"),
        ("cron(0 0 ? * 1,2#1 *)", "day-of-week field '1,2#1': # cannot be combined with a list"),
        ("cron(0 2 ? * \uff15 *)", "is not a number"),  # a full-width digit
        ("rate(5 hour)", "rate(5 hour): unit 'hour': write 'hours' when the value is 5"),
        ("rate(1 hours)", "rate(1 hours): unit 'hours': write 'hour' when the value is 1"),
        ("rate(1 minutes)", "write 'minute' when the value is 1"),
        ("rate(2 day)", "write 'days' when the value is 2"),
        ("rate(0 minutes)", "value '0': must be a positive integer"),
        ("rate(-1 minutes)", "value '-1': must be a positive integer"),
        ("rate(5 weeks)", "unit 'weeks': must be minute(s), hour(s) or day(s)"),
        ("rate(5)", "expected rate(N unit), e.g. rate(30 minutes)"),
        ("rate(99999999 days)", "at most 1000000"),
        ("at(2026-13-01T00:00:00)", "'2026-13-01T00:00:00' is not a date and time"),
        ("at(2026-01-01 00:00:00)", "is not a date and time yyyy-mm-ddThh:mm:ss"),
        ("at(2026-01-01T00:00:00Z)", "is not a date and time"),
        ("0 2 ? * SUN *", "a schedule is cron(...), rate(N unit) or at(yyyy-mm-ddThh:mm:ss)"),
        ("CRON(0 2 ? * SUN *)", "a schedule is cron"),
        ("cron(0 2 ? * SUN *", "a schedule is cron"),
        ("", "a schedule is cron"),
        ("cron(" + "0," * 130 + "0 2 ? * SUN *)", "at most 256 characters"),
    ],
)
def test_parse_errors(expression: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_schedule(expression)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_time_zone() -> None:
    with pytest.raises(InputError, match="time zone 'Mars/Olympus': not a known IANA"):
        next_runs("rate(1 day)", after=utc("2026-01-01T00:00"), timezone="Mars/Olympus")
    with pytest.raises(InputError, match="not a known IANA"):
        validate_timezone("../../etc/passwd")
    validate_timezone("Europe/Berlin")
    validate_timezone("UTC")
