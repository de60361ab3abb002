"""Run Command rate control and status rollup (reference §6) on simulated invocations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from patchwarden.core.rollout import (
    CommandStatus,
    Details,
    Invocation,
    InvocationStatus,
    allowance,
    check_limit,
    expire,
    limit,
    ramp,
    rollup,
    should_stop,
)
from patchwarden.errors import InputError

S = InvocationStatus
T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "targets", "concurrency", "expected"),
    [
        ("50", 3, True, 50),
        ("10%", 50, True, 5),
        ("10%", 5, True, 1),  # floor 0 -> at least 1
        ("33%", 10, True, 3),
        ("100%", 7, True, 7),
        ("0", 10, False, 0),
        ("10%", 50, False, 5),
        ("10%", 5, False, 0),  # floor: MaxErrors may round to 0
        ("1%", 250, False, 2),
    ],
)
def test_limits(text: str, targets: int, concurrency: bool, expected: int) -> None:
    assert limit(text, targets, concurrency=concurrency) == expected


@pytest.mark.parametrize("text", ["0", "0%", "101%", "-1", "abc", "", "05"])
def test_bad_concurrency(text: str) -> None:
    with pytest.raises(InputError, match="MaxConcurrency"):
        check_limit(text, concurrency=True)


@pytest.mark.parametrize("text", ["-1", "101%", "x", "00"])
def test_bad_errors(text: str) -> None:
    with pytest.raises(InputError, match="MaxErrors"):
        check_limit(text, concurrency=False)


def simulate(
    outcomes: Sequence[InvocationStatus], concurrency: int, errors: int
) -> tuple[list[Invocation], int]:
    """Dispatch like the server: start what the allowance permits, finish the oldest
    running invocation with its outcome, stop and cancel the rest after too many errors.
    Returns the final invocations and the most that ever ran at once."""
    invs = [Invocation(S.PENDING) for _ in outcomes]
    order: list[int] = []
    peak = 0
    while True:
        if should_stop(invs, errors):
            invs = [
                Invocation(S.CANCELLED, Details.TERMINATED) if i.status is S.PENDING else i
                for i in invs
            ]
        n = allowance(invs, concurrency, errors)
        for idx in [k for k, i in enumerate(invs) if i.status is S.PENDING][:n]:
            invs[idx] = Invocation(S.IN_PROGRESS)
            order.append(idx)
        running = [k for k in order if invs[k].status is S.IN_PROGRESS]
        peak = max(peak, len(running))
        if not running:
            return invs, peak
        first = running[0]
        invs[first] = Invocation(outcomes[first])


def test_all_succeed_within_concurrency() -> None:
    invs, peak = simulate([S.SUCCESS] * 10, concurrency=3, errors=0)
    assert peak == 3
    assert rollup(invs, 0) == (CommandStatus.SUCCESS, Details.SUCCESS)


def test_zero_errors_first_failure_stops_exactly_with_concurrency_one() -> None:
    outcomes = [S.SUCCESS, S.FAILED, S.SUCCESS, S.SUCCESS]
    invs, _ = simulate(outcomes, concurrency=1, errors=0)
    assert [i.status for i in invs] == [S.SUCCESS, S.FAILED, S.CANCELLED, S.CANCELLED]
    assert invs[2].details == Details.TERMINATED
    assert rollup(invs, 0) == (CommandStatus.FAILED, Details.FAILED)


def test_max_errors_n_lets_n_failures_through() -> None:
    outcomes = [S.FAILED, S.FAILED, S.SUCCESS, S.FAILED, S.SUCCESS, S.SUCCESS]
    invs, _ = simulate(outcomes, concurrency=1, errors=2)
    statuses = [i.status for i in invs]
    assert statuses[:4] == [S.FAILED, S.FAILED, S.SUCCESS, S.FAILED]  # the 3rd error stops
    assert statuses[4:] == [S.CANCELLED, S.CANCELLED]


def test_percentage_of_small_fleet() -> None:
    # 10% of 20 targets = 2 errors allowed; the 3rd stops dispatch.
    err = limit("10%", 20, concurrency=False)
    outcomes = [S.FAILED] * 3 + [S.SUCCESS] * 17
    invs, _ = simulate(outcomes, concurrency=limit("5%", 20, concurrency=True), errors=err)
    assert sum(i.status is S.FAILED for i in invs) == 3
    assert sum(i.status is S.CANCELLED for i in invs) == 17


def test_in_flight_invocations_finish_so_errors_can_exceed_the_limit() -> None:
    outcomes = [S.FAILED, S.FAILED, S.FAILED, S.SUCCESS]
    invs, _ = simulate(outcomes, concurrency=3, errors=0)
    assert sum(i.status is S.FAILED for i in invs) == 3  # all three were already running
    assert invs[3].status is S.CANCELLED


def test_incomplete_when_some_fail_below_the_limit() -> None:
    invs, _ = simulate([S.SUCCESS, S.FAILED, S.SUCCESS], concurrency=1, errors=1)
    assert rollup(invs, 1) == (CommandStatus.INCOMPLETE, Details.INCOMPLETE)


def test_rollup_in_flight_and_cancel() -> None:
    pending = [Invocation(S.PENDING), Invocation(S.PENDING)]
    assert rollup(pending, 0)[0] is CommandStatus.PENDING
    running = [Invocation(S.IN_PROGRESS), Invocation(S.PENDING)]
    assert rollup(running, 0)[0] is CommandStatus.IN_PROGRESS
    assert rollup(running, 0, cancel_requested=True)[0] is CommandStatus.CANCELLING
    done = [Invocation(S.SUCCESS), Invocation(S.CANCELLED, Details.CANCELLED)]
    assert rollup(done, 0, cancel_requested=True)[0] is CommandStatus.CANCELLED
    assert rollup([], 0) == (CommandStatus.FAILED, Details.NO_INSTANCES)


def test_rollup_timeouts_and_undeliverable() -> None:
    delivery = Invocation(S.TIMED_OUT, Details.DELIVERY_TIMED_OUT)
    execution = Invocation(S.TIMED_OUT, Details.EXECUTION_TIMED_OUT)
    ok = Invocation(S.SUCCESS)
    assert rollup([delivery, ok], 0) == (CommandStatus.TIMED_OUT, Details.DELIVERY_TIMED_OUT)
    assert rollup([delivery, ok], 1) == (CommandStatus.INCOMPLETE, Details.INCOMPLETE)
    assert rollup([execution, ok], 0) == (CommandStatus.TIMED_OUT, Details.EXECUTION_TIMED_OUT)
    assert execution.is_error and not delivery.is_error
    undeliverable = [Invocation(S.UNDELIVERABLE)] * 2
    assert rollup(undeliverable, 0) == (CommandStatus.FAILED, Details.UNDELIVERABLE)


def test_expire() -> None:
    kw = {"requested_at": T0, "delivery_timeout": 600, "execution_timeout": 3600}
    pending = Invocation(S.PENDING)
    assert expire(pending, now=T0 + timedelta(seconds=599), started_at=None, **kw) == pending
    late = expire(pending, now=T0 + timedelta(seconds=600), started_at=None, **kw)
    assert late == Invocation(S.TIMED_OUT, Details.DELIVERY_TIMED_OUT)
    running = Invocation(S.IN_PROGRESS)
    started = T0 + timedelta(seconds=100)
    assert expire(running, now=started + timedelta(seconds=3599), started_at=started, **kw) == (
        running
    )
    over = expire(running, now=started + timedelta(seconds=3600), started_at=started, **kw)
    assert over == Invocation(S.TIMED_OUT, Details.EXECUTION_TIMED_OUT)
    done = Invocation(S.SUCCESS)
    assert expire(done, now=T0 + timedelta(days=9), started_at=started, **kw) == done


def rounds(targets: int, concurrency: int, outcome: InvocationStatus = S.SUCCESS) -> list[int]:
    """Starts per round when every running invocation answers before the next round."""
    invs = [Invocation(S.PENDING) for _ in range(targets)]
    started: list[int] = []
    while any(i.status is S.PENDING for i in invs):
        n = allowance(invs, concurrency, targets, ramp_up=True)
        assert n > 0
        pending = [k for k, i in enumerate(invs) if i.status is S.PENDING][:n]
        for k in pending:
            invs[k] = Invocation(S.IN_PROGRESS)
        assert allowance(invs, concurrency, targets, ramp_up=True) == 0  # wait for answers
        started.append(n)
        invs = [Invocation(outcome) if i.status is S.IN_PROGRESS else i for i in invs]
    return started


def test_ramp_up_one_then_two_then_exponentially_to_max_concurrency() -> None:
    assert ramp(0) == 1 and ramp(1) == 3 and ramp(3) == 7
    assert rounds(40, concurrency=50) == [1, 2, 4, 8, 16, 9]
    assert rounds(20, concurrency=5) == [1, 2, 4, 5, 5, 3]
    assert rounds(3, concurrency=1) == [1, 1, 1]
    # failures and execution timeouts answer too (MaxErrors decides about stopping)
    assert rounds(7, concurrency=50, outcome=S.FAILED) == [1, 2, 4]


def test_ramp_up_two_more_per_answer_while_others_still_run() -> None:
    invs = [Invocation(S.SUCCESS), Invocation(S.IN_PROGRESS), Invocation(S.IN_PROGRESS)]
    invs += [Invocation(S.PENDING)] * 10
    assert allowance(invs, 50, 0, ramp_up=True) == 0  # 1 answered: 3 may have started
    invs[1] = Invocation(S.SUCCESS)
    assert allowance(invs, 50, 0, ramp_up=True) == 2
    assert allowance(invs, 50, 0) == 10  # without ramp-up: MaxConcurrency only
    delivery_timeout = Invocation(S.TIMED_OUT, Details.DELIVERY_TIMED_OUT)
    assert allowance([delivery_timeout, Invocation(S.PENDING)], 50, 0, ramp_up=True) == 1


def test_a_tally_gives_the_same_answers_as_one_value_per_invocation() -> None:
    """The server rolls up tallies (status, details) → count, some with zero counts left by
    a claim; they mean what the invocations listed one by one mean (counts checked against
    a plain loop, the rest against the tally without its zeros)."""
    import random
    from collections import Counter

    from patchwarden.core import rollout

    kinds = [
        Invocation(S.PENDING, Details.PENDING),
        Invocation(S.IN_PROGRESS, Details.IN_PROGRESS),
        Invocation(S.SUCCESS, Details.SUCCESS),
        Invocation(S.FAILED, Details.FAILED),
        Invocation(S.TIMED_OUT, Details.EXECUTION_TIMED_OUT),
        Invocation(S.TIMED_OUT, Details.DELIVERY_TIMED_OUT),
        Invocation(S.CANCELLED, Details.CANCELLED),
        Invocation(S.UNDELIVERABLE, Details.UNDELIVERABLE),
    ]
    rnd = random.Random(7)
    for _ in range(2_000):
        invs = rnd.choices(kinds, k=rnd.randrange(0, 12))
        with_zeros = Counter(invs)
        for kind in rnd.sample(kinds, 3):
            with_zeros[kind] += 0
        c = rollout.counts(with_zeros)
        for status in S:
            assert c[status.value] == sum(i.status is status for i in invs)
        assert c["errors"] == sum(i.is_error for i in invs)
        limit_, errors = rnd.randrange(1, 8), rnd.randrange(0, 4)
        cancel = rnd.random() < 0.2
        assert rollup(with_zeros, errors, cancel_requested=cancel) == rollup(
            invs, errors, cancel_requested=cancel
        )
        for ramp_up in (False, True):
            assert allowance(with_zeros, limit_, errors, ramp_up=ramp_up) == allowance(
                invs, limit_, errors, ramp_up=ramp_up
            )
