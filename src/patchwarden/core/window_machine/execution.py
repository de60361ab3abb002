"""A window execution over its tasks: which tasks run now (by priority) and how it ends.

Tasks run by priority, lower first; tasks of equal priority run in parallel, and the next
level starts once every task of the previous one has ended (in the same tick when it ends).
The execution ends with the worst of its tasks' statuses: TIMED_OUT, then FAILED, then
CANCELLED; ``CANCELLED`` whatever they are when it was being cancelled.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from patchwarden.core.window_machine.model import RUN_COMMAND
from patchwarden.core.windows import Status

WORST_FIRST = (Status.TIMED_OUT, Status.FAILED, Status.CANCELLED)


def to_step(
    tasks: Sequence[tuple[int, Status]], stepped: Collection[int]
) -> tuple[int, ...] | None:
    """The tasks (indexes into ``tasks``: (priority, status) pairs) to step next in this
    tick: the unfinished ones of the lowest priority level.  ``()`` when that level was
    already stepped in this tick (``stepped``) and still runs: wait for the next tick.
    ``None`` when every task has ended: the execution ends."""
    active = [(i, priority) for i, (priority, status) in enumerate(tasks) if not status.terminal]
    if not active:
        return None
    level = min(priority for _, priority in active)
    due = tuple(i for i, priority in active if priority == level)
    if any(i in stepped for i in due):
        return ()
    return due


def final(statuses: Sequence[Status], cancelled: bool) -> tuple[Status, str]:
    """The execution's status and StatusDetails once every task has ended."""
    details = f"{sum(s == Status.SUCCESS for s in statuses)} of {len(statuses)} tasks succeeded"
    if cancelled:
        return Status.CANCELLED, details
    for status in WORST_FIRST:
        if status in statuses:
            return status, details
    return Status.SUCCESS, details


def reboots(task_type: str, parameters: Mapping[str, object]) -> bool:
    """Whether a task may reboot its nodes (reboot coordination caps its waves): a
    RUN_COMMAND task installing without ``RebootOption: NoReboot``."""
    if task_type != RUN_COMMAND:
        return False
    operation = parameters.get("Operation")
    option = parameters.get("RebootOption", "RebootIfNeeded")
    return operation in ("Install", ["Install"]) and option not in ("NoReboot", ["NoReboot"])
