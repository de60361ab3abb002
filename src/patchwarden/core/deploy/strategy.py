"""Traffic waves and router weights.

A strategy is a list of :class:`Wave`\\ s: the share of traffic green gets, then how long
that share bakes before the next wave.  Every strategy ends with green at 100 %; what
happens to blue then (stopped at once, or after ``terminationWait``) is
:func:`termination_wait`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from math import gcd

from patchwarden.core.deploy.model import Deployment, Strategy


@dataclass(frozen=True)
class Wave:
    """Green gets ``percent`` of the traffic, and keeps it for ``bake`` (alarms watched)."""

    percent: int
    bake: timedelta = timedelta(0)


def waves(deployment: Deployment) -> tuple[Wave, ...]:
    """The waves of ``deployment``'s strategy, the last one at 100 %."""
    strategy, share, interval = deployment.strategy, deployment.percentage, deployment.interval
    if strategy is Strategy.CANARY:
        return (Wave(share, interval), Wave(100))
    if strategy is Strategy.LINEAR:
        steps = [Wave(p, interval) for p in range(share, 100, share)]
        return (*steps, Wave(100))
    return (Wave(100),)


def termination_wait(deployment: Deployment) -> timedelta:
    """How long blue is kept after green has all the traffic (none for AllAtOnce)."""
    if deployment.strategy is Strategy.ALL_AT_ONCE:
        return timedelta(0)
    return deployment.termination_wait


def weights(blue: Sequence[str], green: Sequence[str], green_percent: int) -> list[tuple[str, int]]:
    """Router weights (``(address, weight)``, smallest integers) that give green
    ``green_percent`` of the requests, spread evenly over each colour's instances.

    >>> weights(["b1"], ["g1"], 10)
    [('b1', 9), ('g1', 1)]
    >>> weights(["b1", "b2"], ["g1"], 50)
    [('b1', 1), ('b2', 1), ('g1', 2)]
    """
    if not 0 <= green_percent <= 100:
        raise ValueError(f"green share {green_percent} is not 0-100")
    if not green or green_percent == 0:
        return [(address, 1) for address in blue]
    if not blue or green_percent == 100:
        return [(address, 1) for address in green]
    blue_weight = (100 - green_percent) * len(green)
    green_weight = green_percent * len(blue)
    common = gcd(blue_weight, green_weight)
    return [(a, blue_weight // common) for a in blue] + [(a, green_weight // common) for a in green]


def slots(taken: Sequence[int], count: int) -> list[int]:
    """``count`` slots (0, 1, …) not in ``taken``, smallest first: green runs beside blue."""
    free: list[int] = []
    candidate = 0
    used = set(taken)
    while len(free) < count:
        if candidate not in used:
            free.append(candidate)
        candidate += 1
    return free
