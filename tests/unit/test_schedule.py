"""Schedule expressions against hand-checked cases (calendars checked by hand, AWS's documented
examples, L/W/# edge cases, leap years, the year field, DST in Europe/Berlin and
America/New_York)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from patchwarden.core.schedule import next_runs, parse_schedule


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def runs(expression: str, after: str, count: int = 3, **kwargs: object) -> list[str]:
    found = next_runs(expression, after=utc(after), count=count, **kwargs)  # type: ignore[arg-type]
    return [r.strftime("%Y-%m-%dT%H:%M:%S") for r in found]


END = "END"

# (expression, after (UTC), expected next runs (UTC)); 2026-11-27 is a Friday.
CASES: list[tuple[str, str, list[str]]] = [
    # AWS's documented examples
    (
        "cron(0 2 ? * SUN *)",
        "2026-11-27T05:00",
        ["2026-11-29T02:00:00", "2026-12-06T02:00:00", "2026-12-13T02:00:00"],
    ),
    (
        "cron(15 10 ? * 6L 2022-2023)",  # last Friday of the month, 2022-2023 only
        "2022-01-01T00:00",
        ["2022-01-28T10:15:00", "2022-02-25T10:15:00", "2022-03-25T10:15:00"],
    ),
    ("cron(15 10 ? * 6L 2022-2023)", "2023-12-29T10:15", [END]),
    (
        "cron(0/15 * * * ? *)",
        "2026-01-01T00:07",
        ["2026-01-01T00:15:00", "2026-01-01T00:30:00", "2026-01-01T00:45:00"],
    ),
    (
        "cron(0 18 ? * MON-FRI *)",
        "2026-11-27T18:00",  # strictly after: Friday's run is not repeated
        ["2026-11-30T18:00:00", "2026-12-01T18:00:00", "2026-12-02T18:00:00"],
    ),
    (
        "cron(0 8 1 * ? *)",
        "2026-11-27T00:00",
        ["2026-12-01T08:00:00", "2027-01-01T08:00:00", "2027-02-01T08:00:00"],
    ),
    (
        "cron(0 9 ? * 2#1 *)",  # first MONDAY (1 = SUN)
        "2026-11-27T00:00",
        ["2026-12-07T09:00:00", "2027-01-04T09:00:00", "2027-02-01T09:00:00"],
    ),
    (
        "cron(0 9 ? * 2#3 *)",  # third Monday, not Tuesday
        "2026-11-27T00:00",
        ["2026-12-21T09:00:00", "2027-01-18T09:00:00", "2027-02-15T09:00:00"],
    ),
    ("cron(0 0 ? * 1#5 2026)", "2026-11-01T00:00", ["2026-11-29T00:00:00", END]),  # 5th Sunday
    # the 7-field examples of the Systems Manager cron page (seconds first)
    (
        "cron(0 0 2 ? 1/1 THU#3 *)",  # 02:00 the third Thursday of every month
        "2026-11-27T00:00",
        ["2026-12-17T02:00:00", "2027-01-21T02:00:00", "2027-02-18T02:00:00"],
    ),
    (
        "cron(0 0 0 21 1/1 ? *)",  # midnight on the 21st of each month
        "2026-11-27T00:00",
        ["2026-12-21T00:00:00", "2027-01-21T00:00:00", "2027-02-21T00:00:00"],
    ),
    # W: nearest weekday, never leaving the month
    (
        "cron(0 0 15W * ? *)",  # Feb 15 and Mar 15 2026 are Sundays
        "2026-02-01T00:00",
        ["2026-02-16T00:00:00", "2026-03-16T00:00:00", "2026-04-15T00:00:00"],
    ),
    ("cron(0 0 15W 8 ? 2026)", "2026-01-01T00:00", ["2026-08-14T00:00:00", END]),  # Sat → Fri
    (
        "cron(0 0 1W 8 ? 2026)",
        "2026-01-01T00:00",
        ["2026-08-03T00:00:00", END],
    ),  # Sat 1st → Mon 3rd
    (
        "cron(0 0 31W * ? 2026)",  # May 31 is a Sunday → Fri 29; months without a 31st skipped
        "2026-04-01T00:00",
        ["2026-05-29T00:00:00", "2026-07-31T00:00:00", "2026-08-31T00:00:00"],
    ),
    # L, LW, L-n
    (
        "cron(30 23 L * ? *)",
        "2026-02-01T00:00",
        ["2026-02-28T23:30:00", "2026-03-31T23:30:00", "2026-04-30T23:30:00"],
    ),
    ("cron(30 23 L 2 ? *)", "2027-03-01T00:00", ["2028-02-29T23:30:00"]),
    (
        "cron(0 0 LW * ? *)",  # Feb 28 2026 is a Saturday, May 31 a Sunday
        "2026-02-01T00:00",
        ["2026-02-27T00:00:00", "2026-03-31T00:00:00", "2026-04-30T00:00:00"],
    ),
    ("cron(0 0 LW 5 ? 2026)", "2026-01-01T00:00", ["2026-05-29T00:00:00", END]),
    (
        "cron(0 0 L-2 * ? *)",
        "2026-02-01T00:00",
        ["2026-02-26T00:00:00", "2026-03-29T00:00:00", "2026-04-28T00:00:00"],
    ),
    (
        "cron(0 4 ? * L *)",  # L alone in day-of-week: the last day of the week, Saturday
        "2026-11-27T00:00",
        ["2026-11-28T04:00:00", "2026-12-05T04:00:00", "2026-12-12T04:00:00"],
    ),
    ("cron(0 4 ? * 1L *)", "2026-11-27T00:00", ["2026-11-29T04:00:00", "2026-12-27T04:00:00"]),
    # leap years (2100 is not one)
    ("cron(0 0 29 2 ? *)", "2026-01-01T00:00", ["2028-02-29T00:00:00", "2032-02-29T00:00:00"]),
    ("cron(0 0 29 2 ? *)", "2096-03-01T00:00", ["2104-02-29T00:00:00", "2108-02-29T00:00:00"]),
    ("cron(0 0 29 2 ? 2097-2103)", "2026-01-01T00:00", [END]),
    # the year field
    (
        "cron(0 3 ? JAN-MAR SAT#1 2026)",
        "2025-03-01T00:00",
        ["2026-01-03T03:00:00", "2026-02-07T03:00:00", "2026-03-07T03:00:00", END],
    ),
    ("cron(0 3 ? JAN-MAR SAT#1 2026)", "2026-03-07T03:00", [END]),
    (
        "cron(0 0 1 1 ? 2030,2028)",
        "2026-01-01T00:00",
        ["2028-01-01T00:00:00", "2030-01-01T00:00:00", END],
    ),
    ("cron(0 0 1 1 ? 2030/5)", "2026-01-01T00:00", ["2030-01-01T00:00:00", "2035-01-01T00:00:00"]),
    ("cron(0 0 31 12 ? 2199)", "2199-12-31T00:00", [END]),
    # ranges, wrap-around, steps, lists, names in any case, seconds
    (
        "cron(0 2 ? * FRI-MON *)",
        "2026-11-26T00:00",
        ["2026-11-27T02:00:00", "2026-11-28T02:00:00", "2026-11-29T02:00:00"],
    ),
    ("cron(0 2 ? * fri-mon *)", "2026-11-30T03:00", ["2026-12-04T02:00:00"]),
    ("cron(0 0 1 NOV-FEB ? *)", "2027-02-02T00:00", ["2027-11-01T00:00:00"]),
    ("cron(0 0 1 nov-feb ? *)", "2026-12-02T00:00", ["2027-01-01T00:00:00", "2027-02-01T00:00:00"]),
    (
        "cron(10-50/10 6 * * ? *)",
        "2026-01-01T06:35",
        ["2026-01-01T06:40:00", "2026-01-01T06:50:00", "2026-01-02T06:10:00"],
    ),
    ("cron(*/20 22/1 * * ? *)", "2026-01-01T23:50", ["2026-01-02T22:00:00"]),
    ("cron(5,55 1,23 * * ? *)", "2026-01-01T01:06", ["2026-01-01T01:55:00", "2026-01-01T23:05:00"]),
    ("cron(0 0 ? * SUN,SAT *)", "2026-11-27T00:00", ["2026-11-28T00:00:00", "2026-11-29T00:00:00"]),
    ("cron(0 0 31 * ? *)", "2026-03-31T00:00", ["2026-05-31T00:00:00", "2026-07-31T00:00:00"]),
    (
        "cron(30 0 2 ? * SUN *)",  # 7 fields: seconds first
        "2026-11-27T00:00",
        ["2026-11-29T02:00:30", "2026-12-06T02:00:30", "2026-12-13T02:00:30"],
    ),
    (
        "cron(0/20 59 23 31 12 ? *)",
        "2026-12-31T23:59:20",
        ["2026-12-31T23:59:40", "2027-12-31T23:59:00", "2027-12-31T23:59:20"],
    ),
    # rate: anchored at `after` (no StartDate)
    ("rate(5 minutes)", "2026-01-01T00:00:30", ["2026-01-01T00:05:30", "2026-01-01T00:10:30"]),
    ("rate(1 minute)", "2026-01-01T00:00", ["2026-01-01T00:01:00"]),
    ("rate(1 hour)", "2026-12-31T23:30", ["2027-01-01T00:30:00", "2027-01-01T01:30:00"]),
    ("rate(2 days)", "2026-02-27T12:00", ["2026-03-01T12:00:00", "2026-03-03T12:00:00"]),
    # at: once
    ("at(2026-12-01T02:00:00)", "2026-11-27T00:00", ["2026-12-01T02:00:00", END]),
    ("at(2026-12-01T02:00:00)", "2026-12-01T02:00", [END]),
]


@pytest.mark.parametrize(("expression", "after", "expected"), CASES)
def test_hand_checked_cases(expression: str, after: str, expected: list[str]) -> None:
    """``END`` closes the list of a schedule that has no further runs."""
    found = runs(expression, after, count=len(expected) + 1)
    if expected and expected[-1] == END:
        assert found == expected[:-1]
    else:
        assert found[: len(expected)] == expected
        assert len(found) == len(expected) + 1


# DST: Europe/Berlin springs forward 2026-03-29 02:00 → 03:00 and falls back 2026-10-25
# 03:00 → 02:00; America/New_York springs 2026-03-08 02:00 → 03:00, falls 2026-11-01 02:00 → 01:00.
DST: list[tuple[str, str, str, list[str]]] = [
    # the done-when example: Sundays 02:00 Berlin; 02:00 does not exist on 2026-03-29
    (
        "cron(0 2 ? * SUN *)",
        "Europe/Berlin",
        "2026-03-20T00:00",
        ["2026-03-22T01:00:00", "2026-04-05T00:00:00", "2026-04-12T00:00:00"],
    ),
    ("cron(30 2 ? * SUN *)", "Europe/Berlin", "2026-03-23T00:00", ["2026-04-05T00:30:00"]),
    ("cron(0 3 ? * SUN *)", "Europe/Berlin", "2026-03-23T00:00", ["2026-03-29T01:00:00"]),
    ("cron(59 1 ? * SUN *)", "Europe/Berlin", "2026-03-23T00:00", ["2026-03-29T00:59:00"]),
    # 02:30 happens twice on 2026-10-25: the run fires once, at the first (CEST) one
    (
        "cron(30 2 ? * SUN *)",
        "Europe/Berlin",
        "2026-10-24T00:00",
        ["2026-10-25T00:30:00", "2026-11-01T01:30:00"],
    ),
    (
        "cron(0/30 * ? * SUN 2026)",  # 02:00/02:30 CET (second pass) are skipped
        "Europe/Berlin",
        "2026-10-25T00:00",
        ["2026-10-25T00:30:00", "2026-10-25T02:00:00", "2026-10-25T02:30:00"],
    ),
    (
        "cron(30 2 * * ? *)",
        "America/New_York",
        "2026-03-07T12:00",
        ["2026-03-09T06:30:00", "2026-03-10T06:30:00"],
    ),
    (
        "cron(30 1 * * ? *)",
        "America/New_York",
        "2026-10-31T12:00",
        ["2026-11-01T05:30:00", "2026-11-02T06:30:00"],
    ),
    (
        "cron(0/15 * * * ? *)",  # `after` inside the repeated hour's second pass (01:10 EST)
        "America/New_York",
        "2026-11-01T06:10",
        ["2026-11-01T07:00:00", "2026-11-01T07:15:00"],
    ),
    (
        "cron(0 * * * ? *)",  # hourly: 01:00 fires once, 02:00 EST follows two hours later
        "America/New_York",
        "2026-11-01T04:30",
        ["2026-11-01T05:00:00", "2026-11-01T07:00:00", "2026-11-01T08:00:00"],
    ),
    ("at(2026-03-29T02:30:00)", "Europe/Berlin", "2026-01-01T00:00", []),  # never exists
    ("at(2026-10-25T02:30:00)", "Europe/Berlin", "2026-01-01T00:00", ["2026-10-25T00:30:00"]),
    ("rate(1 hour)", "Europe/Berlin", "2026-03-29T00:30", ["2026-03-29T01:30:00"]),  # elapsed
]


@pytest.mark.parametrize(("expression", "zone", "after", "expected"), DST)
def test_time_zones_and_dst(expression: str, zone: str, after: str, expected: list[str]) -> None:
    assert runs(expression, after, count=len(expected), timezone=zone) == expected


def test_results_are_aware_utc_and_after_may_be_any_zone() -> None:
    after = datetime.fromisoformat("2026-11-29T02:00:00+01:00")  # the run itself, in CET
    schedule = parse_schedule("cron(0 2 ? * SUN *)")
    found = schedule.next_after(after, timezone="Europe/Berlin")
    assert found == utc("2026-12-06T01:00")
    assert found is not None and found.tzinfo is UTC


def test_kinds_and_expression_kept() -> None:
    assert parse_schedule("cron(0 2 ? * SUN *)").kind == "cron"
    assert parse_schedule("rate(1 day)").kind == "rate"
    assert parse_schedule(" at(2026-01-01T00:00:00) ").kind == "at"
    assert parse_schedule("rate(1 day)").expression == "rate(1 day)"
