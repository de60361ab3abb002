"""What every task type shares: starting (or not), ending, moving to the next wave."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from patchwarden.core.window_machine.model import (
    AUTOMATION,
    MAX_DETAILS,
    Facts,
    TaskConfig,
    TaskState,
    Transition,
)
from patchwarden.core.windows import Status


def end(state: TaskState, status: Status, details: str, now: datetime) -> Transition:
    """The task ends with ``status``; StatusDetails cut to 250 characters, as AWS."""
    return Transition(replace(state, status=status, details=details[:MAX_DETAILS], ended_at=now))


def wait(state: TaskState) -> Transition:
    """Nothing more to do in this tick."""
    return Transition(state)


def begin(config: TaskConfig, state: TaskState, facts: Facts, now: datetime) -> Transition:
    """A PENDING task either ends at once (cancelled, cutoff passed, no target, runbook
    gone) or starts in its first phase (the returned state is IN_PROGRESS)."""
    if facts.cancelling:
        return end(state, Status.CANCELLED, "cancelled before it started", now)
    if now >= facts.cutoff_at:
        return end(state, Status.TIMED_OUT, "cutoff reached before the task started", now)
    if not state.waves:
        return end(state, Status.FAILED, "no targets resolved at execution time", now)
    if config.task_type == AUTOMATION and not facts.runbook_exists:
        return end(
            state,
            Status.FAILED,
            f"runbook {config.task_arn!r} does not exist (deleted after the window was applied)",
            now,
        )
    return Transition(
        replace(state, status=Status.IN_PROGRESS, started_at=now, phase=config.phases[0])
    )


def next_wave(config: TaskConfig, state: TaskState, now: datetime) -> TaskState:
    """Move to the next wave; with PauseBetweenWavesSeconds, the next one (if any) waits."""
    wave = state.wave + 1
    if config.pause_seconds and wave < len(state.waves):
        pause = now + timedelta(seconds=config.pause_seconds)
        return replace(state, wave=wave, not_before=pause)
    return replace(state, wave=wave)


def pausing(state: TaskState, now: datetime) -> bool:
    """Whether the pause between waves still runs."""
    return state.not_before is not None and now < state.not_before
