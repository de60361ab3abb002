"""The remediation state machine of one (rule, resource), pure with an injected ``now``.

- A NON_COMPLIANT evaluation *marks* the resource (mark-for-op): with ``Automatic`` a run is
  due after the grace period; a COMPLIANT one unmarks it and resets the attempt count.
- Automatic attempts are spread over ``RetryAttemptSeconds`` (the next one is due
  ``RetryAttemptSeconds / MaximumAutomaticAttempts`` after a failure).  The count resets only
  when the resource is seen COMPLIANT, so an always-failing runbook stops for sure: after
  ``MaximumAutomaticAttempts`` attempts that left the resource non-compliant, a
  RemediationException is recorded (expiring after ``ExceptionExpirySeconds``, or never) and
  no automatic run starts while it holds.  (AWS counts attempts inside the window; counting
  unfixed attempts instead is a deliberate choice: runs of RunPatchBaseline outlast 60 s.)
- A manual exception is a time-boxed risk acceptance: it suppresses automatic runs until it
  expires.  Manual starts are always possible and never count as attempts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from patchwarden.core.remediation.config import RemediationConfig


class Phase(StrEnum):
    """Where a (rule, resource) stands."""

    IDLE = "IDLE"
    MARKED = "MARKED"
    """Non-compliant; an automatic run is due at ``due_at``."""
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    EXCEPTION = "EXCEPTION"


@dataclass(frozen=True)
class RemediationState:
    """The state kept per (rule, resource)."""

    phase: Phase = Phase.IDLE
    compliance: str = ""
    due_at: datetime | None = None
    attempts: int = 0
    """Automatic attempts since the resource was last seen COMPLIANT."""
    manual_run: bool = False
    exception_reason: str = ""
    exception_until: datetime | None = None
    exception_manual: bool = False
    in_exception: bool = False

    def excepted(self, now: datetime) -> bool:
        """Whether an exception holds at ``now``."""
        return self.in_exception and (self.exception_until is None or now < self.exception_until)


@dataclass(frozen=True)
class StartRun:
    """Start the configured runbook for the resource (subject to execution controls)."""

    manual: bool = False


@dataclass(frozen=True)
class RecordException:
    """Record (or renew) a RemediationException."""

    reason: str
    until: datetime | None
    manual: bool = False


Decision = StartRun | RecordException
_RUNNING = (Phase.QUEUED, Phase.IN_PROGRESS)


def _mark(
    config: RemediationConfig, state: RemediationState, now: datetime, delay: timedelta
) -> RemediationState:
    if not config.automatic or state.excepted(now) or state.phase in _RUNNING:
        return state
    if state.attempts >= config.maximum_automatic_attempts:
        return state
    due = now + delay
    if state.phase is Phase.MARKED and state.due_at is not None:
        due = min(due, state.due_at) if delay.total_seconds() == 0 else state.due_at
    return replace(state, phase=Phase.MARKED, due_at=due)


def retry_delay(config: RemediationConfig) -> timedelta:
    """Time between two automatic attempts."""
    return timedelta(seconds=config.retry_attempt_seconds / config.maximum_automatic_attempts)


def observe(
    config: RemediationConfig, state: RemediationState, compliance: str, now: datetime
) -> tuple[RemediationState, tuple[Decision, ...]]:
    """A new evaluation of the resource by the rule."""
    state = replace(state, compliance=compliance)
    if compliance != "NON_COMPLIANT":
        if state.phase in _RUNNING:
            return state, ()
        attempts = 0 if compliance == "COMPLIANT" else state.attempts
        idle = state.phase is Phase.EXCEPTION and state.excepted(now)
        phase = Phase.EXCEPTION if idle else Phase.IDLE
        return replace(state, phase=phase, due_at=None, attempts=attempts), ()
    if state.phase in (Phase.IDLE, Phase.SUCCEEDED, Phase.FAILED) or (
        state.phase is Phase.EXCEPTION and not state.excepted(now)
    ):
        if state.attempts >= config.maximum_automatic_attempts and config.automatic:
            return _exhausted(config, state, now)
        first = state.attempts == 0
        delay = timedelta(seconds=config.grace_seconds) if first else retry_delay(config)
        if state.phase is Phase.FAILED and state.due_at is not None:
            delay = max(delay, state.due_at - now)
        state = replace(state, phase=Phase.IDLE) if state.phase is Phase.EXCEPTION else state
        return _mark(config, state, now, delay), ()
    return state, ()


def tick(
    config: RemediationConfig, state: RemediationState, now: datetime
) -> tuple[RemediationState, tuple[Decision, ...]]:
    """Time passed: start a due automatic run; lift an expired exception."""
    if state.phase is Phase.EXCEPTION and not state.excepted(now):
        state = replace(state, phase=Phase.IDLE, in_exception=False, attempts=0, due_at=None)
        if state.compliance == "NON_COMPLIANT":
            return observe(config, state, state.compliance, now)
        return state, ()
    if state.phase is Phase.MARKED and state.due_at is not None and now >= state.due_at:
        if state.excepted(now) or not config.automatic:
            return replace(state, phase=Phase.IDLE, due_at=None), ()
        return replace(state, phase=Phase.QUEUED, manual_run=False), (StartRun(),)
    return state, ()


def start_manual(state: RemediationState) -> tuple[RemediationState, tuple[Decision, ...]]:
    """An operator's start: always allowed unless a run is already queued or running."""
    if state.phase in _RUNNING:
        return state, ()
    return replace(state, phase=Phase.QUEUED, manual_run=True, due_at=None), (
        StartRun(manual=True),
    )


def started(state: RemediationState, now: datetime) -> RemediationState:
    """The queued run was admitted and its runbook execution started."""
    attempts = state.attempts if state.manual_run else state.attempts + 1
    return replace(state, phase=Phase.IN_PROGRESS, attempts=attempts, due_at=None)


def finished(
    config: RemediationConfig, state: RemediationState, succeeded: bool, now: datetime
) -> tuple[RemediationState, tuple[Decision, ...]]:
    """The run ended.  A failure that used the last automatic attempt records an exception;
    an earlier one schedules the next attempt (on the next NON_COMPLIANT evaluation)."""
    if succeeded:
        return replace(state, phase=Phase.SUCCEEDED, manual_run=False), ()
    if not state.manual_run and state.attempts >= config.maximum_automatic_attempts:
        return _exhausted(config, state, now)
    state = replace(state, phase=Phase.FAILED, manual_run=False, due_at=now + retry_delay(config))
    if state.compliance == "NON_COMPLIANT" and config.automatic:
        return observe(config, state, "NON_COMPLIANT", now)
    return state, ()


def _exhausted(
    config: RemediationConfig, state: RemediationState, now: datetime
) -> tuple[RemediationState, tuple[Decision, ...]]:
    until = now + timedelta(seconds=config.exception_seconds) if config.exception_seconds else None
    reason = f"{state.attempts} automatic attempt(s) did not make the resource compliant"
    new = replace(
        state,
        phase=Phase.EXCEPTION,
        manual_run=False,
        due_at=None,
        in_exception=True,
        exception_reason=reason,
        exception_until=until,
        exception_manual=False,
    )
    return new, (RecordException(reason, until),)


def accept_risk(
    state: RemediationState, reason: str, until: datetime | None, now: datetime
) -> tuple[RemediationState, tuple[Decision, ...]]:
    """A manual exception (risk acceptance) until ``until``: no automatic runs meanwhile."""
    phase = state.phase if state.phase in _RUNNING else Phase.EXCEPTION
    new = replace(
        state,
        phase=phase,
        due_at=None,
        in_exception=True,
        exception_reason=reason,
        exception_until=until,
        exception_manual=True,
    )
    return new, (RecordException(reason, until, manual=True),)


def clear_exception(
    config: RemediationConfig, state: RemediationState, now: datetime
) -> tuple[RemediationState, tuple[Decision, ...]]:
    """Delete the exception: attempts start over."""
    state = replace(
        state, in_exception=False, exception_until=None, exception_reason="", attempts=0
    )
    if state.phase is Phase.EXCEPTION:
        state = replace(state, phase=Phase.IDLE)
        if state.compliance == "NON_COMPLIANT":
            return observe(config, state, state.compliance, now)
    return state, ()
