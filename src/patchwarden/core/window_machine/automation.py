"""AUTOMATION tasks: one runbook execution per target node (or one without a node for a
targetless task), started wave by wave.

Rate control reuses the RUN_COMMAND semantics: a wave starts at most its concurrency of
runbook executions at once (:func:`rollout.allowance`), and MaxErrors counts over the whole
task: the (N+1)-th failed runbook execution stops new ones from starting (running ones
finish), and the task ends ``FAILED``.  The cutoff starts no new execution; ``CANCEL_TASK``
ends the task ``TIMED_OUT`` at once (running executions are not cancelled, as AWS),
``CONTINUE_TASK`` lets the running ones finish first.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from patchwarden.core import rollout, waves
from patchwarden.core.rollout import InvocationStatus
from patchwarden.core.window_machine.common import end, next_wave, pausing, wait
from patchwarden.core.window_machine.model import (
    CONTINUE_TASK,
    Facts,
    StartRuns,
    TaskConfig,
    TaskState,
    Transition,
)
from patchwarden.core.windows import Status

RUNNING = InvocationStatus.IN_PROGRESS
FAILED = InvocationStatus.FAILED


def step(config: TaskConfig, state: TaskState, facts: Facts, now: datetime) -> Transition:
    """Advance an IN_PROGRESS AUTOMATION task as far as it can go now."""
    runs = facts.runs
    state = replace(state, errors=sum(s is FAILED for s in runs.values()))
    if facts.start_failure is not None:
        return end(state, Status.FAILED, f"runbook {config.task_arn!r}: {facts.start_failure}", now)
    running = sum(s is RUNNING for s in runs.values())
    while state.wave < len(state.waves) and all(
        n in runs and runs[n] is not RUNNING for n in state.waves[state.wave]
    ):
        state = next_wave(config, state, now)
    total = state.total
    if waves.error_budget(state.error_limit, state.errors) is None:
        if running:
            return wait(state)  # in-flight executions finish; no new one starts
        return end(
            state,
            Status.FAILED,
            f"MaxErrors exceeded: {state.errors} failed runbook executions "
            f"(limit {state.error_limit}); {len(runs)} of {total} started",
            now,
        )
    if facts.cancelling:
        busy = f"; {running} runbook executions still running" if running else ""
        return end(state, Status.CANCELLED, "window execution cancelled" + busy, now)
    if state.wave >= len(state.waves):
        if state.errors:
            return end(
                state,
                Status.FAILED,
                f"{state.errors} of {total} runbook executions failed (within MaxErrors)",
                now,
            )
        return end(state, Status.SUCCESS, f"{total} runbook executions succeeded", now)
    if now >= facts.cutoff_at:
        if running and config.cutoff_behavior == CONTINUE_TASK:
            return wait(state)
        busy = f", {running} still running" if running else ""
        return end(
            state,
            Status.TIMED_OUT,
            f"cutoff reached: {total - len(runs)} runbook executions not started{busy}",
            now,
        )
    if pausing(state, now):
        return wait(state)
    return _start(config, state, facts)


def _start(config: TaskConfig, state: TaskState, facts: Facts) -> Transition:
    """Start what the wave's concurrency and MaxErrors allow now."""
    wave = state.waves[state.wave]
    concurrency = int(waves.wave_concurrency(config.concurrency, len(wave), state.total))
    states = [rollout.Invocation(facts.runs.get(n, InvocationStatus.PENDING)) for n in wave]
    earlier = state.errors - sum(s.is_error for s in states)  # errors of earlier waves
    allowed = rollout.allowance(states, concurrency, state.error_limit - earlier)
    todo = [n for n in wave if n not in facts.runs][:allowed]
    if not todo:
        return wait(state)
    return Transition(state, (StartRuns(tuple(todo), state.error_limit - state.errors),))
