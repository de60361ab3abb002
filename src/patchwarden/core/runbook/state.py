"""Execution state, events and actions of the runbook interpreter (reference §9).

The interpreter (:mod:`~patchwarden.core.runbook.machine`) is a pure function of
(runbook, state, event, now) → (state, actions).  The runner performs the actions and reports
back with events; it never decides what comes next.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    """AutomationExecutionStatus, shared by executions and steps."""

    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    WAITING = "Waiting"
    SUCCESS = "Success"
    TIMED_OUT = "TimedOut"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"
    FAILED = "Failed"
    EXITED = "Exited"

    @property
    def done(self) -> bool:
        """Whether nothing more happens in this status."""
        return self in _DONE


_DONE = frozenset(
    {Status.SUCCESS, Status.TIMED_OUT, Status.CANCELLED, Status.FAILED, Status.EXITED}
)


@dataclass(frozen=True)
class StepRun:
    """One step of one execution.  Steps never reached (or skipped by a branch) stay Pending."""

    status: Status = Status.PENDING
    attempts: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    deadline: datetime | None = None
    """When the current attempt times out."""
    wake_at: datetime | None = None
    """When a ``sleep`` step ends."""
    approvals: tuple[str, ...] = ()
    message: str = ""
    outputs: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Execution:
    """One runbook execution."""

    runbook: str
    status: Status
    parameters: Mapping[str, object]
    steps: Mapping[str, StepRun]
    current: str | None = None
    variables: Mapping[str, object] = field(default_factory=dict)
    """``step.Output`` → value, for ``{{step.Output}}`` references."""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    message: str = ""
    allow_shell: bool = False


# -- events the runner reports -------------------------------------------------------------


@dataclass(frozen=True)
class StepSucceeded:
    """The action of ``step`` finished well (a command succeeded, tags changed, approval …)."""

    step: str
    outputs: Mapping[str, object] = field(default_factory=dict)
    attempt: int | None = None
    """When given, an event for another attempt than the current one is ignored."""
    message: str = ""


@dataclass(frozen=True)
class StepFailed:
    """The action of ``step`` failed."""

    step: str
    message: str = ""
    attempt: int | None = None


@dataclass(frozen=True)
class TimerFired:
    """Time passed: ends sleeps and times out attempts whose deadline is past."""


@dataclass(frozen=True)
class ApprovalGiven:
    """An operator approved (or rejected) an ``approve`` step."""

    step: str
    approver: str
    approved: bool = True
    comment: str = ""


@dataclass(frozen=True)
class Cancel:
    """Stop the execution."""

    reason: str = "cancelled"


Event = StepSucceeded | StepFailed | TimerFired | ApprovalGiven | Cancel


# -- actions the runner performs -----------------------------------------------------------


@dataclass(frozen=True)
class RunCommand:
    """Send ``document`` with ``parameters`` to the node; report the outcome."""

    step: str
    attempt: int
    node_id: str
    document: str
    parameters: Mapping[str, object]
    shell: bool = False
    """A RunShellScript command (enabled explicitly; the runner audits it)."""


@dataclass(frozen=True)
class ChangeTags:
    """Add and/or remove tags of a node; report the outcome."""

    step: str
    attempt: int
    node_id: str
    add: Mapping[str, str] = field(default_factory=dict)
    remove: tuple[str, ...] = ()


@dataclass(frozen=True)
class Notify:
    """POST a JSON message to a webhook destination (a name an admin configured, never a
    URL); report the outcome."""

    step: str
    attempt: int
    destination: str
    payload: Mapping[str, object]


@dataclass(frozen=True)
class WakeAt:
    """Deliver :class:`TimerFired` at or after ``at``."""

    step: str
    at: datetime


@dataclass(frozen=True)
class AwaitApprovals:
    """Collect ``required`` approvals (from ``approvers`` when given) until ``until``."""

    step: str
    required: int
    approvers: tuple[str, ...]
    message: str
    until: datetime


@dataclass(frozen=True)
class AwaitCompliance:
    """Report success once the node's compliance (for ``rule`` or overall) is ``desired``."""

    step: str
    attempt: int
    node_id: str
    rule: str
    desired: str
    until: datetime


Action = RunCommand | ChangeTags | Notify | WakeAt | AwaitApprovals | AwaitCompliance


@dataclass(frozen=True)
class Transition:
    """The interpreter's answer: the new state and what to do now."""

    execution: Execution
    actions: tuple[Action, ...] = ()
