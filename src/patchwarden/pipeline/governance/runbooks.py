"""The runbook runner: stores executions and turns the interpreter's actions into effects
(:mod:`.effects`).  The interpreter decides; the runner only performs and reports back
events: outcomes known at once, finished commands, compliance reached, approvals, timers
and webhook deliveries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from patchwarden.core.runbook import (
    ApprovalGiven,
    Event,
    Runbook,
    Status,
    TimerFired,
    Transition,
    approval_refusal,
    handle,
    is_approver,
    parse_runbook,
)
from patchwarden.core.runbook import start as begin
from patchwarden.errors import InputError
from patchwarden.pipeline.governance import effects, remediation
from patchwarden.pipeline.governance.context import Governance
from patchwarden.pipeline.governance.records import Delivery, Notification, StoredExecution


def start(
    gov: Governance, name: str, parameters: Mapping[str, object], at: datetime, actor: str
) -> StoredExecution:
    """Start runbook ``name``: InputError for an unknown runbook or bad parameters."""
    stored = gov.catalog.runbook(name)
    if stored is None:
        raise InputError(f"runbook {name!r} does not exist")
    book = parse_runbook(name, stored.spec)
    transition = begin(book, parameters, at, allow_shell=gov.catalog.shell_enabled())
    steps = [(step.name, step.action) for step in book.steps]
    execution_id = gov.executions.create(stored, steps, transition.execution, actor, at)
    detail = {"parameters": dict(parameters)}
    gov.audit.record(actor, "runbook.start", f"{name}/{execution_id}", at, detail)
    return _apply(gov, execution_id, book, transition, at)


def _load(gov: Governance, execution_id: str) -> StoredExecution:
    stored = gov.executions.get(execution_id)
    assert stored is not None, execution_id
    return stored


def _book(stored: StoredExecution) -> Runbook:
    """The runbook as it was when the execution started."""
    return parse_runbook(stored.runbook, stored.spec)


def _apply(
    gov: Governance, execution_id: str, book: Runbook, transition: Transition, at: datetime
) -> StoredExecution:
    """Store a transition, perform its actions and feed outcomes known at once back; an
    execution that ended tells remediation."""
    pending = [transition]
    while pending:
        current = pending.pop(0)
        gov.executions.save(execution_id, current.execution)
        stored = _load(gov, execution_id)
        for action in current.actions:
            event = effects.perform(gov, stored, action, at)
            if event is not None:
                pending.append(handle(book, _load(gov, execution_id).execution, event, at))
                break  # the new transition carries the remaining actions of its own
    stored = _load(gov, execution_id)
    if not stored.active:
        remediation.executed(gov, execution_id, stored.execution.status is Status.SUCCESS, at)
    return stored


def _feed(gov: Governance, stored: StoredExecution, event: Event, at: datetime) -> StoredExecution:
    book = _book(stored)
    return _apply(gov, stored.id, book, handle(book, stored.execution, event, at), at)


def advance(gov: Governance, at: datetime) -> int:
    """Advance every active execution (finished commands, compliance reached, webhooks to
    queue again, timers), in :func:`.remediation.lock_order`; the number of executions
    looked at."""
    active = remediation.lock_order(gov, gov.executions.claim_active())
    for execution_id in active:
        stored = _load(gov, execution_id)
        event = effects.check(gov, stored, at)
        if event is not None:
            stored = _feed(gov, stored, event, at)
        if stored.active:
            _feed(gov, stored, TimerFired(), at)
    return len(active)


def approve(
    gov: Governance,
    execution_id: str,
    approver: str,
    approved: bool,
    comment: str,
    at: datetime,
) -> StoredExecution:
    """An operator's approval (or rejection) of the waiting ``approve`` step (LookupError:
    no such execution; PermissionError: the caller is not one of the step's approvers;
    InputError: it waits for no approval, or the caller already approved).  An approval that
    would not count is refused, never silently ignored."""
    stored = gov.executions.get(execution_id, lock=True)
    if stored is None:
        raise LookupError(execution_id)
    book, execution = _book(stored), stored.execution
    refusal = approval_refusal(book, execution, approver, approved)
    if refusal is not None:
        current = execution.current
        step = book.step(current) if current is not None else None
        if step is not None and step.action == "approve":
            allowed = list(step.inputs.get("Approvers", []) or [])  # type: ignore[call-overload]
            if not is_approver(allowed, approver):
                raise PermissionError(f"execution {execution_id}: {refusal}")
        raise InputError(f"execution {execution_id}: {refusal}")
    assert execution.current is not None
    return _feed(gov, stored, ApprovalGiven(execution.current, approver, approved, comment), at)


def delivered(
    gov: Governance, notification: Notification, delivery: Delivery, at: datetime
) -> None:
    """A queued webhook was sent (or failed): its step goes on.  Late outcomes (another
    attempt, a finished execution) change nothing."""
    stored = gov.executions.get(notification.execution_id, lock=True)
    if stored is None or not stored.active:
        return
    _feed(gov, stored, effects.delivered(notification, delivery), at)
