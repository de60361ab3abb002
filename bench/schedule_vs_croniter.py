"""Benchmark: next-run computation of ``core.schedule`` versus croniter, same run.

Only expressions croniter can parse are measured: each AWS expression is translated to
croniter's syntax for the shared subset (``?`` → ``*``, day-of-week numbers 1-7 → 0-6,
names kept, the year as the 7th field after a seconds field of 0). Before timing, the first
runs of both are compared (they must agree, else the row is marked).

Two workloads per expression, median of ``--runs``:

- *iterate*: one parsed schedule, ``--count`` successive next runs (croniter: one
  ``croniter`` object and ``get_next``; Patchwarden: ``Schedule.next_after`` chained);
- *one-shot*: parse + first run from ``--count`` different start times (what a scheduler
  tick or ``window next`` does); Patchwarden once parsing afresh each time, once through the
  memoised ``parse_schedule`` (what callers get).

Both in UTC, and (iterate) in Europe/Berlin with a zone-aware start for croniter.
Prints a Markdown table.  Not a test: nothing asserts on time.
Usage: ``.venv/bin/python bench/schedule_vs_croniter.py [--count 2000] [--runs 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from patchwarden.core.schedule import parse_schedule

START = datetime(2026, 1, 1, tzinfo=UTC)
# (AWS expression, croniter translation)
EXPRESSIONS = [
    ("cron(0 2 ? * SUN *)", "0 2 * * SUN"),
    ("cron(0 18 ? * MON-FRI *)", "0 18 * * MON-FRI"),
    ("cron(0/15 * * * ? *)", "0/15 * * * *"),
    ("cron(0 8 1 * ? *)", "0 8 1 * *"),
    ("cron(30 23 L * ? *)", "30 23 L * *"),
    ("cron(0 9 ? * 2#3 *)", "0 9 * * 1#3"),
    ("cron(0 0 15W * ? *)", "0 0 15W * *"),
    ("cron(0 2 ? * FRI-MON *)", "0 2 * * FRI-MON"),
    ("cron(5,35 */2 * * ? *)", "5,35 */2 * * *"),
    ("cron(0 3 ? JAN-MAR SAT#1 2026-2099)", "0 3 * JAN-MAR 6#1 0 2026-2099"),
    ("cron(0 0 29 2 ? *)", "0 0 29 2 *"),
]


def best(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def ours_iterate(aws: str, count: int, zone: str) -> list[datetime]:
    schedule = parse_schedule(aws)
    moment: datetime | None = START
    out = []
    for _ in range(count):
        assert moment is not None
        moment = schedule.next_after(moment, timezone=zone)
        if moment is None:
            break
        out.append(moment)
    return out


def theirs_iterate(expr: str, count: int, zone: str) -> list[datetime]:
    it = croniter(expr, START.astimezone(ZoneInfo(zone)))
    return [it.get_next(datetime).astimezone(UTC) for _ in range(count)]


def ours_oneshot(aws: str, starts: list[datetime]) -> None:
    """Parse afresh each time (``parse_schedule`` itself is memoised: bypass it)."""
    parse = parse_schedule.__wrapped__
    for start in starts:
        parse(aws).next_after(start)


def ours_memoised(aws: str, starts: list[datetime]) -> None:
    for start in starts:
        parse_schedule(aws).next_after(start)


def theirs_oneshot(expr: str, starts: list[datetime]) -> None:
    for start in starts:
        croniter(expr, start).get_next(datetime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    starts = [START + timedelta(minutes=7919 * i) for i in range(args.count)]
    print(f"next runs per second, median of {args.runs} runs, {args.count} runs each\n")
    print("| expression | workload | croniter /s | patchwarden /s | ratio |")
    print("|---|---|---:|---:|---:|")
    ratios: list[float] = []

    def row(aws: str, mark: str, label: str, n: int, theirs: float, ours: float) -> None:
        ratio = (n / ours) / (n / theirs)
        ratios.append(ratio)
        print(f"| `{aws}`{mark} | {label} | {n / theirs:,.0f} | {n / ours:,.0f} | {ratio:.1f}x |")

    for aws, expr in EXPRESSIONS:
        # the rare ones run out: AWS years end at 2199 (42 Feb 29ths from 2026), croniter's
        # at 2099 (222 first Saturdays of Jan-Mar)
        count = 40 if "29 2" in aws else min(args.count, 200) if "2099" in aws else args.count
        agree = ours_iterate(aws, 40, "UTC") == theirs_iterate(expr, 40, "UTC")
        mark = "" if agree else " (DISAGREE)"
        for label, zone in (("iterate UTC", "UTC"), ("iterate Berlin", "Europe/Berlin")):
            theirs = best(lambda e=expr, z=zone, n=count: theirs_iterate(e, n, z), args.runs)
            ours = best(lambda a=aws, z=zone, n=count: ours_iterate(a, n, z), args.runs)
            row(aws, mark, label, count, theirs, ours)
        theirs = best(lambda e=expr: theirs_oneshot(e, starts), args.runs)
        ours = best(lambda a=aws: ours_oneshot(a, starts), args.runs)
        row(aws, mark, "one-shot UTC", len(starts), theirs, ours)
        ours = best(lambda a=aws: ours_memoised(a, starts), args.runs)
        row(aws, mark, "one-shot UTC, memoised parse", len(starts), theirs, ours)
    mean = statistics.geometric_mean(ratios)
    print(f"\ngeometric mean ratio (patchwarden / croniter): {mean:.1f}x")


if __name__ == "__main__":
    main()
