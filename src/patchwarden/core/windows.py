"""Maintenance-window timing and statuses (pure; reference §5).

A window opens at each scheduled time ``t`` (:mod:`patchwarden.core.schedule`), stays open
``Duration`` hours and starts no new task or wave after the *cutoff instant*
``t + Duration - Cutoff``.

:func:`due` turns "the last scheduled time handled" and ``now`` into the executions to
start and the ones missed.  A scheduled time whose cutoff instant has passed by the time
the scheduler sees it (the server was down) is **missed**: it is recorded — status
``FAILED`` with StatusDetails :data:`MISSED` (MISSED is not an AWS status, so the AWS enum
is kept) — and never started late.  A scheduled time seen before its cutoff instant is
started (the window is still open and may still start work).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from patchwarden.core.schedule import Schedule, parse_schedule, validate_window

MISSED = "missed: server was down"
"""StatusDetails of an execution whose whole window passed while no server ran."""
MAX_MISSED = 100
"""At most this many missed executions are recorded per window and tick (the oldest are
dropped: a five-minute rate down for a month should not write 8,640 rows)."""


class Status(StrEnum):
    """Statuses of window executions, task executions (reference §5.2)."""

    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"
    SKIPPED_OVERLAPPING = "SKIPPED_OVERLAPPING"

    @property
    def terminal(self) -> bool:
        """Whether nothing will change any more."""
        return self not in (Status.PENDING, Status.IN_PROGRESS, Status.CANCELLING)


ACTIVE = (Status.PENDING.value, Status.IN_PROGRESS.value, Status.CANCELLING.value)


@dataclass(frozen=True)
class Timing:
    """When a window runs: Schedule, ScheduleTimezone, ScheduleOffset, Duration, Cutoff,
    StartDate, EndDate."""

    schedule: str
    duration_hours: int
    cutoff_hours: int
    timezone: str = "UTC"
    offset_days: int | None = None
    start: datetime | None = None
    end: datetime | None = None

    def parsed(self) -> Schedule:
        """The schedule expression (an InputError when invalid)."""
        return parse_schedule(self.schedule)

    def check(self) -> None:
        """Validate expression, Duration, Cutoff and offset together."""
        validate_window(self.duration_hours, self.cutoff_hours, self.parsed(), self.offset_days)

    def next_after(self, after: datetime) -> datetime | None:
        """The first scheduled time after ``after`` (``None``: never again)."""
        return self.parsed().next_after(
            after,
            timezone=self.timezone,
            offset_days=self.offset_days or 0,
            start=self.start,
            end=self.end,
        )

    def cutoff_at(self, scheduled: datetime) -> datetime:
        """No new task or wave starts at or after this instant."""
        return scheduled + timedelta(hours=self.duration_hours - self.cutoff_hours)

    def end_at(self, scheduled: datetime) -> datetime:
        """The window closes."""
        return scheduled + timedelta(hours=self.duration_hours)

    def within(self, scheduled: datetime, now: datetime) -> bool:
        """Whether ``now`` is inside the window opened at ``scheduled``."""
        return scheduled <= now < self.end_at(scheduled)


@dataclass(frozen=True)
class Due:
    """What a scheduler tick does for one window."""

    start: list[datetime] = field(default_factory=list)
    missed: list[datetime] = field(default_factory=list)
    handled_until: datetime | None = None
    """The new "last scheduled time handled" (unchanged when nothing was due)."""
    next_run: datetime | None = None


def due(timing: Timing, now: datetime, handled_until: datetime) -> Due:
    """Scheduled times in (``handled_until``, ``now``]: to start (still before their cutoff
    instant) or missed; and the next scheduled time after ``now``."""
    schedule = timing.parsed()
    kwargs: dict[str, Any] = {
        "timezone": timing.timezone,
        "offset_days": timing.offset_days or 0,
        "start": timing.start,
        "end": timing.end,
    }
    start: list[datetime] = []
    missed: list[datetime] = []
    last: datetime | None = None
    at = schedule.next_after(handled_until, **kwargs)
    while at is not None and at <= now:
        (start if now < timing.cutoff_at(at) else missed).append(at)
        last = at
        at = schedule.next_after(at, **kwargs)
    return Due(
        start=start,
        missed=missed[-MAX_MISSED:],
        handled_until=last,
        next_run=at,
    )


PSEUDO = re.compile(r"\{\{\s*([A-Z_]+)\s*\}\}")
PSEUDO_NAMES = (
    "WINDOW_ID",
    "WINDOW_TASK_ID",
    "WINDOW_TARGET_ID",
    "WINDOW_EXECUTION_ID",
    "TASK_EXECUTION_ID",
    "TARGET_TYPE",
)
"""Pseudo-parameters a RUN_COMMAND task may use (TARGET_ID and RESOURCE_ID are not
available to Run Command, as in AWS; INVOCATION_ID is per node and not supported)."""
AUTOMATION_PSEUDO_NAMES = (*PSEUDO_NAMES, "TARGET_ID", "RESOURCE_ID")
"""Pseudo-parameters of an AUTOMATION task with targets: one runbook execution per node, so
TARGET_ID and RESOURCE_ID (both the node id, as for AWS INSTANCE targets) are known."""


def check_pseudo(
    value: object, where: str = "Parameters", names: tuple[str, ...] = PSEUDO_NAMES
) -> None:
    """Refuse ``{{NAME}}`` pseudo-parameters not in ``names`` anywhere in ``value``."""
    from patchwarden.errors import InputError

    if isinstance(value, str):
        for name in PSEUDO.findall(value):
            if name not in names:
                raise InputError(
                    f"{where}: unknown pseudo-parameter {{{{{name}}}}} (known: {', '.join(names)})"
                )
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_pseudo(item, f"{where}.{key}", names)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_pseudo(item, f"{where}[{index}]", names)


def substitute(value: Any, values: Mapping[str, str]) -> Any:
    """``value`` with every ``{{NAME}}`` replaced from ``values`` (others left alone)."""
    if isinstance(value, str):
        return PSEUDO.sub(lambda m: values.get(m.group(1), m.group(0)), value)
    if isinstance(value, Mapping):
        return {k: substitute(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, values) for v in value]
    return value
