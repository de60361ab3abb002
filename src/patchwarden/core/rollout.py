"""Run Command rate control and statuses (reference §6), as pure functions.

- :func:`limit` — MaxConcurrency / MaxErrors: an absolute number or a percentage of the
  resolved target count (floor; at least 1 for concurrency; MaxErrors may be 0).
- :func:`allowance` — how many more invocations may start now (with ``ramp_up``, SSM's slow
  start of :func:`ramp`).
- :func:`should_stop` — the (N+1)-th error stops dispatch; running invocations finish and
  the ones not yet started end ``Cancelled`` (``Terminated``).
- :func:`expire` — delivery and execution timeouts.
- :func:`rollup` — the command's status from its invocations.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from patchwarden.errors import InputError

_CONCURRENCY = re.compile(r"^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$")
_ERRORS = re.compile(r"^([1-9][0-9]*|0|[1-9][0-9]%|[0-9]%|100%)$")
DEFAULT_MAX_CONCURRENCY = "50"
DEFAULT_MAX_ERRORS = "0"


class InvocationStatus(StrEnum):
    """Invocation statuses (reference §6)."""

    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    DELAYED = "Delayed"
    SUCCESS = "Success"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"
    CANCELLED = "Cancelled"
    UNDELIVERABLE = "Undeliverable"

    @property
    def terminal(self) -> bool:
        """Whether the invocation is over."""
        return self not in _ACTIVE


_ACTIVE = frozenset(
    {InvocationStatus.PENDING, InvocationStatus.IN_PROGRESS, InvocationStatus.DELAYED}
)


class Details(StrEnum):
    """StatusDetails strings that say more than the status."""

    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    SUCCESS = "Success"
    FAILED = "Failed"
    DELIVERY_TIMED_OUT = "Delivery Timed Out"
    EXECUTION_TIMED_OUT = "Execution Timed Out"
    CANCELLED = "Cancelled"
    TERMINATED = "Terminated"
    UNDELIVERABLE = "Undeliverable"
    INCOMPLETE = "Incomplete"
    NO_INSTANCES = "No Instances In Tag"


class CommandStatus(StrEnum):
    """Command statuses: the API enum plus ``Incomplete`` (some invocations did not
    succeed, but too few for Failed)."""

    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    SUCCESS = "Success"
    FAILED = "Failed"
    INCOMPLETE = "Incomplete"
    TIMED_OUT = "TimedOut"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"

    @property
    def terminal(self) -> bool:
        """Whether nothing will change any more."""
        return self not in {self.PENDING, self.IN_PROGRESS, self.CANCELLING}


@dataclass(frozen=True)
class Invocation:
    """What rate control needs to know of one invocation."""

    status: InvocationStatus
    details: str = ""

    @property
    def is_error(self) -> bool:
        """Counts toward MaxErrors: Failed, or Execution Timed Out."""
        return self.status is InvocationStatus.FAILED or (
            self.status is InvocationStatus.TIMED_OUT
            and self.details == Details.EXECUTION_TIMED_OUT
        )


def check_limit(text: str, *, concurrency: bool) -> str:
    """Validate a MaxConcurrency (``concurrency=True``) or MaxErrors value as SSM does."""
    pattern = _CONCURRENCY if concurrency else _ERRORS
    if not pattern.match(text):
        field = "MaxConcurrency" if concurrency else "MaxErrors"
        allowed = "a number >= 1" if concurrency else "a number >= 0"
        raise InputError(f"{field}: must be {allowed} or a percentage (e.g. 10%), got {text!r}")
    return text


def limit(text: str, targets: int, *, concurrency: bool) -> int:
    """The absolute limit for ``targets`` resolved nodes (percent: floor, concurrency >= 1)."""
    check_limit(text, concurrency=concurrency)
    value = int(text[:-1]) * targets // 100 if text.endswith("%") else int(text)
    return max(1, value) if concurrency else value


Invocations = Iterable[Invocation] | Mapping[Invocation, int]
"""One value per invocation, or a tally (value → how many invocations have it): a command
to 10,000 nodes is a handful of distinct values."""


def tally(invocations: Invocations) -> Mapping[Invocation, int]:
    """``invocations`` as a tally."""
    if isinstance(invocations, Mapping):
        return invocations
    return Counter(invocations)


def counts(invocations: Invocations) -> Counter[str]:
    """Invocations per status, plus ``errors`` and ``delivery_timed_out``."""
    c: Counter[str] = Counter()
    for inv, n in tally(invocations).items():
        c[inv.status.value] += n
        c["errors"] += n * inv.is_error
        c["delivery_timed_out"] += n * (inv.details == Details.DELIVERY_TIMED_OUT)
    return c


def should_stop(invocations: Invocations, error_limit: int) -> bool:
    """Whether the errors so far exceed MaxErrors (the (N+1)-th error stops dispatch)."""
    return counts(invocations)["errors"] > error_limit


def ramp(acknowledged: int) -> int:
    """SSM's gradual ramp-up (reference §6): how many invocations may have been started in
    all once ``acknowledged`` of them have answered — one node first, two more after it
    answers, then two more per answer: 1, 3, 7, 15, … in rounds, i.e. exponentially, capped
    by MaxConcurrency in :func:`allowance`."""
    return 2 * acknowledged + 1


def _answered(inv: Invocation) -> bool:
    """Started and answered: a final status the node reported (or ran out of time on)."""
    return inv.status in (InvocationStatus.SUCCESS, InvocationStatus.FAILED) or (
        inv.status is InvocationStatus.TIMED_OUT and inv.details == Details.EXECUTION_TIMED_OUT
    )


def allowance(
    invocations: Invocations,
    concurrency_limit: int,
    error_limit: int,
    *,
    ramp_up: bool = False,
) -> int:
    """How many Pending invocations may start now.  ``invocations`` are all of the command's
    when ``ramp_up`` is on (the slow start counts the answered ones)."""
    invs = tally(invocations)
    c = counts(invs)
    if c["errors"] > error_limit:
        return 0
    running = c[InvocationStatus.IN_PROGRESS.value] + c[InvocationStatus.DELAYED.value]
    room = min(concurrency_limit - running, c[InvocationStatus.PENDING.value])
    if ramp_up:
        answered = sum(n for i, n in invs.items() if _answered(i))
        room = min(room, ramp(answered) - (answered + running))
    return max(0, room)


def expire(
    inv: Invocation,
    *,
    now: datetime,
    requested_at: datetime,
    started_at: datetime | None,
    delivery_timeout: int,
    execution_timeout: int,
) -> Invocation:
    """The invocation after its timeouts: never started within the delivery timeout →
    TimedOut (Delivery Timed Out); started but not finished within the execution timeout
    → TimedOut (Execution Timed Out, an error)."""
    if inv.status is InvocationStatus.PENDING:
        if now >= requested_at + timedelta(seconds=delivery_timeout):
            return Invocation(InvocationStatus.TIMED_OUT, Details.DELIVERY_TIMED_OUT)
    elif inv.status in (InvocationStatus.IN_PROGRESS, InvocationStatus.DELAYED):
        start = started_at or requested_at
        if now >= start + timedelta(seconds=execution_timeout):
            return Invocation(InvocationStatus.TIMED_OUT, Details.EXECUTION_TIMED_OUT)
    return inv


def rollup(
    invocations: Invocations, error_limit: int, *, cancel_requested: bool = False
) -> tuple[CommandStatus, Details]:
    """The command status of reference §6 from its invocations."""
    invs = tally(invocations)
    total = sum(invs.values())
    if not total:
        return CommandStatus.FAILED, Details.NO_INSTANCES
    c = counts(invs)
    if any(n and not i.status.terminal for i, n in invs.items()):
        if cancel_requested:
            return CommandStatus.CANCELLING, Details.CANCELLED
        started = total - c[InvocationStatus.PENDING.value]
        if started == 0:
            return CommandStatus.PENDING, Details.PENDING
        return CommandStatus.IN_PROGRESS, Details.IN_PROGRESS
    if cancel_requested:
        return CommandStatus.CANCELLED, Details.CANCELLED
    failed = c[InvocationStatus.FAILED.value]
    if c["errors"] > error_limit:
        if failed > error_limit or failed >= c["errors"] - failed:
            return CommandStatus.FAILED, Details.FAILED
        return CommandStatus.TIMED_OUT, Details.EXECUTION_TIMED_OUT
    if c["delivery_timed_out"] > error_limit:
        return CommandStatus.TIMED_OUT, Details.DELIVERY_TIMED_OUT
    if c[InvocationStatus.UNDELIVERABLE.value] == total:
        return CommandStatus.FAILED, Details.UNDELIVERABLE
    if c[InvocationStatus.SUCCESS.value] == total:
        return CommandStatus.SUCCESS, Details.SUCCESS
    return CommandStatus.INCOMPLETE, Details.INCOMPLETE
