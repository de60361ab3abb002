"""RUN_COMMAND tasks: each wave runs its phases (pre-hook, task, post-hook; absent hooks
skipped) as one rate-controlled command each; a later phase runs only on the nodes whose
previous phase succeeded.

MaxErrors counts over the whole task: once the errors of the finished commands exceed it,
no further phase or wave starts and the task ends ``FAILED``.  The cutoff starts no new
wave (``CONTINUE_TASK`` lets the running command finish); ``CANCEL_TASK`` cancels it and
ends the task ``TIMED_OUT``.  Cancelling the window execution cancels the running command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from patchwarden.core import waves
from patchwarden.core.window_machine.common import end, next_wave, pausing, wait
from patchwarden.core.window_machine.model import (
    CANCEL_TASK,
    Facts,
    PhaseCommand,
    Refresh,
    SendPhase,
    TaskConfig,
    TaskState,
    Transition,
)
from patchwarden.core.windows import Status

MIN_TIMEOUT = 30
"""The delivery timeout of a wave sent just before the window closes, at least."""


def step(config: TaskConfig, state: TaskState, facts: Facts, now: datetime) -> Transition:
    """Advance an IN_PROGRESS RUN_COMMAND task as far as it can go now."""
    cmd = facts.command
    if cmd is None:  # nothing sent for this (wave, phase) yet: a new wave
        return _new_wave(config, state, facts, now)
    if not cmd.refreshed:
        cancel = _stop_now(config, facts, now) and not cmd.terminal
        return Transition(state, (Refresh(cmd.command_id, cancel=cancel),))
    if not cmd.terminal:
        return wait(state)
    return _finished(config, state, facts, cmd, now)


def _stop_now(config: TaskConfig, facts: Facts, now: datetime) -> bool:
    """Whether the running command is cancelled: the execution is being cancelled, or the
    cutoff passed and CutoffBehavior is CANCEL_TASK."""
    cut = config.cutoff_behavior == CANCEL_TASK and now >= facts.cutoff_at
    return facts.cancelling or cut


def _finished(
    config: TaskConfig, state: TaskState, facts: Facts, cmd: PhaseCommand, now: datetime
) -> Transition:
    """The phase's command ended: count its errors, then the next phase or wave."""
    state = replace(state, errors=state.errors + cmd.error_count)
    if cmd.cancel_requested:
        if facts.cancelling:
            return end(state, Status.CANCELLED, "window execution cancelled", now)
        if _stop_now(config, facts, now):
            return end(state, Status.TIMED_OUT, "cutoff reached: cancelled (CANCEL_TASK)", now)
        return end(state, Status.CANCELLED, f"command {cmd.command_id} was cancelled", now)
    if waves.error_budget(state.error_limit, state.errors) is None:
        return end(
            state,
            Status.FAILED,
            f"MaxErrors exceeded: {state.errors} errors (limit {state.error_limit}); "
            f"stopped after wave {state.wave + 1} of {len(state.waves)}",
            now,
        )
    later = [p for p in config.phases if p > state.phase]
    survivors = sorted(cmd.succeeded)
    if later and survivors:
        return _send(config, replace(state, phase=later[0]), facts, survivors, now)
    state = replace(next_wave(config, state, now), phase=config.phases[0])
    return _new_wave(config, state, facts, now)


def _new_wave(config: TaskConfig, state: TaskState, facts: Facts, now: datetime) -> Transition:
    """Start the wave ``state.wave`` (its first phase), or end after the last one."""
    if state.wave >= len(state.waves):
        if state.errors:
            return end(state, Status.FAILED, f"{state.errors} errors within MaxErrors", now)
        return end(state, Status.SUCCESS, f"{len(state.waves)} waves", now)
    if facts.cancelling:
        return end(state, Status.CANCELLED, "window execution cancelled", now)
    if now >= facts.cutoff_at:
        return end(
            state,
            Status.TIMED_OUT,
            f"cutoff reached: waves {state.wave + 1}-{len(state.waves)} not started",
            now,
        )
    if pausing(state, now):
        return wait(state)
    return _send(config, state, facts, state.waves[state.wave], now)


def _send(
    config: TaskConfig, state: TaskState, facts: Facts, nodes: Sequence[str], now: datetime
) -> Transition:
    """Send the current (wave, phase) to ``nodes`` with what is left of MaxErrors."""
    budget = waves.error_budget(state.error_limit, state.errors)
    assert budget is not None
    timeout = config.timeout_seconds
    if timeout is None:  # a node that never shows up during the window: Delivery Timed Out
        timeout = max(MIN_TIMEOUT, int((facts.end_at - now).total_seconds()))
    send = SendPhase(
        wave=state.wave,
        phase=state.phase,
        node_ids=tuple(nodes),
        max_concurrency=waves.wave_concurrency(config.concurrency, len(nodes), state.total),
        max_errors=str(budget),
        timeout_seconds=timeout,
    )
    return Transition(state, (send,))
