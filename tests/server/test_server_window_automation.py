"""AUTOMATION window tasks (runbook executions per target node, rate-controlled, targetless)
and AllowUnassociatedTargets, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fleet_helpers import Api, Node, error_of
from governance_helpers import INSTALL_RUNBOOK, TAG_RUNBOOK, runbook
from governance_helpers import tick as governance_tick
from window_helpers import detail, run_all, tick, window

FAILING_RUNBOOK = runbook(
    "always-fails",
    [
        {
            "name": "fail",
            "action": "runCommand",
            "inputs": {"DocumentName": "RunShellScript", "NodeId": "{{NodeId}}"},  # disabled
        }
    ],
)
STAMP_RUNBOOK = runbook(
    "stamp",
    [
        {
            "name": "stamp",
            "action": "addTags",
            "inputs": {"NodeId": "{{NodeId}}", "Tags": {"Patched-By": "{{Execution}}"}},
        }
    ],
    Execution={"type": "String"},
)


@pytest.fixture(autouse=True)
def _no_background_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHWARDEN_GOVERNANCE_INTERVAL", "0")
    monkeypatch.setenv("PATCHWARDEN_SCHEDULER_INTERVAL", "0")


def _automation(name: str = "tag-default", **task: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "TaskType": "AUTOMATION",
        "TaskArn": name,
        "TaskInvocationParameters": {
            "Automation": {"Parameters": {"NodeId": "{{RESOURCE_ID}}"}},
        },
    }
    spec.update(task)
    return spec


def _apply_window(api: Api, task: dict[str, Any], **spec: Any) -> None:
    doc = window(**spec)
    doc["spec"]["Tasks"] = [{"Name": "automate", "Priority": 1, **task}]
    api.ok("POST", "/api/v1/windows", json=doc)


def _web(api: Api, count: int) -> list[Node]:
    return [api.register(tags={"Role": "web"}, name=f"web{i}") for i in range(count)]


def test_a_runbook_tags_every_target_node(api: Api) -> None:
    nodes = _web(api, 3)
    other = api.register(tags={"Role": "db"})
    api.ok("POST", "/api/v1/apply", json=[STAMP_RUNBOOK])
    params = {"NodeId": "{{TARGET_ID}}", "Execution": "{{WINDOW_EXECUTION_ID}}"}
    task = _automation(
        "stamp",
        MaxConcurrency="2",
        TaskInvocationParameters={"Automation": {"Parameters": params}},
    )
    _apply_window(api, task)
    tick(api, 1)
    run = detail(api)
    (task_run,) = run["tasks"]
    assert (run["status"], task_run["status"]) == ("SUCCESS", "SUCCESS"), run
    assert task_run["status_details"] == "3 runbook executions succeeded"
    assert task_run["commands"] == []
    runs = task_run["runbook_executions"]
    assert sorted(r["node_id"] for r in runs) == sorted(n.id for n in nodes)
    assert {r["status"] for r in runs} == {"Success"}
    for node in nodes:
        tags = api.ok("GET", f"/api/v1/nodes/{node.id}")["tags"]
        assert tags["Patched-By"] == run["window_execution_id"]
    assert "Patched-By" not in api.ok("GET", f"/api/v1/nodes/{other.id}")["tags"]
    shown = api.ok("GET", f"/api/v1/runbook-executions/{runs[0]['runbook_execution_id']}")
    assert shown["status"] == "Success"


def test_a_failing_runbook_with_max_errors_0_stops_after_the_first_failure(api: Api) -> None:
    _web(api, 3)
    api.ok("POST", "/api/v1/apply", json=[FAILING_RUNBOOK])
    _apply_window(api, _automation("always-fails", MaxConcurrency="1", MaxErrors="0"))
    tick(api, 1)
    tick(api)
    run = detail(api)
    (task_run,) = run["tasks"]
    assert task_run["status"] == "FAILED", task_run
    assert task_run["status_details"].startswith("MaxErrors exceeded: 1 failed")
    assert "1 of 3 started" in task_run["status_details"]
    assert [r["status"] for r in task_run["runbook_executions"]] == ["Failed"]
    assert run["status"] == "FAILED"


def test_errors_within_max_errors_run_every_target_and_fail_the_task(api: Api) -> None:
    _web(api, 3)
    api.ok("POST", "/api/v1/apply", json=[FAILING_RUNBOOK])
    _apply_window(api, _automation("always-fails", MaxConcurrency="1", MaxErrors="3"))
    tick(api, 1)
    (task_run,) = detail(api)["tasks"]
    assert task_run["status"] == "FAILED"
    assert task_run["status_details"] == "3 of 3 runbook executions failed (within MaxErrors)"


def test_max_concurrency_limits_running_runbook_executions(api: Api) -> None:
    nodes = _web(api, 3)
    api.ok("POST", "/api/v1/apply", json=[INSTALL_RUNBOOK])
    _apply_window(api, _automation("install", MaxConcurrency="2", MaxErrors="0"))
    tick(api, 1)
    (task_run,) = detail(api)["tasks"]
    assert [r["status"] for r in task_run["runbook_executions"]] == ["InProgress"] * 2
    assert len(run_all(nodes)) == 2  # each execution sent its node one command
    governance_tick(api)  # the runbook runner sees the commands finish
    tick(api)
    (task_run,) = detail(api)["tasks"]
    statuses = sorted(r["status"] for r in task_run["runbook_executions"])  # started together
    assert statuses == ["InProgress", "Success", "Success"]
    run_all(nodes)
    governance_tick(api)
    tick(api)
    (task_run,) = detail(api)["tasks"]
    assert task_run["status"] == "SUCCESS", task_run


def test_canary_waves_and_cancel_task_at_the_cutoff(api: Api) -> None:
    _web(api, 3)
    api.ok("POST", "/api/v1/apply", json=[INSTALL_RUNBOOK])
    task = _automation("install", MaxConcurrency=[1], CutoffBehavior="CANCEL_TASK")
    _apply_window(api, task)
    tick(api, 1)
    (task_run,) = detail(api)["tasks"]
    assert task_run["waves"] == [1, 1, 1]
    assert len(task_run["runbook_executions"]) == 1
    tick(api, 60)  # the cutoff: nobody ran the command
    (task_run,) = detail(api)["tasks"]
    assert task_run["status"] == "TIMED_OUT"
    assert task_run["status_details"] == (
        "cutoff reached: 2 runbook executions not started, 1 still running"
    )
    assert detail(api)["status"] == "TIMED_OUT"
    (left,) = task_run["runbook_executions"]
    assert left["status"] == "InProgress"  # not cancelled: AWS only stops new starts


def test_a_targetless_task_runs_once_and_refuses_rate_limits(api: Api) -> None:
    (node,) = _web(api, 1)
    api.ok("POST", "/api/v1/apply", json=[TAG_RUNBOOK])
    params = {"Automation": {"Parameters": {"NodeId": node.id}}}
    doc = window()
    doc["spec"]["Tasks"] = [
        {
            "Name": "once",
            **_automation(Targets=[], MaxErrors="1"),
            "TaskInvocationParameters": params,
        }
    ]
    r = api.call("POST", "/api/v1/windows", json=doc)
    assert error_of(r) == (400, "invalid_request")
    assert "MaxErrors: must be omitted for a targetless task" in r.json()["error"]["message"]
    resource = _automation(Targets=[])  # {{RESOURCE_ID}} has no value without a target
    doc["spec"]["Tasks"] = [{"Name": "once", **resource}]
    r = api.call("POST", "/api/v1/windows", json=doc)
    assert error_of(r)[0] == 400 and "{{RESOURCE_ID}}" in r.json()["error"]["message"]
    _apply_window(api, _automation(Targets=[], TaskInvocationParameters=params))
    tick(api, 1)
    (task_run,) = detail(api)["tasks"]
    assert task_run["status"] == "SUCCESS"
    (only,) = task_run["runbook_executions"]
    assert only["node_id"] is None and only["status"] == "Success"
    assert api.ok("GET", f"/api/v1/nodes/{node.id}")["tags"]["Patch Group"] == "default"


def test_the_runbook_must_exist_when_applied_and_when_run(api: Api) -> None:
    _web(api, 1)
    doc = window()
    doc["spec"]["Tasks"] = [{"Name": "automate", **_automation("missing")}]
    r = api.call("POST", "/api/v1/apply", json=[doc])
    assert error_of(r)[0] == 400
    assert "spec.Tasks[0].TaskArn: runbook 'missing' does not exist" in r.json()["error"]["message"]
    doc["spec"]["Tasks"] = [{"Name": "automate", **_automation()}]
    applied = api.ok("POST", "/api/v1/apply", json=[TAG_RUNBOOK, doc])["applied"]
    assert [a["kind"] for a in applied] == ["Runbook", "MaintenanceWindow"]  # one request
    _delete_runbook(api, "tag-default")
    tick(api, 1)
    (task_run,) = detail(api)["tasks"]
    assert task_run["status"] == "FAILED"
    assert "runbook 'tag-default' does not exist" in task_run["status_details"]


def _delete_runbook(api: Api, name: str) -> None:
    from patchwarden.adapters.storage.governance_tables import RunbookRow

    with api.client.app.state.db.write() as session, session.begin():
        row = session.get(RunbookRow, name)
        assert row is not None
        session.delete(row)


def test_pseudo_parameters_of_run_command_and_automation_tasks(api: Api) -> None:
    api.ok("POST", "/api/v1/apply", json=[TAG_RUNBOOK])
    params = {"Operation": "Install", "SnapshotId": "{{RESOURCE_ID}}"}
    bad = window(task={"TaskInvocationParameters": {"RunCommand": {"Parameters": params}}})
    r = api.call("POST", "/api/v1/windows", json=bad)
    assert error_of(r)[0] == 400 and "{{RESOURCE_ID}}" in r.json()["error"]["message"]
    doc = window()
    doc["spec"]["Tasks"] = [{"Name": "automate", **_automation(TaskArn="tag-default")}]
    assert api.ok("POST", "/api/v1/windows", json=doc)["result"] == "created"
    run_command = {"Name": "automate", **_automation(TaskType="RUN_COMMAND")}
    doc["spec"]["Tasks"] = [run_command]
    r = api.call("POST", "/api/v1/windows", json=doc)
    assert error_of(r)[0] == 400 and "TaskArn" in r.json()["error"]["message"]


def test_allow_unassociated_targets(api: Api) -> None:
    (web,) = _web(api, 1)
    db = api.register(tags={"Role": "db"})
    targets = [{"Key": "InstanceIds", "Values": [web.id, db.id]}]
    r = api.call("POST", "/api/v1/apply", json=[window(task={"Targets": targets})])
    assert error_of(r) == (400, "invalid_request")
    message = r.json()["error"]["message"]
    assert f"spec.Tasks[0].Targets: node {db.id} does not match the window's Targets" in message
    assert "AllowUnassociatedTargets" in message
    every = [{"Key": "InstanceIds", "Values": ["*"]}]
    r = api.call("POST", "/api/v1/windows", json=window(task={"Targets": every}))
    assert error_of(r)[0] == 400 and "InstanceIds * selects nodes" in r.json()["error"]["message"]
    ours = [{"Key": "InstanceIds", "Values": [web.id]}]
    assert api.ok("POST", "/api/v1/windows", json=window(task={"Targets": ours}))
    doc = window(task={"Targets": targets}, AllowUnassociatedTargets=True)
    assert api.ok("POST", "/api/v1/windows", json=doc)["result"] == "configured"
    tick(api, 1)
    (task_run,) = detail(api)["tasks"]
    invocations = task_run["commands"][0]["invocations"]
    assert sorted(i["node_id"] for i in invocations) == sorted([web.id, db.id])
    assert run_all([web]) + run_all([db]) == [web.id, db.id]
    tick(api)
    assert detail(api)["status"] == "SUCCESS"


def test_continue_task_lets_running_executions_finish_past_the_cutoff(api: Api) -> None:
    nodes = _web(api, 2)
    api.ok("POST", "/api/v1/apply", json=[INSTALL_RUNBOOK])
    _apply_window(api, _automation("install", MaxConcurrency="1"))
    tick(api, 1)
    assert len(run_all(nodes)) == 1  # the runner has not seen it finish yet
    tick(api, 60)  # the cutoff: the first execution still runs, the second may not start
    (task_run,) = detail(api)["tasks"]
    assert task_run["status"] == "IN_PROGRESS"
    governance_tick(api)
    tick(api)
    (task_run,) = detail(api)["tasks"]
    assert task_run["status"] == "TIMED_OUT", task_run["runbook_executions"]
    assert task_run["status_details"] == "cutoff reached: 1 runbook executions not started"
    assert [r["status"] for r in task_run["runbook_executions"]] == ["Success"]


def test_cancelling_the_window_execution_starts_no_more_runbooks(api: Api) -> None:
    _web(api, 2)
    api.ok("POST", "/api/v1/apply", json=[INSTALL_RUNBOOK])
    _apply_window(api, _automation("install", MaxConcurrency="1"))
    tick(api, 1)
    run_id = detail(api)["window_execution_id"]
    api.ok("POST", f"/api/v1/windows/-/executions/{run_id}/cancel")
    tick(api)
    run = detail(api)
    (task_run,) = run["tasks"]
    assert run["status"] == "CANCELLED" and task_run["status"] == "CANCELLED"
    assert task_run["status_details"] == (
        "window execution cancelled; 1 runbook executions still running"
    )
    assert len(task_run["runbook_executions"]) == 1
