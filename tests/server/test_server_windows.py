"""Maintenance windows through the API and the scheduler's ``tick`` (SQLite and PostgreSQL):
waves, MaxErrors across waves, missed windows, overlap, cutoff, priorities, offline nodes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fleet_helpers import T0, Api, error_of
from window_helpers import detail, executions, run_all, tick, window


@pytest.fixture(autouse=True)
def _no_background_scheduler(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PATCHWARDEN_SCHEDULER_INTERVAL", "0")
    yield


def _web_nodes(api: Api, count: int, group: str | None = None) -> list:  # type: ignore[type-arg]
    tags = {"Role": "web", **({"Patch Group": group} if group else {})}
    return [api.register(tags=tags, name=f"web{i}") for i in range(count)]


def test_apply_list_get_and_bad_documents(api: Api) -> None:
    made = api.ok("POST", "/api/v1/apply", json=[window()])
    assert made["applied"] == [
        {"kind": "MaintenanceWindow", "name": "patch-web", "result": "created"}
    ]
    (row,) = api.ok("GET", "/api/v1/windows")
    assert row["next_execution_time"].startswith("2026-03-01T12:01:00")
    assert api.ok("GET", "/api/v1/windows/patch-web")["document"]["spec"]["Duration"] == 2
    again = api.ok("POST", "/api/v1/windows", json=window())
    assert again["result"] == "configured"
    bad = window(Cutoff=2)
    r = api.call("POST", "/api/v1/apply", json=[bad])
    assert error_of(r) == (400, "invalid_request")
    assert "Cutoff" in r.json()["error"]["message"]
    bad = window(task={"MaxConcurrency": [1, "0%"]})
    r = api.call("POST", "/api/v1/windows", json=bad)
    assert error_of(r)[0] == 400 and "MaxConcurrency" in r.json()["error"]["message"]
    viewer = api.token("viewer")
    assert api.call("POST", "/api/v1/windows", viewer, json=window()).status_code == 403
    assert api.call("DELETE", "/api/v1/windows/patch-web").status_code == 204
    assert api.call("GET", "/api/v1/windows/patch-web").status_code == 404


def test_canary_waves_stop_when_max_errors_is_exceeded(api: Api) -> None:
    nodes = _web_nodes(api, 5)
    api.ok("POST", "/api/v1/windows", json=window(task={"MaxConcurrency": [1, "40%"]}))
    assert tick(api, 0.5) == {}  # not yet due
    assert tick(api, 0.5)["pending"] == 1
    run = detail(api)
    (task,) = run["tasks"]
    assert run["status"] == "IN_PROGRESS" and run["target_count"] == 5
    assert task["waves"] == [1, 2, 2]
    (first,) = run_all(nodes)  # the canary
    tick(api)
    second = run_all(nodes, failing={nodes[1].id, nodes[2].id, nodes[3].id, nodes[4].id})
    assert len(second) == 2 and first not in second
    tick(api)
    run = detail(api)
    (task,) = run["tasks"]
    assert task["status"] == "FAILED" and "MaxErrors exceeded" in task["status_details"]
    assert [c["wave"] for c in task["commands"]] == [0, 1]  # the third wave never started
    assert run["status"] == "FAILED" and run["end_time"]
    assert run_all(nodes) == []
    params = api.ok("GET", f"/api/v1/commands/{task['commands'][0]['command_id']}")["parameters"]
    assert params["SnapshotId"] == run["window_execution_id"]


def test_a_window_missed_while_down_is_recorded_not_started(api: Api) -> None:
    _web_nodes(api, 1)
    api.ok("POST", "/api/v1/windows", json=window())
    assert tick(api, 120)["missed"] == 1
    (run,) = executions(api)
    assert (run["status"], run["status_details"]) == ("FAILED", "missed: server was down")
    assert detail(api)["tasks"] == []
    assert tick(api, 60) == {}


def test_late_start_inside_the_window_and_resume(api: Api) -> None:
    nodes = _web_nodes(api, 2)
    api.ok("POST", "/api/v1/windows", json=window())
    assert tick(api, 30)["pending"] == 1  # down at 12:01, up at 12:30: before the cutoff
    run_all(nodes)
    tick(api, 1)
    assert executions(api)[0]["status"] == "SUCCESS"


def test_overlapping_executions_are_skipped(api: Api) -> None:
    _web_nodes(api, 1)
    api.ok("POST", "/api/v1/windows", json=window(Schedule="rate(30 minutes)"))
    assert tick(api, 30)["pending"] == 1  # nobody runs the command: it stays in progress
    assert tick(api, 30)["skipped_overlapping"] == 1
    statuses = [e["status"] for e in executions(api)]
    assert statuses == ["SKIPPED_OVERLAPPING", "IN_PROGRESS"]


def test_cancel_task_at_cutoff_times_out_the_rest(api: Api) -> None:
    nodes = _web_nodes(api, 3)
    doc = window(task={"MaxConcurrency": [1], "CutoffBehavior": "CANCEL_TASK"})
    api.ok("POST", "/api/v1/windows", json=doc)
    tick(api, 1)
    run_all(nodes)
    tick(api, 1)  # wave 2 starts, nobody picks it up
    tick(api, 60)  # the cutoff (start + 2h - 1h)
    (task,) = detail(api)["tasks"]
    assert task["status"] == "TIMED_OUT" and "CANCEL_TASK" in task["status_details"]
    assert detail(api)["status"] == "TIMED_OUT"


def test_continue_task_stops_new_waves_at_cutoff(api: Api) -> None:
    nodes = _web_nodes(api, 2)
    api.ok(
        "POST",
        "/api/v1/windows",
        json=window(task={"MaxConcurrency": [1], "PauseBetweenWavesSeconds": 7200}),
    )
    tick(api, 1)
    run_all(nodes)
    tick(api, 1)
    assert run_all(nodes) == []  # pausing
    tick(api, 60)
    (task,) = detail(api)["tasks"]
    assert task["status"] == "TIMED_OUT" and "not started" in task["status_details"]


def test_priorities_run_level_by_level(api: Api) -> None:
    nodes = _web_nodes(api, 1)
    first = {
        "Name": "scan",
        "Priority": 0,
        "TaskInvocationParameters": {"RunCommand": {"Parameters": {"Operation": "Scan"}}},
    }
    doc = window()
    doc["spec"]["Tasks"].append({**doc["spec"]["Tasks"][0], **first})
    api.ok("POST", "/api/v1/windows", json=doc)
    tick(api, 1)
    tasks = {t["task_name"]: t for t in detail(api)["tasks"]}
    assert tasks["scan"]["status"] == "IN_PROGRESS" and tasks["patch"]["status"] == "PENDING"
    run_all(nodes)
    tick(api)
    tasks = {t["task_name"]: t for t in detail(api)["tasks"]}
    assert tasks["scan"]["status"] == "SUCCESS" and tasks["patch"]["status"] == "IN_PROGRESS"


def test_offline_node_is_reported_not_skipped(api: Api) -> None:
    online, offline = _web_nodes(api, 2)
    api.ok("POST", "/api/v1/windows", json=window())
    api.clock.advance(600)
    online.poll()  # checks in; the other one has not been seen for ten minutes
    tick(api, 1)
    assert detail(api)["status_details"] == "2 target nodes, 1 not Online at the start"
    run_all([online])
    tick(api, 121)  # the window closed
    run = detail(api)
    (task,) = run["tasks"]
    invs = {i["node_id"]: i for i in task["commands"][0]["invocations"]}
    assert invs[offline.id]["status"] == "TimedOut"
    assert "offline for the whole window" in invs[offline.id]["status_details"]
    assert invs[online.id]["status"] == "Success"


def test_hooks_and_reboot_coordination(api: Api) -> None:
    nodes = _web_nodes(api, 2, group="g1") + _web_nodes(api, 1, group="g2")
    hook = {"DocumentName": "AWS-RunPatchBaseline", "Parameters": {"Operation": "Scan"}}
    task = {
        "MaxConcurrency": "100%",
        "PreHook": hook,
        "PostHook": hook,
        "RebootCoordination": {"MaxRebootingPerGroup": 1},
        "TaskInvocationParameters": {"RunCommand": {"Parameters": {"Operation": "Install"}}},
    }
    api.ok("POST", "/api/v1/windows", json=window(task=task))
    tick(api, 1)
    (task_run,) = detail(api)["tasks"]
    assert task_run["waves"] == [2, 1]  # one g1 node held back
    for _ in range(6):
        run_all(nodes)
        tick(api)
    (task_run,) = detail(api)["tasks"]
    phases = [(c["wave"], c["phase"]) for c in task_run["commands"]]
    assert phases == [(w, p) for w in (0, 1) for p in ("PreHook", "Task", "PostHook")]
    assert task_run["status"] == "SUCCESS"


def test_cancel_an_execution(api: Api) -> None:
    _web_nodes(api, 1)
    api.ok("POST", "/api/v1/windows", json=window())
    tick(api, 1)
    run_id = executions(api)[0]["window_execution_id"]
    assert api.ok("POST", f"/api/v1/windows/-/executions/{run_id}/cancel")["status"] == "CANCELLING"
    tick(api)
    assert executions(api)[0]["status"] == "CANCELLED"
    cmd = detail(api)["tasks"][0]["commands"][0]
    assert api.ok("GET", f"/api/v1/commands/{cmd['command_id']}")["status"] == "Cancelled"


def test_schedule_in_a_time_zone(api: Api) -> None:
    doc = window(Schedule="cron(0 2 ? * SUN *)", ScheduleTimezone="Europe/Berlin", Duration=3)
    api.ok("POST", "/api/v1/windows", json=doc)
    (row,) = api.ok("GET", "/api/v1/windows")
    assert row["next_execution_time"].startswith("2026-03-08T01:00:00")  # 02:00 CET
    assert T0.isoweekday() == 7  # 2026-03-01 is a Sunday, 13:00 in Berlin: next week
