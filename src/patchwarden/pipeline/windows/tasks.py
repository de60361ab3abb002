"""A window task's document as the machine and the plan see it: its configuration, its
waves and MaxErrors when the execution starts, and the facts its tasks share in a tick."""

from __future__ import annotations

from collections.abc import Sequence

from patchwarden.core import rollout, waves
from patchwarden.core import window_machine as machine
from patchwarden.core.windows import Status, Timing
from patchwarden.documents.window import TaskSpec
from patchwarden.pipeline.windows.parameters import TARGETLESS
from patchwarden.pipeline.windows.records import ExecutionRecord, WindowTarget


def config(task: TaskSpec) -> machine.TaskConfig:
    """What the machine needs of the task's document."""
    run_command = task.TaskInvocationParameters.RunCommand
    concurrency = task.concurrency
    return machine.TaskConfig(
        task_type=task.TaskType,
        task_arn=task.TaskArn,
        concurrency=concurrency if isinstance(concurrency, str) else tuple(concurrency),
        cutoff_behavior=task.CutoffBehavior,
        pause_seconds=task.PauseBetweenWavesSeconds,
        timeout_seconds=run_command.TimeoutSeconds if run_command else None,
        pre_hook=task.PreHook is not None,
        post_hook=task.PostHook is not None,
    )


def plan(task: TaskSpec, targets: Sequence[WindowTarget]) -> list[list[str]]:
    """The node ids of each wave: the task's MaxConcurrency, capped per patch group when
    the task may reboot (RebootCoordination); one wave of no node for a targetless task."""
    if task.targetless:
        return [[TARGETLESS]]
    cap = task.RebootCoordination.MaxRebootingPerGroup if task.RebootCoordination else None
    planned = [waves.Target(t.id, t.patch_group) for t in targets]
    run_command = task.TaskInvocationParameters.RunCommand
    parameters = run_command.Parameters if run_command else {}
    reboots = machine.reboots(task.TaskType, parameters)
    return waves.plan(planned, task.concurrency, cap if reboots else None)


def error_limit(task: TaskSpec, targets: int) -> int:
    """The task's MaxErrors as an absolute number over its ``targets`` nodes."""
    return rollout.limit(task.errors, max(1, targets), concurrency=False)


def facts(execution: ExecutionRecord, timing: Timing) -> machine.Facts:
    """What every task of the execution shares in this tick: the window's cutoff and end,
    and whether the execution is being cancelled."""
    return machine.Facts(
        cutoff_at=timing.cutoff_at(execution.scheduled_for),
        end_at=timing.end_at(execution.scheduled_for),
        cancelling=execution.status == Status.CANCELLING,
    )
