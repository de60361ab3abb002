"""The runbook interpreter: a pure state machine over (runbook, execution, event, now).

Each step attempt is *entered* (inputs substituted, an action emitted, a deadline set); the
runner reports the outcome as an event.  A failure or timeout counts only after the last of
``maxAttempts``; then ``onFailure`` decides (Abort ends the execution, Continue moves on,
``step:NAME`` jumps).  ``branch`` and elapsed ``sleep`` steps complete at once, so one call
may walk several steps.  Steps skipped by a branch stay Pending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from patchwarden.core.runbook.model import Runbook, Step
from patchwarden.core.runbook.params import resolve
from patchwarden.core.runbook.state import (
    Action,
    ApprovalGiven,
    Cancel,
    Event,
    Execution,
    Status,
    StepFailed,
    StepRun,
    StepSucceeded,
    TimerFired,
    Transition,
    WakeAt,
)
from patchwarden.core.runbook.steps import Outcome, perform
from patchwarden.core.runbook.text import select

MAX_WALK = 1000
"""Steps entered in one call at most (a branch loop ends the execution Failed)."""


def start(
    book: Runbook,
    parameters: Mapping[str, object] | None,
    now: datetime,
    *,
    allow_shell: bool = False,
) -> Transition:
    """A new execution of ``book`` entering its first step (bad parameters: InputError)."""
    values = resolve(book.parameters, parameters)
    execution = Execution(
        runbook=book.name,
        status=Status.IN_PROGRESS,
        parameters=values,
        steps={step.name: StepRun() for step in book.steps},
        variables=dict(values),
        started_at=now,
        allow_shell=allow_shell,
    )
    return _walk(book, execution, book.steps[0].name, now, [])


def handle(book: Runbook, execution: Execution, event: Event, now: datetime) -> Transition:
    """The next state after ``event``; events for finished executions or other steps than the
    current one (late results) change nothing."""
    if execution.status.done or execution.current is None:
        return Transition(execution)
    name = execution.current
    run = execution.steps[name]
    if isinstance(event, Cancel):
        steps = {**execution.steps, name: replace(run, status=Status.CANCELLED, ended_at=now)}
        return Transition(
            _finish(replace(execution, steps=steps), Status.CANCELLED, event.reason, now)
        )
    if isinstance(event, TimerFired):
        if run.wake_at is not None and now >= run.wake_at:
            return _after(book, execution, Outcome(ok=True), now, [])
        if run.deadline is not None and now >= run.deadline:
            message = f"step timed out after attempt {run.attempts}"
            return _after(
                book, execution, Outcome(ok=False, message=message, timed_out=True), now, []
            )
        return Transition(execution)
    if getattr(event, "step", name) != name:
        return Transition(execution)
    if isinstance(event, StepSucceeded | StepFailed):
        if event.attempt is not None and event.attempt != run.attempts:
            return Transition(execution)
        if isinstance(event, StepSucceeded):
            outcome = Outcome(ok=True, message=event.message, outputs=event.outputs)
            return _after(book, execution, outcome, now, [])
        return _after(book, execution, Outcome(ok=False, message=event.message), now, [])
    return _approval(book, execution, event, now)


def is_approver(approvers: Sequence[object], actor: str) -> bool:
    """Whether ``actor`` (as the audit log names it, ``token:alice``) is one of a step's
    ``Approvers``, written as a token name (``alice``, the documented form) or as
    ``token:alice``; an empty list lets every operator approve."""
    if not approvers:
        return True
    name = actor.removeprefix("token:") if actor.startswith("token:") else None
    for entry in (str(a).strip() for a in approvers):
        if entry == actor or (name is not None and entry == name):
            return True
    return False


def approval_refusal(
    book: Runbook, execution: Execution, approver: str, approved: bool = True
) -> str | None:
    """Why an approval (or rejection) by ``approver`` would not count, or None when it does:
    the execution waits for no approval, the caller is not one of the step's approvers, or
    the caller already approved."""
    name = execution.current
    if execution.status.done or name is None:
        return "not waiting for an approval"
    step, run = book.step(name), execution.steps[name]
    if step.action != "approve" or run.status is not Status.WAITING:
        return "not waiting for an approval"
    allowed = list(step.inputs.get("Approvers", []) or [])  # type: ignore[call-overload]
    if not is_approver(allowed, approver):
        shown = ", ".join(str(a) for a in allowed)
        return f"step {name} can only be approved by {shown} (not {approver})"
    if approved and approver in run.approvals:
        return f"{approver} already approved step {name}"
    return None


def _approval(
    book: Runbook, execution: Execution, event: ApprovalGiven, now: datetime
) -> Transition:
    name = execution.current
    assert name is not None
    step, run = book.step(name), execution.steps[name]
    if step.action != "approve":
        return Transition(execution)
    if approval_refusal(book, execution, event.approver, event.approved) is not None:
        return Transition(execution)
    if not event.approved:
        outcome = Outcome(
            ok=False, message=f"rejected by {event.approver}: {event.comment}".strip(), final=True
        )
        return _after(book, execution, outcome, now, [])
    approvals = tuple(sorted(set(run.approvals) | {event.approver}))
    execution = replace(
        execution, steps={**execution.steps, name: replace(run, approvals=approvals)}
    )
    required = int(str(step.inputs.get("MinRequiredApprovals", 1)))
    if len(approvals) >= required:
        return _after(
            book, execution, Outcome(ok=True, outputs={"Approvers": list(approvals)}), now, []
        )
    return Transition(execution)


def _finish(execution: Execution, status: Status, message: str, now: datetime) -> Execution:
    return replace(execution, status=status, current=None, ended_at=now, message=message)


def _walk(
    book: Runbook, execution: Execution, target: str, now: datetime, actions: list[Action]
) -> Transition:
    """Enter ``target`` and keep going while steps complete at once."""
    for _ in range(MAX_WALK):
        step = book.step(target)
        run = execution.steps[step.name]
        run = StepRun(status=Status.IN_PROGRESS, attempts=run.attempts + 1, started_at=now)
        if step.timeout_seconds:
            run = replace(run, deadline=now + timedelta(seconds=step.timeout_seconds))
        execution = replace(
            execution,
            current=step.name,
            status=Status.IN_PROGRESS,
            steps={**execution.steps, step.name: run},
        )
        outcome, run, emitted = perform(step, execution, run, now)
        execution = replace(execution, steps={**execution.steps, step.name: run})
        actions.extend(emitted)
        if run.status is Status.WAITING:
            execution = replace(execution, status=Status.WAITING)
        if outcome is None:
            return Transition(execution, tuple(actions))
        next_target, execution = _route(book, execution, step, outcome, now)
        if next_target is None:
            return Transition(execution, tuple(actions))
        target = next_target
    return Transition(
        _finish(execution, Status.FAILED, "too many steps in one walk (a branch loop?)", now),
        tuple(actions),
    )


def _after(
    book: Runbook, execution: Execution, outcome: Outcome, now: datetime, actions: list[Action]
) -> Transition:
    assert execution.current is not None
    step = book.step(execution.current)
    target, execution = _route(book, execution, step, outcome, now)
    if target is None:
        return Transition(execution, tuple(actions))
    return _walk(book, execution, target, now, actions)


def _route(
    book: Runbook, execution: Execution, step: Step, outcome: Outcome, now: datetime
) -> tuple[str | None, Execution]:
    """Record the outcome of the current attempt; the step to enter next (None: stop here)."""
    run = execution.steps[step.name]
    if not outcome.ok and not outcome.final and run.attempts < step.max_attempts:
        return step.name, execution  # another attempt
    if outcome.ok:
        variables = dict(execution.variables)
        for key, value in outcome.outputs.items():
            variables[f"{step.name}.{key}"] = value
        for output in step.outputs:
            variables[f"{step.name}.{output.name}"] = select(outcome.outputs, output.selector)
        run = replace(
            run,
            status=Status.SUCCESS,
            ended_at=now,
            deadline=None,
            wake_at=None,
            outputs=dict(outcome.outputs),
            message=outcome.message,
        )
        execution = replace(
            execution, variables=variables, steps={**execution.steps, step.name: run}
        )
        if outcome.next_step:
            return outcome.next_step, execution
        return _next(book, execution, step, now)
    status = Status.TIMED_OUT if outcome.timed_out else Status.FAILED
    run = replace(run, status=status, ended_at=now, deadline=None, message=outcome.message)
    execution = replace(execution, steps={**execution.steps, step.name: run})
    if step.on_failure == "Abort":
        return None, _finish(execution, status, f"{step.name}: {outcome.message}", now)
    if step.on_failure.startswith("step:"):
        return step.on_failure.removeprefix("step:"), execution
    return _next(book, execution, step, now)


def _next(
    book: Runbook, execution: Execution, step: Step, now: datetime
) -> tuple[str | None, Execution]:
    target = None if step.is_end else (step.next_step or book.after(step.name))
    if target is None:
        return None, _finish(execution, Status.SUCCESS, "", now)
    return target, execution


__all__ = ["WakeAt", "handle", "start"]
