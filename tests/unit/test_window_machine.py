"""The window-task machine for RUN_COMMAND tasks, without a database: waves in order, the
phases of a wave, MaxErrors across waves, the cutoff, cancellation and pauses."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from patchwarden.core import rollout
from patchwarden.core.window_machine import (
    CANCEL_TASK,
    Facts,
    Phase,
    PhaseCommand,
    Refresh,
    SendPhase,
    TaskConfig,
    TaskState,
    passes,
    step,
)
from patchwarden.core.windows import Status

T0 = datetime(2026, 3, 1, 12, 1, tzinfo=UTC)
CUTOFF = T0 + timedelta(hours=1)
END = T0 + timedelta(hours=2)
PRE, TASK, POST = Phase.PRE_HOOK, Phase.TASK, Phase.POST_HOOK


def pending(waves: list[list[str]], error_limit: int = 0) -> TaskState:
    return TaskState(Status.PENDING, tuple(tuple(w) for w in waves), error_limit)


@dataclass
class Fleet:
    """A fake server: links one command to each (wave, phase) sent, lets its nodes run
    (the ``failing`` ones fail) and performs the machine's actions as the server does."""

    failing: set[str] = field(default_factory=set)
    sent: list[SendPhase] = field(default_factory=list)
    commands: dict[tuple[int, int], PhaseCommand] = field(default_factory=dict)

    def run(self) -> None:
        """Every node of the last command reports."""
        last = self.sent[-1]
        ok = tuple(n for n in last.node_ids if n not in self.failing)
        cmd = self.commands[last.wave, last.phase]
        errors = len(last.node_ids) - len(ok)
        self.commands[last.wave, last.phase] = replace(
            cmd, terminal=True, succeeded=ok, error_count=errors
        )

    def tick(
        self, config: TaskConfig, state: TaskState, now: datetime = T0, *, cancelling: bool = False
    ) -> TaskState:
        """One scheduler tick: step, perform the actions, step again while asked to."""
        known = Facts(CUTOFF, END, cancelling=cancelling)
        known = replace(known, command=self.commands.get((state.wave, state.phase)))
        for _ in range(passes(state)):
            move = step(config, state, known, now)
            state = move.state
            for action in move.actions:
                if isinstance(action, Refresh):
                    assert known.command is not None
                    cmd = known.command
                    if action.cancel:  # nobody has started it: cancelled at once
                        cmd = replace(cmd, cancel_requested=True, terminal=True)
                        self.commands[state.wave, state.phase] = cmd
                    known = replace(known, command=replace(cmd, refreshed=True))
                elif isinstance(action, SendPhase):
                    self.sent.append(action)
                    command = PhaseCommand(f"cmd-{len(self.sent)}", terminal=False)
                    self.commands[action.wave, action.phase] = command
            if not move.again:
                break
        return state

    def phases(self) -> list[tuple[int, int, tuple[str, ...]]]:
        return [(s.wave, s.phase, s.node_ids) for s in self.sent]


def run_to_end(fleet: Fleet, config: TaskConfig, state: TaskState) -> TaskState:
    state = fleet.tick(config, state)
    while not state.status.terminal:
        fleet.run()
        state = fleet.tick(config, state)
    return state


def test_a_task_starts_with_the_first_wave() -> None:
    config = TaskConfig(concurrency=(1, "50%"))
    move = step(config, pending([["a"], ["b", "c"]], 1), Facts(CUTOFF, END), T0)
    assert move.state.status == Status.IN_PROGRESS and move.state.started_at == T0
    (send,) = move.actions
    assert send == SendPhase(
        wave=0,
        phase=TASK,
        node_ids=("a",),
        max_concurrency="1",
        max_errors="1",
        timeout_seconds=7200,  # a node that never shows up: Delivery Timed Out at the end
    )
    assert not move.again


def test_waves_run_in_order_and_the_task_succeeds() -> None:
    fleet = Fleet()
    state = run_to_end(fleet, TaskConfig(concurrency=[1]), pending([["a"], ["b"], ["c"]]))
    assert fleet.phases() == [(0, TASK, ("a",)), (1, TASK, ("b",)), (2, TASK, ("c",))]
    assert (state.status, state.details, state.wave) == (Status.SUCCESS, "3 waves", 3)


def test_each_wave_runs_pre_hook_task_and_post_hook() -> None:
    fleet = Fleet()
    config = TaskConfig(pre_hook=True, post_hook=True)
    state = run_to_end(fleet, config, pending([["a", "b"], ["c"]]))
    assert [(w, p) for w, p, _ in fleet.phases()] == [
        (w, p) for w in (0, 1) for p in (PRE, TASK, POST)
    ]
    assert state.status == Status.SUCCESS


@pytest.mark.parametrize(
    ("pre", "post", "phases"),
    [(False, False, [TASK]), (True, False, [PRE, TASK]), (False, True, [TASK, POST])],
)
def test_absent_hooks_are_skipped(pre: bool, post: bool, phases: list[Phase]) -> None:
    fleet = Fleet()
    run_to_end(fleet, TaskConfig(pre_hook=pre, post_hook=post), pending([["a"]]))
    assert [p for _, p, _ in fleet.phases()] == phases


def test_a_later_phase_runs_only_on_the_nodes_that_succeeded() -> None:
    fleet = Fleet(failing={"a"})
    config = TaskConfig(pre_hook=True)
    state = run_to_end(fleet, config, pending([["c", "a", "b"], ["d"]], error_limit=5))
    assert fleet.phases()[:2] == [(0, PRE, ("c", "a", "b")), (0, TASK, ("b", "c"))]
    assert (state.status, state.errors) == (Status.FAILED, 1)
    assert state.details == "1 errors within MaxErrors"


def test_no_survivor_moves_to_the_next_wave() -> None:
    fleet = Fleet(failing={"a"})
    config = TaskConfig(pre_hook=True, post_hook=True)
    run_to_end(fleet, config, pending([["a"], ["b"]], error_limit=1))
    assert [(w, p) for w, p, _ in fleet.phases()] == [(0, PRE), (1, PRE), (1, TASK), (1, POST)]


def test_max_errors_counts_across_waves() -> None:
    fleet = Fleet(failing={"a", "c"})
    state = run_to_end(fleet, TaskConfig(), pending([["a"], ["b"], ["c"], ["d"]], 1))
    assert [s.max_errors for s in fleet.sent] == ["1", "0", "0"]  # what is left of MaxErrors
    assert state.status == Status.FAILED
    assert state.details == "MaxErrors exceeded: 2 errors (limit 1); stopped after wave 3 of 4"


def test_max_errors_as_a_percentage_of_the_targets() -> None:
    limit = rollout.limit("40%", 5, concurrency=False)  # as the execution stores it: 2
    fleet = Fleet(failing={"b", "c", "d"})
    state = run_to_end(fleet, TaskConfig(), pending([["a"], ["b", "c"], ["d", "e"]], limit))
    assert [s.wave for s in fleet.sent] == [0, 1, 2]  # 2 errors: within 40 %
    assert state.details.startswith("MaxErrors exceeded: 3 errors (limit 2)")


def test_zero_max_errors_stops_after_the_first_failed_wave() -> None:
    fleet = Fleet(failing={"b"})
    state = run_to_end(fleet, TaskConfig(), pending([["a"], ["b"], ["c"]]))
    assert [s.wave for s in fleet.sent] == [0, 1]
    assert state.details.endswith("stopped after wave 2 of 3")


def test_a_running_command_is_refreshed_and_waited_for() -> None:
    fleet = Fleet()
    state = fleet.tick(TaskConfig(), pending([["a"]]))
    again = fleet.tick(TaskConfig(), state, T0 + timedelta(minutes=5))
    assert again == state and len(fleet.sent) == 1
    running = PhaseCommand("cmd-1", terminal=False)
    move = step(TaskConfig(), state, Facts(CUTOFF, END, command=running), T0)
    assert move.actions == (Refresh("cmd-1", cancel=False),) and move.again


def test_the_cutoff_starts_no_new_wave_and_lets_the_running_one_finish() -> None:
    fleet = Fleet()
    state = fleet.tick(TaskConfig(), pending([["a"], ["b"], ["c"]]))
    state = fleet.tick(TaskConfig(), state, CUTOFF)  # CONTINUE_TASK: not cancelled
    assert state.status == Status.IN_PROGRESS
    fleet.run()
    state = fleet.tick(TaskConfig(), state, CUTOFF)
    assert (state.status, state.details) == (
        Status.TIMED_OUT,
        "cutoff reached: waves 2-3 not started",
    )
    assert len(fleet.sent) == 1


def test_the_next_phase_of_a_running_wave_still_starts_after_the_cutoff() -> None:
    fleet = Fleet()
    config = TaskConfig(post_hook=True)
    state = fleet.tick(config, pending([["a"], ["b"]]))
    fleet.run()
    state = fleet.tick(config, state, CUTOFF)
    assert fleet.phases()[-1] == (0, POST, ("a",))  # the wave finishes; no new wave starts
    fleet.run()
    state = fleet.tick(config, state, CUTOFF)
    assert state.details == "cutoff reached: waves 2-2 not started"


def test_cancel_task_cancels_the_running_command_at_the_cutoff() -> None:
    fleet = Fleet()
    config = TaskConfig(cutoff_behavior=CANCEL_TASK)
    state = fleet.tick(config, pending([["a"], ["b"]]))
    assert fleet.tick(config, state, CUTOFF - timedelta(seconds=1)) == state
    state = fleet.tick(config, state, CUTOFF)
    assert fleet.commands[0, TASK].cancel_requested
    assert (state.status, state.details) == (
        Status.TIMED_OUT,
        "cutoff reached: cancelled (CANCEL_TASK)",
    )
    assert state.ended_at == CUTOFF


def test_cancel_task_does_not_cancel_a_command_that_already_ended() -> None:
    done = PhaseCommand("cmd-1", terminal=True, succeeded=("a",))
    config = TaskConfig(cutoff_behavior=CANCEL_TASK)
    state = replace(pending([["a"], ["b"]]), status=Status.IN_PROGRESS, phase=TASK)
    move = step(config, state, Facts(CUTOFF, END, command=done), CUTOFF)
    assert move.actions == (Refresh("cmd-1", cancel=False),)


def test_cancelling_the_execution_cancels_the_running_command() -> None:
    fleet = Fleet()
    state = fleet.tick(TaskConfig(), pending([["a"], ["b"]]))
    state = fleet.tick(TaskConfig(), state, cancelling=True)
    assert (state.status, state.details) == (Status.CANCELLED, "window execution cancelled")


def test_cancelling_between_waves_starts_no_new_wave() -> None:
    fleet = Fleet()
    state = fleet.tick(TaskConfig(), pending([["a"], ["b"]]))
    fleet.run()
    state = fleet.tick(TaskConfig(), state, cancelling=True)
    assert (state.status, state.wave) == (Status.CANCELLED, 1)
    assert len(fleet.sent) == 1


def test_a_command_cancelled_by_someone_else_cancels_the_task() -> None:
    cancelled = PhaseCommand("cmd-9", terminal=True, cancel_requested=True, refreshed=True)
    state = replace(pending([["a"], ["b"]]), status=Status.IN_PROGRESS, phase=TASK)
    move = step(TaskConfig(), state, Facts(CUTOFF, END, command=cancelled), T0)
    assert (move.state.status, move.state.details) == (
        Status.CANCELLED,
        "command cmd-9 was cancelled",
    )


@pytest.mark.parametrize(
    ("facts", "status", "details"),
    [
        (Facts(CUTOFF, END, cancelling=True), Status.CANCELLED, "cancelled before it started"),
        (Facts(T0, END), Status.TIMED_OUT, "cutoff reached before the task started"),
    ],
)
def test_a_pending_task_may_end_before_it_starts(
    facts: Facts, status: Status, details: str
) -> None:
    move = step(TaskConfig(), pending([["a"]]), facts, T0)
    assert (move.state.status, move.state.details, move.actions) == (status, details, ())
    assert move.state.started_at is None and move.state.ended_at == T0


def test_a_task_without_targets_fails() -> None:
    move = step(TaskConfig(), pending([]), Facts(CUTOFF, END), T0)
    assert (move.state.status, move.state.details) == (
        Status.FAILED,
        "no targets resolved at execution time",
    )


def test_the_pause_between_waves() -> None:
    fleet = Fleet()
    config = TaskConfig(pause_seconds=600)
    state = fleet.tick(config, pending([["a"], ["b"]]))
    fleet.run()
    state = fleet.tick(config, state)
    assert state.not_before == T0 + timedelta(seconds=600) and len(fleet.sent) == 1
    assert fleet.tick(config, state, T0 + timedelta(seconds=599)) == state
    state = fleet.tick(config, state, T0 + timedelta(seconds=600))
    assert fleet.phases()[-1] == (1, TASK, ("b",))
    fleet.run()
    state = fleet.tick(config, state, T0 + timedelta(seconds=700))
    assert state.status == Status.SUCCESS  # no pause after the last wave


@pytest.mark.parametrize(
    ("configured", "now", "timeout"),
    [
        (600, T0, 600),
        (None, T0, 7200),
        (None, END - timedelta(seconds=10), 30),  # at least 30 seconds
    ],
)
def test_the_delivery_timeout(configured: int | None, now: datetime, timeout: int) -> None:
    late = Facts(END, END)  # no cutoff, so a wave may start up to the end
    move = step(TaskConfig(timeout_seconds=configured), pending([["a"]]), late, now)
    (send,) = move.actions
    assert isinstance(send, SendPhase) and send.timeout_seconds == timeout


def test_an_ended_task_does_not_move() -> None:
    ended = replace(pending([["a"]]), status=Status.SUCCESS)
    assert step(TaskConfig(), ended, Facts(CUTOFF, END), T0).state == ended


def test_status_details_are_cut_to_250_characters() -> None:
    long = PhaseCommand("c" * 300, terminal=True, cancel_requested=True, refreshed=True)
    state = replace(pending([["a"]]), status=Status.IN_PROGRESS, phase=TASK)
    move = step(TaskConfig(), state, Facts(CUTOFF, END, command=long), T0)
    assert len(move.state.details) == 250
