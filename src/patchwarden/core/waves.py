"""Rollout waves of a maintenance-window task (pure).

``MaxConcurrency`` is either an SSM limit (``"10"``, ``"10%"``: one wave holding every
target, rate-controlled inside by the command) or a *canary list* like Ansible's
``serial``: ``[1, "10%", "50%"]`` runs one node, then waves of 10 %, then waves of 50 % of
the targets until none are left (the last size repeats).  Percentages are of the target
count, floored, at least 1.

Reboot coordination (``MaxRebootingPerGroup``) caps how many nodes of one patch group a
wave may hold: a wave's nodes may all install (and reboot) at once, so at most N of a
group are ever rebooting together.  Nodes held back move to the next wave, in order.

MaxErrors counts over the whole task (:func:`error_budget`): the (N+1)-th error stops
further waves; invocations already running finish.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from patchwarden.core.rollout import check_limit, limit

Concurrency = str | Sequence[int | str]
"""A MaxConcurrency value: an SSM limit string or a canary list."""


def check_concurrency(value: Concurrency) -> None:
    """Validate an SSM limit or a canary list (1-20 entries, each an SSM limit)."""
    if isinstance(value, str):
        check_limit(value, concurrency=True)
        return
    from patchwarden.errors import InputError

    if not 1 <= len(value) <= 20:
        raise InputError("MaxConcurrency: a canary list needs 1 to 20 entries")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise InputError(f"MaxConcurrency: {item!r} is not a number or a percentage")
        check_limit(str(item), concurrency=True)


def wave_sizes(value: Concurrency, targets: int) -> list[int]:
    """The size of each wave for ``targets`` nodes (they add up to ``targets``)."""
    check_concurrency(value)
    if targets <= 0:
        return []
    if isinstance(value, str):
        return [targets]
    sizes: list[int] = []
    left, steps = targets, list(value)
    index = 0
    while left > 0:
        step = steps[min(index, len(steps) - 1)]
        size = min(left, limit(str(step), targets, concurrency=True))
        sizes.append(size)
        left -= size
        index += 1
    return sizes


def wave_concurrency(value: Concurrency, wave_size: int, targets: int) -> str:
    """The MaxConcurrency of the command running one wave: the SSM limit itself for a
    plain value (a single wave), else the whole wave at once."""
    if isinstance(value, str):
        return str(limit(value, targets, concurrency=True))
    return str(max(1, wave_size))


@dataclass(frozen=True)
class Target:
    """A resolved target node and its patch group (reboot coordination)."""

    node_id: str
    group: str | None = None


def plan(
    targets: Sequence[Target], value: Concurrency, max_per_group: int | None = None
) -> list[list[str]]:
    """The node ids of each wave, in target order, with at most ``max_per_group`` nodes of
    one patch group per wave (nodes without a patch group are not capped)."""
    sizes = wave_sizes(value, len(targets))
    if max_per_group is not None and max_per_group < 1:
        from patchwarden.errors import InputError

        raise InputError("RebootCoordination.MaxRebootingPerGroup: must be at least 1")
    waiting = list(targets)
    waves: list[list[str]] = []
    index = 0
    while waiting:
        size = sizes[min(index, len(sizes) - 1)]
        wave: list[str] = []
        per_group: dict[str, int] = {}
        held: list[Target] = []
        for target in waiting:
            if len(wave) >= size:
                held.append(target)
                continue
            group = target.group
            if max_per_group is not None and group is not None:
                if per_group.get(group, 0) >= max_per_group:
                    held.append(target)
                    continue
                per_group[group] = per_group.get(group, 0) + 1
            wave.append(target.node_id)
        waves.append(wave)
        waiting = held
        index += 1
    return waves


def error_budget(error_limit: int, errors_so_far: int) -> int | None:
    """MaxErrors left for the next wave's command, or ``None`` when the errors so far
    already exceed the task's limit (no further wave starts)."""
    if errors_so_far > error_limit:
        return None
    return error_limit - errors_so_far
