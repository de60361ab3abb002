"""Window timing: due and missed executions with an injected now, cutoff, pseudo-parameters."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from patchwarden.core import windows
from patchwarden.core.windows import MAX_MISSED, Status, Timing, due
from patchwarden.errors import InputError

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # a Sunday


def daily(duration: int = 3, cutoff: int = 1, **kw: object) -> Timing:
    return Timing("cron(0 2 * * ? *)", duration, cutoff, **kw)  # type: ignore[arg-type]


def test_nothing_due_before_the_time() -> None:
    result = due(daily(), T, T)
    assert (result.start, result.missed, result.handled_until) == ([], [], None)
    assert result.next_run == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_due_exactly_at_the_time_and_until_the_cutoff() -> None:
    at = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    for now in (at, at + timedelta(hours=1, minutes=59)):
        result = due(daily(), now, T)
        assert (result.start, result.missed, result.handled_until) == ([at], [], at)
    late = due(daily(), at + timedelta(hours=2), T)  # the cutoff instant: never started late
    assert (late.start, late.missed) == ([], [at])


def test_missed_while_down_then_the_current_one_starts() -> None:
    now = datetime(2026, 3, 5, 2, 30, tzinfo=UTC)
    result = due(daily(), now, T)
    assert result.missed == [datetime(2026, 3, d, 2, 0, tzinfo=UTC) for d in (2, 3, 4)]
    assert result.start == [datetime(2026, 3, 5, 2, 0, tzinfo=UTC)]
    assert result.handled_until == result.start[0]
    assert due(daily(), now, result.handled_until).start == []


def test_missed_are_capped() -> None:
    timing = Timing("rate(5 minutes)", 1, 0)
    result = due(timing, T + timedelta(days=30), T)
    assert len(result.missed) == MAX_MISSED
    assert result.handled_until == T + timedelta(days=30)


def test_cutoff_end_within_and_timezone() -> None:
    berlin = Timing("cron(0 2 ? * SUN *)", 3, 1, timezone="Europe/Berlin")
    at = berlin.next_after(T)
    assert at == datetime(2026, 3, 8, 1, 0, tzinfo=UTC)  # 02:00 CET
    assert at is not None
    assert berlin.cutoff_at(at) == at + timedelta(hours=2)
    assert berlin.end_at(at) == at + timedelta(hours=3)
    assert berlin.within(at, at) and not berlin.within(at, at + timedelta(hours=3))
    berlin.check()
    with pytest.raises(InputError):
        Timing("cron(0 2 ? * SUN *)", 3, 3).check()


def test_end_date_stops_the_schedule() -> None:
    timing = daily(end=datetime(2026, 3, 3, 0, 0, tzinfo=UTC))
    result = due(timing, T + timedelta(days=5), T)
    assert result.missed == [datetime(2026, 3, 2, 2, 0, tzinfo=UTC)]
    assert result.next_run is None


def test_statuses() -> None:
    assert not Status.IN_PROGRESS.terminal and not Status.CANCELLING.terminal
    assert Status.SKIPPED_OVERLAPPING.terminal and Status.TIMED_OUT.terminal


def test_pseudo_parameters() -> None:
    params = {"SnapshotId": "{{WINDOW_EXECUTION_ID}}", "Other": ["{{ WINDOW_ID }}", 3]}
    windows.check_pseudo(params)
    got = windows.substitute(params, {"WINDOW_EXECUTION_ID": "e-1", "WINDOW_ID": "mw-1"})
    assert got == {"SnapshotId": "e-1", "Other": ["mw-1", 3]}
    with pytest.raises(
        InputError, match=r"Parameters.X: unknown pseudo-parameter \{\{TARGET_ID\}\}"
    ):
        windows.check_pseudo({"X": "{{TARGET_ID}}"})


def test_daily_cron_with_a_longer_offset_loses_no_runs_once_anchored() -> None:
    """The offset's skip rule applies once from the anchor (creation or StartDate), not again
    from every previous run: a daily cron with a 3-day offset runs every day."""
    from datetime import UTC, datetime, timedelta

    from patchwarden.core import windows

    anchor = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    timing = windows.Timing(
        schedule="cron(0 2 * * ? *)", duration_hours=2, cutoff_hours=0, offset_days=3, start=anchor
    )
    handled = anchor
    seen = []
    for day in range(10):
        now = anchor + timedelta(days=day, hours=15)
        got = windows.due(timing, now, handled)
        seen += got.start + got.missed
        handled = got.handled_until or handled
    assert seen, "nothing ran"
    gaps = {b - a for a, b in itertools.pairwise(seen)}
    assert gaps == {timedelta(days=1)}, seen
