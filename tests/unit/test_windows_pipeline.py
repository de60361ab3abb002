"""The maintenance-window use cases on in-memory fakes of their ports (no database):
applying a window with its checks, what comes due and is claimed once, RUN_COMMAND waves
with the execution's baseline snapshot, AUTOMATION tasks, cancel and delete, and a
scheduler round that survives a broken execution."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
from window_fakes import T0, FakeUnitOfWork, Node, World

from patchwarden.core.windows import MISSED, Status
from patchwarden.documents.window import WindowDocument
from patchwarden.errors import InputError
from patchwarden.pipeline.fleet.errors import Conflict, NotFound
from patchwarden.pipeline.windows import admin
from patchwarden.pipeline.windows.documents import (
    WindowChecks,
    apply_window,
    parse_window,
    store_window,
)
from patchwarden.pipeline.windows.records import ExecutionRecord, WindowRecord
from patchwarden.pipeline.windows.schedule import schedule_window
from patchwarden.pipeline.windows.tick import tick


class Audit:
    def __init__(self, world: World) -> None:
        self.world = world

    def record(
        self,
        actor: str,
        action: str,
        target: str,
        at: datetime,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        self.world.audit.append((actor, action, target))


class Parameters:
    """Accepts parameters with an Operation, as RunPatchBaseline needs one."""

    def check(self, parameters: Mapping[str, Any], where: str) -> None:
        if "Operation" not in parameters:
            raise InputError(f"{where}.Operation: field required")


def document(name: str = "patch-web", **spec: Any) -> WindowDocument:
    task: dict[str, Any] = {
        "Name": "patch",
        "TaskArn": "AWS-RunPatchBaseline",
        "Priority": 1,
        "MaxConcurrency": "50",
        "MaxErrors": "0",
        "TaskInvocationParameters": {
            "RunCommand": {"Parameters": {"Operation": "Install", "RebootOption": "NoReboot"}}
        },
    }
    task.update(spec.pop("task", {}))
    body: dict[str, Any] = {
        "Schedule": "at(2026-03-01T12:01:00)",
        "Duration": 2,
        "Cutoff": 1,
        "Targets": [{"Key": "tag:Role", "Values": ["web"]}],
        "Tasks": [task],
    }
    body.update(spec)
    raw = {
        "apiVersion": "patchwarden/v1",
        "kind": "MaintenanceWindow",
        "metadata": {"name": name},
        "spec": body,
    }
    return parse_window(raw)


def automation(**task: Any) -> WindowDocument:
    return document(
        task={
            "Name": "restart",
            "TaskType": "AUTOMATION",
            "TaskArn": "restart",
            "MaxConcurrency": None,
            "MaxErrors": None,
            "TaskInvocationParameters": {
                "Automation": {"Parameters": {"Execution": ["{{WINDOW_EXECUTION_ID}}"]}}
            },
            **task,
        }
    )


def checks(world: World) -> WindowChecks:
    ports = world.ports()
    return WindowChecks(Parameters(), ports.runbooks, ports.targets)


def store(world: World, doc: WindowDocument, at: datetime = T0) -> tuple[WindowRecord, bool]:
    return store_window(world.ports().windows, checks(world), doc, at)


def web(world: World, count: int, **tags: str) -> list[str]:
    for index in range(count):
        world.nodes.append(Node(f"mi-{index}", {"Role": "web", **tags}, last_seen_at=T0))
    return [n.id for n in world.nodes]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def round_at(world: World, minutes: float, replica: str = "r1") -> dict[str, int]:
    return dict(tick(FakeUnitOfWork(world), at(minutes), replica))


def only(world: World) -> ExecutionRecord:
    (execution,) = world.executions.values()
    return execution


def last_command(world: World) -> str:
    return list(world.commands)[-1]


# applying a window


def test_a_new_window_starts_its_marker_when_it_is_created() -> None:
    world = World()
    window, created = store(world, document())
    assert created
    assert (window.created_at, window.handled_until, window.modified_at) == (T0, T0, T0)
    assert window.next_execution_at == at(1)
    assert window.document["metadata"] == {"name": "patch-web"}


def test_an_update_keeps_the_window_and_never_moves_its_marker_back() -> None:
    world = World()
    first, _ = store(world, document())
    second, created = store(world, document(Enabled=False), at(0.5))
    assert not created and second.id == first.id
    assert second.created_at == T0 and second.modified_at == at(0.5)
    assert second.handled_until == at(0.5)
    assert not second.enabled and second.next_execution_at is None


def test_applying_audits_create_then_update() -> None:
    world = World()
    for _ in range(2):
        apply_window(world.ports().windows, checks(world), Audit(world), document(), "ops", T0)
    assert world.audit == [
        ("ops", "window.create", "patch-web"),
        ("ops", "window.update", "patch-web"),
    ]


def test_the_parameters_of_every_run_command_phase_are_checked() -> None:
    hook = {"DocumentName": "AWS-RunPatchBaseline", "Parameters": {"RebootOption": "NoReboot"}}
    with pytest.raises(InputError, match=r"spec.Tasks\[0\].PreHook.Parameters.Operation"):
        store(World(), document(task={"PreHook": hook}))


def test_an_automation_task_needs_its_runbook() -> None:
    world = World()
    with pytest.raises(InputError, match="runbook 'restart' does not exist"):
        store(world, automation(Targets=[]))
    world.runbooks["restart"] = "Success"
    assert store(world, automation(Targets=[]))[1]


def test_a_task_may_only_name_nodes_of_the_windows_targets() -> None:
    world = World()
    web(world, 1)
    world.nodes.append(Node("mi-db", {"Role": "db"}))
    named = {"Targets": [{"Key": "InstanceIds", "Values": ["mi-db"]}]}
    with pytest.raises(InputError, match="node mi-db does not match"):
        store(world, document(task=named))
    assert store(world, document(task=named, AllowUnassociatedTargets=True))[1]


# what comes due


def test_due_times_are_recorded_once_missed_pending_or_skipped() -> None:
    world = World()
    window, _ = store(world, document(Schedule="rate(30 minutes)"))
    counts = schedule_window(world.ports(), window.id, at(200), "r1")
    assert counts == {"missed": 4, "pending": 1, "skipped_overlapping": 1}
    by_time = {e.scheduled_for: e for e in world.executions.values()}
    assert by_time[at(30)].status == Status.FAILED and by_time[at(30)].status_details == MISSED
    assert by_time[at(30)].ended_at == at(200)
    assert by_time[at(150)].status == Status.PENDING and by_time[at(150)].started_at is None
    assert by_time[at(180)].status == Status.SKIPPED_OVERLAPPING
    assert {e.claimed_by for e in by_time.values()} == {"r1"}
    stored = world.windows[window.id]
    assert (stored.handled_until, stored.next_execution_at) == (at(180), at(210))
    assert schedule_window(world.ports(), window.id, at(200), "r2") == {}


def test_a_time_another_replica_claimed_is_not_counted_again() -> None:
    world = World()
    window, _ = store(world, document())
    assert schedule_window(world.ports(), window.id, at(1), "r1") == {"pending": 1}
    world.windows[window.id] = window  # this replica read the marker before r1 moved it
    assert schedule_window(world.ports(), window.id, at(1), "r2") == {}
    assert len(world.executions) == 1


def test_a_disabled_window_has_nothing_due() -> None:
    world = World()
    window, _ = store(world, document(Enabled=False))
    assert schedule_window(world.ports(), window.id, at(5), "r1") == {}
    assert not world.executions


# RUN_COMMAND tasks


def test_waves_run_in_turn_until_the_execution_succeeds() -> None:
    world = World()
    nodes = web(world, 4)
    store(world, document(task={"MaxConcurrency": [1, "50%"]}))
    assert round_at(world, 1) == {"pending": 1, "advanced": 1}
    execution = only(world)
    assert execution.status == Status.IN_PROGRESS and execution.targets == tuple(nodes)
    assert execution.status_details == "4 target nodes"
    sent = []
    for minute in (2, 3, 4):
        command = world.commands[last_command(world)]
        sent.append(command.request.node_ids)
        world.finish(command.id)
        round_at(world, minute)
    assert sent == [("mi-0",), ("mi-1", "mi-2"), ("mi-3",)]
    execution = only(world)
    assert execution.status == Status.SUCCESS
    assert execution.status_details == "1 of 1 tasks succeeded"
    assert execution.ended_at == at(4)
    assert world.task_of(execution.id, "patch").state.status == Status.SUCCESS


def test_a_wave_command_carries_the_task_and_the_executions_snapshot() -> None:
    world = World()
    web(world, 2, **{"Patch Group": "web"})
    world.group_baselines["web", "AMAZON_LINUX_2023"] = {"metadata": {"name": "web-baseline"}}
    store(world, document(task={"MaxConcurrency": [1]}))
    round_at(world, 1)
    execution = only(world)
    first = world.commands[last_command(world)]
    request = first.request
    assert request.document_name == "AWS-RunPatchBaseline" and request.actor == "scheduler"
    assert request.parameters == {"Operation": "Install", "RebootOption": "NoReboot"}
    assert (request.max_concurrency, request.max_errors) == ("1", "0")
    assert request.comment == f"{execution.id[:8]} patch wave 1"
    assert first.parameters["SnapshotId"] == execution.id
    assert first.pinned == {"mi-0": ({"metadata": {"name": "web-baseline"}}, "PatchGroup:web")}
    world.finish(first.id)
    round_at(world, 2)
    second = world.commands[last_command(world)]
    assert second.pinned["mi-1"] == first.pinned["mi-0"]
    assert world.resolutions == 1  # once per (patch group, OS) for the whole execution
    assert list(world.snapshots[execution.id]) == ["web|AMAZON_LINUX_2023"]


def test_a_baseline_override_keeps_its_snapshot_id_and_pins_per_node() -> None:
    world = World()
    web(world, 1)
    params = {"Operation": "Scan", "BaselineOverride": ["strict"]}
    store(
        world, document(task={"TaskInvocationParameters": {"RunCommand": {"Parameters": params}}})
    )
    round_at(world, 1)
    command = world.commands[last_command(world)]
    assert command.request.parameters["SnapshotId"] == only(world).id
    assert not command.pinned


def test_errors_beyond_max_errors_stop_the_later_waves() -> None:
    world = World()
    web(world, 3)
    store(world, document(task={"MaxConcurrency": [1]}))
    round_at(world, 1)
    world.finish(last_command(world), failing={"mi-0"})
    round_at(world, 2)
    execution = only(world)
    assert len(world.commands) == 1
    task = world.task_of(execution.id, "patch").state
    assert task.status == Status.FAILED and task.details.startswith("MaxErrors exceeded")
    assert execution.status == Status.FAILED


def test_cancelling_cancels_the_running_command() -> None:
    world = World()
    web(world, 2)
    store(world, document())
    round_at(world, 1)
    execution = admin.cancel_execution(
        world.ports().executions, Audit(world), only(world).id, "ops", at(2)
    )
    assert execution.status == Status.CANCELLING
    round_at(world, 3)
    assert world.commands[last_command(world)].cancel_requested
    assert only(world).status == Status.CANCELLED
    assert world.audit == [("ops", "window.execution.cancel", execution.id)]


def test_a_pending_execution_is_cancelled_at_once_and_only_once() -> None:
    world = World()
    window, _ = store(world, document())
    schedule_window(world.ports(), window.id, at(1), "r1")
    executions = world.ports().executions
    for _ in range(2):
        cancelled = admin.cancel_execution(executions, Audit(world), only(world).id, "ops", at(2))
    assert cancelled.status == Status.CANCELLED and cancelled.ended_at == at(2)
    assert cancelled.status_details == "cancelled before it started"
    assert len(world.audit) == 1
    with pytest.raises(NotFound, match="window execution nope not found"):
        admin.cancel_execution(executions, Audit(world), "nope", "ops", at(2))


def test_a_window_with_a_running_execution_is_not_deleted() -> None:
    world = World()
    web(world, 1)
    store(world, document())
    round_at(world, 1)
    ports = world.ports()

    def delete() -> None:
        admin.delete_window(ports.windows, ports.executions, Audit(world), "patch-web", "ops", T0)

    with pytest.raises(Conflict, match="has a running execution"):
        delete()
    world.finish(last_command(world))
    round_at(world, 2)
    delete()
    assert not world.windows and world.audit == [("ops", "window.delete", "patch-web")]
    with pytest.raises(NotFound, match="maintenance window patch-web not found"):
        delete()


# AUTOMATION tasks


def test_a_targetless_automation_task_starts_one_runbook_execution() -> None:
    world = World()
    web(world, 2)
    world.runbooks["restart"] = "Success"
    store(world, automation(Targets=[]))
    round_at(world, 1)
    execution = only(world)
    task = world.task_of(execution.id, "restart")
    ((actor, (runbook, _, params)),) = world.runs.items()
    assert actor == f"window:{task.id}:" and runbook == "restart"
    assert params == {"Execution": [execution.id]}
    assert task.state.status == Status.SUCCESS
    assert execution.status == Status.SUCCESS


def test_an_automation_task_runs_one_runbook_execution_per_node() -> None:
    world = World()
    web(world, 2)
    world.runbooks["restart"] = "InProgress"
    doc = automation(
        TaskInvocationParameters={"Automation": {"Parameters": {"NodeId": "{{TARGET_ID}}"}}}
    )
    store(world, doc)
    round_at(world, 1)
    assert [p for _, _, p in world.runs.values()] == [{"NodeId": "mi-0"}, {"NodeId": "mi-1"}]
    assert only(world).status == Status.IN_PROGRESS
    for actor, (runbook, _, params) in list(world.runs.items()):
        world.runs[actor] = (runbook, "Failed" if params["NodeId"] == "mi-1" else "Success", params)
    round_at(world, 2)
    task = world.task_of(only(world).id, "restart").state
    assert task.status == Status.FAILED and task.errors == 1


def test_an_automation_task_fails_when_its_runbook_is_gone_or_refused() -> None:
    world = World()
    web(world, 1)
    world.runbooks["restart"] = "Success"
    store(world, automation(Targets=[]))
    del world.runbooks["restart"]
    round_at(world, 1)
    details = world.task_of(only(world).id, "restart").state.details
    assert "does not exist (deleted after the window was applied)" in details

    world = World(refused="parameter Execution: not allowed")
    web(world, 1)
    world.runbooks["restart"] = "Success"
    store(world, automation(Targets=[]))
    round_at(world, 1)
    task = world.task_of(only(world).id, "restart").state
    assert task.status == Status.FAILED
    assert task.details == "runbook 'restart': parameter Execution: not allowed"


# a scheduler round


def test_an_execution_another_replica_holds_is_left_to_it() -> None:
    world = World()
    web(world, 1)
    store(world, document())
    world.locked_elsewhere = {"exec-2"}
    assert round_at(world, 1) == {"pending": 1, "advanced": 0}
    assert only(world).id == "exec-2" and only(world).status == Status.PENDING


def test_an_execution_that_cannot_advance_ends_failed_and_its_step_is_undone() -> None:
    world = World(broken="boom")
    web(world, 1)
    store(world, document())
    assert round_at(world, 1) == {"pending": 1, "errors": 1}
    execution = only(world)
    assert execution.status == Status.FAILED and execution.ended_at == at(1)
    assert execution.status_details == "internal error: RuntimeError: boom"
    assert not world.tasks  # the failed step's task executions were rolled back
