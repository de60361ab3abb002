"""The window-task machine for AUTOMATION tasks (runbook executions per node), and the
execution over its tasks (priority levels, final status), without a database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from patchwarden.core.rollout import InvocationStatus
from patchwarden.core.window_machine import (
    AUTOMATION,
    CANCEL_TASK,
    Facts,
    StartRuns,
    TaskConfig,
    TaskState,
    final,
    reboots,
    step,
    to_step,
)
from patchwarden.core.windows import Status

T0 = datetime(2026, 3, 1, 12, 1, tzinfo=UTC)
CUTOFF = T0 + timedelta(hours=1)
END = T0 + timedelta(hours=2)
RUNNING, OK, FAILED = (
    InvocationStatus.IN_PROGRESS,
    InvocationStatus.SUCCESS,
    InvocationStatus.FAILED,
)


def config(**given: Any) -> TaskConfig:
    return replace(TaskConfig(task_type=AUTOMATION, task_arn="install"), **given)


def task(waves: list[list[str]], error_limit: int = 0, **given: Any) -> TaskState:
    state = TaskState(Status.IN_PROGRESS, tuple(tuple(w) for w in waves), error_limit, phase=1)
    return replace(state, **given)


def facts(runs: Mapping[str, InvocationStatus] | None = None, **given: Any) -> Facts:
    return replace(Facts(CUTOFF, END, runs=dict(runs or {})), **given)


def test_a_pending_task_starts_its_first_runbook_executions() -> None:
    pending = replace(task([["a", "b", "c"]], 1), status=Status.PENDING, phase=0)
    move = step(config(concurrency="2"), pending, facts(), T0)
    assert (move.state.status, move.state.phase, move.state.started_at) == (
        Status.IN_PROGRESS,
        1,
        T0,
    )
    assert move.actions == (StartRuns(("a", "b"), max_errors=1),) and move.again


def test_a_deleted_runbook_fails_the_task_before_it_starts() -> None:
    pending = replace(task([["a"]]), status=Status.PENDING)
    move = step(config(), pending, facts(runbook_exists=False), T0)
    assert (move.state.status, move.actions) == (Status.FAILED, ())
    assert move.state.details == (
        "runbook 'install' does not exist (deleted after the window was applied)"
    )


def test_max_concurrency_limits_running_executions() -> None:
    state = task([["a", "b", "c"]])
    assert (
        step(config(concurrency="2"), state, facts({"a": RUNNING, "b": RUNNING}), T0).actions == ()
    )
    move = step(config(concurrency="2"), state, facts({"a": OK, "b": RUNNING}), T0)
    assert move.actions == (StartRuns(("c",), max_errors=0),)


def test_waves_advance_once_every_execution_of_the_wave_ended() -> None:
    state = task([["a"], ["b"], ["c"]])
    move = step(config(concurrency=(1,)), state, facts({"a": OK}), T0)
    assert move.state.wave == 1 and move.actions == (StartRuns(("b",), max_errors=0),)
    move = step(config(concurrency=(1,)), state, facts({"a": OK, "b": OK, "c": OK}), T0)
    assert (move.state.status, move.state.wave) == (Status.SUCCESS, 3)
    assert move.state.details == "3 runbook executions succeeded"


def test_the_pause_between_waves() -> None:
    move = step(config(pause_seconds=60), task([["a"], ["b"]]), facts({"a": OK}), T0)
    assert move.state.not_before == T0 + timedelta(seconds=60) and move.actions == ()
    later = T0 + timedelta(seconds=60)
    move = step(config(pause_seconds=60), move.state, facts({"a": OK}), later)
    assert move.actions == (StartRuns(("b",), max_errors=0),)


def test_the_n_plus_first_failure_stops_new_starts_and_running_ones_finish() -> None:
    state = task([["a", "b", "c"]], 1)
    running = facts({"a": FAILED, "b": FAILED, "c": RUNNING})
    move = step(config(), state, running, T0)
    assert (move.state.status, move.state.errors, move.actions) == (Status.IN_PROGRESS, 2, ())
    move = step(config(), state, facts({"a": FAILED, "b": FAILED}), T0)
    assert move.state.status == Status.FAILED
    assert move.state.details == (
        "MaxErrors exceeded: 2 failed runbook executions (limit 1); 2 of 3 started"
    )


def test_errors_of_earlier_waves_count_against_max_errors() -> None:
    state = task([["a"], ["b", "c", "d"]], 1)
    move = step(config(), state, facts({"a": FAILED}), T0)
    assert move.actions == (StartRuns(("b", "c", "d"), max_errors=0),)


def test_errors_within_max_errors_fail_the_task_at_the_end() -> None:
    move = step(config(), task([["a", "b"]], 2), facts({"a": FAILED, "b": OK}), T0)
    assert (move.state.status, move.state.details) == (
        Status.FAILED,
        "1 of 2 runbook executions failed (within MaxErrors)",
    )


def test_continue_task_lets_running_executions_finish_past_the_cutoff() -> None:
    state = task([["a", "b"]])
    assert step(config(), state, facts({"a": RUNNING}), CUTOFF).state == state
    move = step(config(), state, facts({"a": OK}), CUTOFF)
    assert (move.state.status, move.state.details) == (
        Status.TIMED_OUT,
        "cutoff reached: 1 runbook executions not started",
    )


def test_cancel_task_times_out_at_once_and_leaves_running_executions_alone() -> None:
    move = step(
        config(cutoff_behavior=CANCEL_TASK), task([["a", "b", "c"]]), facts({"a": RUNNING}), CUTOFF
    )
    assert (move.state.status, move.actions) == (Status.TIMED_OUT, ())
    assert move.state.details == "cutoff reached: 2 runbook executions not started, 1 still running"


@pytest.mark.parametrize(
    ("runs", "details"),
    [
        ({"a": RUNNING}, "window execution cancelled; 1 runbook executions still running"),
        ({"a": OK}, "window execution cancelled"),
    ],
)
def test_cancelling_starts_no_more_executions(
    runs: dict[str, InvocationStatus], details: str
) -> None:
    move = step(config(), task([["a", "b"]]), facts(runs, cancelling=True), T0)
    assert (move.state.status, move.state.details, move.actions) == (Status.CANCELLED, details, ())


def test_a_refused_start_fails_the_task() -> None:
    move = step(config(), task([["a", "b"]]), facts({"a": FAILED}, start_failure="bad NodeId"), T0)
    assert (move.state.status, move.state.errors) == (Status.FAILED, 1)
    assert move.state.details == "runbook 'install': bad NodeId"


def test_a_targetless_task_runs_once() -> None:
    state = task([[""]], 1)
    move = step(config(concurrency="1"), state, facts(), T0)
    assert move.actions == (StartRuns(("",), max_errors=1),)
    move = step(config(concurrency="1"), state, facts({"": OK}), T0)
    assert move.state.details == "1 runbook executions succeeded"


def test_priority_levels_run_one_after_the_other() -> None:
    tasks = [(0, Status.SUCCESS), (1, Status.IN_PROGRESS), (1, Status.PENDING), (2, Status.PENDING)]
    assert to_step(tasks, set()) == (1, 2)
    assert to_step(tasks, {1, 2}) == ()  # stepped in this tick, still running: wait
    done = [(0, Status.SUCCESS), (1, Status.FAILED), (1, Status.SUCCESS), (2, Status.PENDING)]
    assert to_step(done, {1, 2}) == (3,)  # the next level starts in the same tick
    assert to_step([(0, Status.SUCCESS)], {0}) is None


@pytest.mark.parametrize(
    ("statuses", "cancelled", "status"),
    [
        ([Status.SUCCESS, Status.SUCCESS], False, Status.SUCCESS),
        ([Status.CANCELLED, Status.FAILED], False, Status.FAILED),
        ([Status.FAILED, Status.TIMED_OUT], False, Status.TIMED_OUT),
        ([Status.SUCCESS, Status.CANCELLED], False, Status.CANCELLED),
        ([Status.SUCCESS, Status.TIMED_OUT], True, Status.CANCELLED),
    ],
)
def test_the_execution_ends_with_its_worst_task(
    statuses: list[Status], cancelled: bool, status: Status
) -> None:
    done = sum(s == Status.SUCCESS for s in statuses)
    assert final(statuses, cancelled) == (status, f"{done} of {len(statuses)} tasks succeeded")


@pytest.mark.parametrize(
    ("task_type", "parameters", "expected"),
    [
        ("RUN_COMMAND", {"Operation": "Install"}, True),
        ("RUN_COMMAND", {"Operation": ["Install"], "RebootOption": "RebootIfNeeded"}, True),
        ("RUN_COMMAND", {"Operation": "Install", "RebootOption": ["NoReboot"]}, False),
        ("RUN_COMMAND", {"Operation": "Scan"}, False),
        ("AUTOMATION", {"Operation": "Install"}, False),
    ],
)
def test_reboot_coordination_applies_to_installs_that_may_reboot(
    task_type: str, parameters: dict[str, object], expected: bool
) -> None:
    assert reboots(task_type, parameters) is expected
