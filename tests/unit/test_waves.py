"""Canary waves, reboot coordination and the MaxErrors budget across waves."""

from __future__ import annotations

import pytest

from patchwarden.core import rollout, waves
from patchwarden.core.rollout import Invocation, InvocationStatus
from patchwarden.core.waves import Target, plan, wave_sizes
from patchwarden.errors import InputError


@pytest.mark.parametrize(
    ("value", "targets", "sizes"),
    [
        ("10%", 50, [50]),  # a plain limit: one wave, rate-controlled inside
        ("2", 3, [3]),
        ([1, "10%", "50%"], 20, [1, 2, 10, 7]),  # the last size repeats
        ([1, "50%"], 3, [1, 1, 1]),  # 50 % of 3 floors to 1
        ([1, "50%"], 4, [1, 2, 1]),
        ([1, 2], 1, [1]),
        ([5], 3, [3]),
        (["10%"], 5, [1, 1, 1, 1, 1]),  # at least one
        ([1, "100%"], 6, [1, 5]),
        ([1], 0, []),
    ],
)
def test_wave_sizes(value: waves.Concurrency, targets: int, sizes: list[int]) -> None:
    assert wave_sizes(value, targets) == sizes
    assert sum(sizes) == targets


@pytest.mark.parametrize("value", [[], [0], ["0%"], [1, "101%"], [True], [1.5], "0", ["x"]])
def test_bad_concurrency(value: waves.Concurrency) -> None:
    with pytest.raises(InputError, match="MaxConcurrency"):
        wave_sizes(value, 10)


def test_reboot_coordination_caps_a_group_per_wave() -> None:
    targets = [Target(f"n{i}", "g1" if i < 4 else "g2") for i in range(6)] + [Target("x")]
    assert plan(targets, "100%") == [[t.node_id for t in targets]]
    assert plan(targets, "100%", max_per_group=2) == [
        ["n0", "n1", "n4", "n5", "x"],
        ["n2", "n3"],
    ]
    assert plan(targets, [1, "50%"], max_per_group=1) == [
        ["n0"],
        ["n1", "n4", "x"],
        ["n2", "n5"],
        ["n3"],
    ]
    with pytest.raises(InputError):
        plan(targets, "1", max_per_group=0)


def test_error_budget_across_waves() -> None:
    assert waves.error_budget(1, 0) == 1
    assert waves.error_budget(1, 1) == 0
    assert waves.error_budget(1, 2) is None  # the (N+1)-th error: no further wave
    assert waves.error_budget(0, 0) == 0


def test_wave_concurrency() -> None:
    assert waves.wave_concurrency("10%", 50, 50) == "5"
    assert waves.wave_concurrency([1, "50%"], 2, 4) == "2"


def test_in_flight_invocations_finish_after_the_stop() -> None:
    """A wave's command gets the remaining budget: with 0 left the first error stops it,
    the invocation already running finishes, the pending one ends Cancelled."""
    running = [
        Invocation(InvocationStatus.FAILED),
        Invocation(InvocationStatus.IN_PROGRESS),
        Invocation(InvocationStatus.PENDING),
    ]
    budget = waves.error_budget(1, 1)
    assert budget == 0
    assert rollout.should_stop(running, budget)
    assert rollout.allowance(running, 3, budget) == 0
