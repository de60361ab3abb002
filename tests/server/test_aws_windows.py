"""Maintenance windows over the AWS-compatible endpoint: a window with a registered target
and an AWS-RunPatchBaseline Scan task made with boto3, seen in ``/api/v1/windows``, run by
the test's scheduler ticks while simulated nodes answer, its executions read back through
the SSM operations against the native execution view; schedule, update, delete, roles and
errors; every answer parses against botocore's ``ssm`` model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
from aws_helpers import (  # noqa: E402
    aws_cli,
    code_of,
    isolate_aws_config,
    keys,
    live_server,
    ssm_client,
)
from botocore.exceptions import ClientError  # noqa: E402
from fleet_helpers import Api  # noqa: E402
from window_helpers import at, detail, run_all, tick  # noqa: E402

from patchwarden.server.aws_api.windows import target_id, task_id  # noqa: E402

SCAN = {"Operation": ["Scan"]}
MISSING = "mw-0123456789abcdef0"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    isolate_aws_config(monkeypatch)
    monkeypatch.setenv("PATCHWARDEN_SCHEDULER_INTERVAL", "0")
    yield


@pytest.fixture
def ssm(api: Api) -> Any:
    api.clock.current = datetime.now(UTC).replace(microsecond=0)  # SigV4 checks the date
    return ssm_client(api, *keys(api, "aws-operator", "operator"))


def _create(ssm: Any, api: Api, name: str = "aws-web", **kw: Any) -> str:
    args: dict[str, Any] = {
        "Name": name,
        "Schedule": at(api.clock.now() + timedelta(minutes=1)),
        "Duration": 2,
        "Cutoff": 1,
        "AllowUnassociatedTargets": False,
    }
    window_id: str = ssm.create_maintenance_window(**(args | kw))["WindowId"]
    return window_id


def _scan_task(ssm: Any, window_id: str, target_ids: list[str], **kw: Any) -> str:
    args: dict[str, Any] = {
        "WindowId": window_id,
        "TaskType": "RUN_COMMAND",
        "TaskArn": "AWS-RunPatchBaseline",
        "Targets": [{"Key": "WindowTargetIds", "Values": target_ids}],
        "TaskInvocationParameters": {"RunCommand": {"Parameters": SCAN}},
        "MaxConcurrency": "1",
        "MaxErrors": "0",
        "Priority": 1,
        "Name": "scan",
    }
    ident: str = ssm.register_task_with_maintenance_window(**(args | kw))["WindowTaskId"]
    return ident


def _target(ssm: Any, window_id: str, key: str, values: list[str], **kw: Any) -> str:
    ident: str = ssm.register_target_with_maintenance_window(
        WindowId=window_id,
        ResourceType="INSTANCE",
        Targets=[{"Key": key, "Values": values}],
        **kw,
    )["WindowTargetId"]
    return ident


# -- a window made with boto3, run, read back ----------------------------------------------


def test_a_window_made_with_boto3_runs_and_its_executions_equal_the_native_view(
    api: Api, ssm: Any
) -> None:
    web = [api.register(tags={"Role": "web"}) for _ in range(2)]
    db = api.register(tags={"Role": "db"})
    api.register(tags={"Role": "other"})
    window_id = _create(ssm, api, Description="weekly scan")
    assert window_id.startswith("mw-") and len(window_id) == 20
    web_target = _target(ssm, window_id, "tag:Role", ["web"], Name="web", OwnerInformation="ops")
    db_target = _target(ssm, window_id, "InstanceIds", [db.id])
    task = _scan_task(ssm, window_id, [db_target, web_target])

    native = api.ok("GET", "/api/v1/windows/aws-web")
    assert native["window_id"] == window_id
    spec = native["document"]["spec"]
    assert spec["Targets"] == [] and native["document"]["metadata"]["description"] == "weekly scan"
    assert [t["WindowTargetId"] for t in spec["WindowTargets"]] == [web_target, db_target]
    assert spec["WindowTargets"][0]["OwnerInformation"] == "ops"
    (native_task,) = spec["Tasks"]
    assert native_task["WindowTaskId"] == task and native_task["Name"] == "scan"
    assert native_task["WindowTargetIds"] == [db_target, web_target]
    assert native_task["TaskInvocationParameters"]["RunCommand"]["Parameters"] == SCAN

    targets = ssm.describe_maintenance_window_targets(WindowId=window_id)["Targets"]
    assert [t["WindowTargetId"] for t in targets] == [web_target, db_target]
    assert targets[0]["Name"] == "web" and targets[0]["ResourceType"] == "INSTANCE"
    (shown,) = ssm.describe_maintenance_window_tasks(WindowId=window_id)["Tasks"]
    assert shown["WindowTaskId"] == task and shown["Type"] == "RUN_COMMAND"
    assert shown["Targets"] == [{"Key": "WindowTargetIds", "Values": [db_target, web_target]}]
    assert shown["MaxConcurrency"] == "1" and shown["Name"] == "scan"

    # the scheduler runs it: db's target first, then web's, one node at a time
    tick(api, 1.5)
    ran = [run_all([db, *web])]
    for _ in range(3):
        tick(api)
        ran.append(run_all([db, *web]))
    tick(api)
    assert ran[0] == [db.id] and sorted(n for wave in ran[1:3] for n in wave) == sorted(
        n.id for n in web
    )
    run = detail(api, "aws-web")
    assert run["status"] == "SUCCESS" and sorted(run["targets"]) == sorted(
        [db.id, *(n.id for n in web)]
    )

    (execution,) = ssm.describe_maintenance_window_executions(WindowId=window_id)[
        "WindowExecutions"
    ]
    assert execution["WindowExecutionId"] == run["window_execution_id"]
    assert execution["Status"] == run["status"] == "SUCCESS"
    assert execution["StatusDetails"] == run["status_details"]
    assert execution["StartTime"] == datetime.fromisoformat(run["start_time"])
    (task_run,) = ssm.describe_maintenance_window_execution_tasks(
        WindowExecutionId=run["window_execution_id"]
    )["WindowExecutionTaskIdentities"]
    (native_run,) = run["tasks"]
    assert task_run["TaskExecutionId"] == native_run["task_execution_id"]
    assert task_run["Status"] == native_run["status"] == "SUCCESS"
    assert task_run["TaskArn"] == "AWS-RunPatchBaseline" and task_run["TaskType"] == "RUN_COMMAND"
    invocations = ssm.describe_maintenance_window_execution_task_invocations(
        WindowExecutionId=run["window_execution_id"], TaskId=native_run["task_execution_id"]
    )["WindowExecutionTaskInvocationIdentities"]
    assert [i["ExecutionId"] for i in invocations] == [
        c["command_id"] for c in native_run["commands"]
    ]
    # one wave command per registered target, db's first ("1" is one rate-controlled wave)
    assert [i["Status"] for i in invocations] == ["SUCCESS"] * 2
    first, second = (json.loads(i["Parameters"]) for i in invocations)
    assert first["instanceIds"] == [db.id]
    assert sorted(second["instanceIds"]) == sorted(n.id for n in web)
    for shown, command in zip(invocations, native_run["commands"], strict=True):
        nodes = command["invocations"]
        assert shown["EndTime"] == max(datetime.fromisoformat(i["finished_at"]) for i in nodes)
    for command in native_run["commands"]:  # each invocation is the wave's ordinary command
        sent = api.ok("GET", f"/api/v1/commands/{command['command_id']}")
        assert sent["parameters"]["Operation"] in ("Scan", ["Scan"])

    # a missing execution or task execution
    with pytest.raises(ClientError) as error:
        ssm.describe_maintenance_window_execution_tasks(
            WindowExecutionId="00000000-0000-4000-8000-000000000000"
        )
    assert code_of(error) == "DoesNotExistException"
    with pytest.raises(ClientError) as error:
        ssm.describe_maintenance_window_execution_task_invocations(
            WindowExecutionId=run["window_execution_id"],
            TaskId="00000000-0000-4000-8000-000000000000",
        )
    assert code_of(error) == "DoesNotExistException"


def test_a_task_with_instance_ids_and_the_window_targets_rule(api: Api, ssm: Any) -> None:
    node = api.register(tags={"Role": "web"})
    other = api.register(tags={"Role": "db"})
    window_id = _create(ssm, api)
    _target(ssm, window_id, "tag:Role", ["web"])
    ok = ssm.register_task_with_maintenance_window(
        WindowId=window_id,
        TaskType="RUN_COMMAND",
        TaskArn="arn:aws:ssm:eu-west-3::document/AWS-RunPatchBaseline",
        Targets=[{"Key": "InstanceIds", "Values": [node.id]}],
        TaskInvocationParameters={"RunCommand": {"Parameters": SCAN}},
    )["WindowTaskId"]
    (shown,) = ssm.describe_maintenance_window_tasks(WindowId=window_id)["Tasks"]
    assert shown["Targets"] == [{"Key": "InstanceIds", "Values": [node.id]}]
    assert shown["WindowTaskId"] == ok and "Name" not in shown
    assert shown["MaxConcurrency"] == "50" and shown["MaxErrors"] == "0"
    # a node the registered targets do not select (AllowUnassociatedTargets false)
    with pytest.raises(ClientError) as error:
        ssm.register_task_with_maintenance_window(
            WindowId=window_id,
            TaskType="RUN_COMMAND",
            TaskArn="AWS-RunPatchBaseline",
            Targets=[{"Key": "InstanceIds", "Values": [other.id]}],
            TaskInvocationParameters={"RunCommand": {"Parameters": SCAN}},
        )
    assert code_of(error) == "ValidationException"
    assert "does not match the window's Targets" in str(error.value)
    # parameters validated as natively
    with pytest.raises(ClientError) as error:
        _scan_task(
            ssm,
            window_id,
            [],
            Targets=[{"Key": "InstanceIds", "Values": [node.id]}],
            Name="bad",
            TaskInvocationParameters={"RunCommand": {"Parameters": {"Operation": ["Reboot"]}}},
        )
    assert code_of(error) == "ValidationException"
    for task_type in ("AUTOMATION", "LAMBDA"):
        with pytest.raises(ClientError) as error:
            ssm.register_task_with_maintenance_window(
                WindowId=window_id, TaskType=task_type, TaskArn="x"
            )
        assert code_of(error) == "FeatureNotAvailableException"
    # deregistering the task
    ssm.deregister_task_from_maintenance_window(WindowId=window_id, WindowTaskId=ok)
    assert ssm.describe_maintenance_window_tasks(WindowId=window_id)["Tasks"] == []
    with pytest.raises(ClientError) as error:
        ssm.deregister_task_from_maintenance_window(WindowId=window_id, WindowTaskId=ok)
    assert code_of(error) == "DoesNotExistException"


def test_a_target_in_use_is_not_deregistered(api: Api, ssm: Any) -> None:
    node = api.register(tags={"Role": "web"})
    window_id = _create(ssm, api)
    used = _target(ssm, window_id, "InstanceIds", [node.id])
    spare = _target(ssm, window_id, "tag-key", ["Role"])
    task = _scan_task(ssm, window_id, [used])
    with pytest.raises(ClientError) as error:
        ssm.deregister_target_from_maintenance_window(WindowId=window_id, WindowTargetId=used)
    assert code_of(error) == "TargetInUseException"
    done = ssm.deregister_target_from_maintenance_window(WindowId=window_id, WindowTargetId=spare)
    assert done["WindowTargetId"] == spare
    with pytest.raises(ClientError) as error:
        ssm.deregister_target_from_maintenance_window(WindowId=window_id, WindowTargetId=spare)
    assert code_of(error) == "DoesNotExistException"
    with pytest.raises(ClientError) as error:  # a task naming an unknown target
        _scan_task(ssm, window_id, [spare], Name="other")
    assert code_of(error) == "ValidationException"
    ssm.deregister_task_from_maintenance_window(WindowId=window_id, WindowTaskId=task)
    ssm.deregister_target_from_maintenance_window(WindowId=window_id, WindowTargetId=used)
    assert ssm.describe_maintenance_window_targets(WindowId=window_id)["Targets"] == []


def test_natively_applied_tasks_have_stable_ids(api: Api, ssm: Any) -> None:
    from window_helpers import window

    api.ok("POST", "/api/v1/windows", json=window("native-web", Schedule="rate(1 day)"))
    found = api.ok("GET", "/api/v1/windows/native-web")
    (shown,) = ssm.describe_maintenance_window_tasks(WindowId=found["window_id"])["Tasks"]
    assert shown["WindowTaskId"] == task_id(found["window_id"], {"Name": "patch"})
    assert shown["Name"] == "patch" and shown["Targets"] == [{"Key": "tag:Role", "Values": ["web"]}]
    assert ssm.describe_maintenance_window_targets(WindowId=found["window_id"])["Targets"] == []


# -- get, update, describe, delete, schedule -----------------------------------------------


def test_get_update_describe_and_delete(api: Api, ssm: Any) -> None:
    window_id = _create(
        ssm,
        api,
        Schedule="cron(0 2 ? * SUN *)",
        ScheduleTimezone="Europe/Berlin",
        ScheduleOffset=2,
        StartDate="2026-01-01T00:00:00Z",
    )
    got = ssm.get_maintenance_window(WindowId=window_id)
    assert got["Name"] == "aws-web" and got["Enabled"] is True
    assert got["Schedule"] == "cron(0 2 ? * SUN *)" and got["ScheduleOffset"] == 2
    assert got["ScheduleTimezone"] == "Europe/Berlin" and got["Duration"] == 2
    native = api.ok("GET", "/api/v1/windows/aws-web")
    next_native = datetime.fromisoformat(native["next_execution_time"])
    assert datetime.fromisoformat(got["NextExecutionTime"]) == next_native
    assert isinstance(got["CreatedDate"], datetime)

    updated = ssm.update_maintenance_window(WindowId=window_id, Enabled=False, Duration=4)
    assert updated["Enabled"] is False and updated["Duration"] == 4
    assert "NextExecutionTime" not in ssm.get_maintenance_window(WindowId=window_id)
    assert api.ok("GET", "/api/v1/windows/aws-web")["enabled"] is False
    with pytest.raises(ClientError) as error:  # Cutoff must stay below Duration
        ssm.update_maintenance_window(WindowId=window_id, Cutoff=5)
    assert code_of(error) == "ValidationException"
    with pytest.raises(ClientError) as error:
        ssm.update_maintenance_window(WindowId=window_id, Name="renamed")
    assert code_of(error) == "ValidationException"
    replaced = ssm.update_maintenance_window(
        WindowId=window_id,
        Replace=True,
        Schedule="rate(1 day)",
        Duration=1,
        Cutoff=0,
        AllowUnassociatedTargets=True,
    )
    assert replaced["Enabled"] is True and "ScheduleOffset" not in replaced
    assert replaced["ScheduleTimezone"] == "UTC" and replaced["AllowUnassociatedTargets"] is True

    second = _create(ssm, api, name="aws-db")
    ssm.update_maintenance_window(WindowId=second, Enabled=False)
    identities = ssm.describe_maintenance_windows()["WindowIdentities"]
    assert [w["Name"] for w in identities] == ["aws-db", "aws-web"]
    enabled = ssm.describe_maintenance_windows(Filters=[{"Key": "Enabled", "Values": ["true"]}])
    assert [w["WindowId"] for w in enabled["WindowIdentities"]] == [window_id]
    named = ssm.describe_maintenance_windows(Filters=[{"Key": "Name", "Values": ["aws-db"]}])
    assert [w["WindowId"] for w in named["WindowIdentities"]] == [second]
    for n in range(10):
        _create(ssm, api, name=f"more-{n:02d}")
    pages = ssm.get_paginator("describe_maintenance_windows").paginate(
        PaginationConfig={"PageSize": 10}
    )
    sizes = [len(p["WindowIdentities"]) for p in pages]
    assert sizes == [10, 2]

    with pytest.raises(ClientError) as error:
        _create(ssm, api, name="aws-db")
    assert code_of(error) == "AlreadyExistsException"
    assert ssm.delete_maintenance_window(WindowId=second)["WindowId"] == second
    assert api.call("GET", "/api/v1/windows/aws-db").status_code == 404
    audit = [(e["action"], e.get("target")) for e in api.ok("GET", "/api/v1/audit")]
    assert ("window.delete", "aws-db") in audit and ("window.create", "aws-web") in audit
    assert ("window.update", "aws-web") in audit


def test_schedule_is_the_schedulers_next_runs(api: Api, ssm: Any) -> None:
    window_id = _create(ssm, api, Schedule="rate(1 day)", StartDate="2030-01-01T00:00:00Z")
    runs = ssm.describe_maintenance_window_schedule(WindowId=window_id, MaxResults=3)
    times = [datetime.fromisoformat(r["ExecutionTime"]) for r in runs["ScheduledWindowExecutions"]]
    start = datetime(2030, 1, 1, tzinfo=UTC)
    assert times == [start, start + timedelta(days=1), start + timedelta(days=2)]
    assert {r["Name"] for r in runs["ScheduledWindowExecutions"]} == {"aws-web"}
    following = ssm.describe_maintenance_window_schedule(
        WindowId=window_id, MaxResults=2, NextToken=runs["NextToken"]
    )["ScheduledWindowExecutions"]
    assert datetime.fromisoformat(following[0]["ExecutionTime"]) == start + timedelta(days=3)
    native = api.ok("GET", "/api/v1/windows/aws-web")
    assert datetime.fromisoformat(native["next_execution_time"]) == times[0]
    with pytest.raises(ClientError) as error:
        ssm.describe_maintenance_window_schedule(
            Targets=[{"Key": "InstanceIds", "Values": ["mi-0123456789abcdef0"]}],
            ResourceType="INSTANCE",
        )
    assert code_of(error) == "ValidationException"


# -- roles and errors ----------------------------------------------------------------------


def test_a_viewer_reads_but_cannot_change(api: Api, ssm: Any) -> None:
    window_id = _create(ssm, api)
    viewer = ssm_client(api, *keys(api, "aws-viewer", "viewer"))
    assert viewer.get_maintenance_window(WindowId=window_id)["WindowId"] == window_id
    assert viewer.describe_maintenance_window_tasks(WindowId=window_id)["Tasks"] == []
    for call, kw in (
        ("create_maintenance_window", {"Name": "x-y-z", "Schedule": "rate(1 day)"}),
        ("update_maintenance_window", {"WindowId": window_id, "Enabled": False}),
        ("delete_maintenance_window", {"WindowId": window_id}),
        (
            "register_target_with_maintenance_window",
            {
                "WindowId": window_id,
                "ResourceType": "INSTANCE",
                "Targets": [{"Key": "tag-key", "Values": ["Role"]}],
            },
        ),
    ):
        base = {"Duration": 1, "Cutoff": 0, "AllowUnassociatedTargets": False}
        args = base | kw if call == "create_maintenance_window" else kw
        with pytest.raises(ClientError) as error:
            getattr(viewer, call)(**args)
        assert code_of(error) == "AccessDeniedException"
    assert api.ok("GET", "/api/v1/windows/aws-web")["enabled"] is True


def test_an_unknown_window_does_not_exist(api: Api, ssm: Any) -> None:
    for call, kw in (
        ("get_maintenance_window", {}),
        ("update_maintenance_window", {"Enabled": False}),
        ("delete_maintenance_window", {}),
        ("describe_maintenance_window_targets", {}),
        ("describe_maintenance_window_tasks", {}),
        ("describe_maintenance_window_executions", {}),
        ("describe_maintenance_window_schedule", {}),
        ("deregister_task_from_maintenance_window", {"WindowTaskId": str(_uuid())}),
    ):
        with pytest.raises(ClientError) as error:
            getattr(ssm, call)(WindowId=MISSING, **kw)
        assert code_of(error) == "DoesNotExistException", call
    with pytest.raises(ClientError) as error:  # a refused document: ValidationException
        _create(ssm, api, Schedule="cron(nonsense)")
    assert code_of(error) == "ValidationException"
    with pytest.raises(ClientError) as error:
        _create(ssm, api, Duration=2, Cutoff=2)
    assert code_of(error) == "ValidationException"


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def test_the_aws_cli_describes_maintenance_windows(tmp_path: Path) -> None:
    with live_server(tmp_path) as (base, token):
        import httpx

        auth = {"Authorization": f"Bearer {token}"}
        made = httpx.post(
            f"{base}/api/v1/tokens",
            json={"name": "cli", "role": "operator", "aws_keys": True},
            headers=auth,
        ).json()
        key, secret = made["aws_access_key_id"], made["aws_secret_access_key"]
        window = {
            "apiVersion": "patchwarden/v1",
            "kind": "MaintenanceWindow",
            "metadata": {"name": "cli-window"},
            "spec": {"Schedule": "rate(7 days)", "Duration": 2, "Cutoff": 1},
        }
        assert httpx.post(f"{base}/api/v1/windows", json=window, headers=auth).status_code == 200
        found = aws_cli(base, key, secret, "describe-maintenance-windows")
        (identity,) = found["WindowIdentities"]
        assert identity["Name"] == "cli-window" and identity["Enabled"] is True
        assert identity["WindowId"].startswith("mw-")


def test_a_window_without_targets_or_tasks_runs_with_nothing_to_do(api: Api, ssm: Any) -> None:
    api.register(tags={"Role": "web"})
    window_id = _create(ssm, api)
    tick(api, 1.5)
    tick(api)
    (execution,) = ssm.describe_maintenance_window_executions(WindowId=window_id)[
        "WindowExecutions"
    ]
    assert execution["Status"] == "SUCCESS"
    assert execution["StatusDetails"] == "0 of 0 tasks succeeded"
    run = detail(api, "aws-web")
    assert run["targets"] == [] and run["tasks"] == []


def test_the_document_checks_registered_targets(api: Api, ssm: Any) -> None:
    from window_helpers import window

    doc = window("native-web", Schedule="rate(1 day)")
    doc["spec"]["WindowTargets"] = [{"WindowTargetId": "ring0", "Targets": doc["spec"]["Targets"]}]
    both = doc["spec"]["Tasks"][0] | {"WindowTargetIds": ["ring0"], "Targets": []}
    for task, message in (
        (doc["spec"]["Tasks"][0] | {"WindowTargetIds": ["nope"]}, "not in WindowTargets"),
        (both, "either Targets or WindowTargetIds"),
    ):
        refused = api.call(
            "POST", "/api/v1/windows", json=doc | {"spec": doc["spec"] | {"Tasks": [task]}}
        )
        assert refused.status_code == 400 and message in refused.text
    doc["spec"]["Tasks"][0]["WindowTargetIds"] = ["ring0"]
    api.ok("POST", "/api/v1/windows", json=doc)
    window_id = api.ok("GET", "/api/v1/windows/native-web")["window_id"]
    (target,) = ssm.describe_maintenance_window_targets(WindowId=window_id)["Targets"]
    # an id written natively that is no UUID shows as one derived from it, and is accepted
    assert target["WindowTargetId"] == target_id(window_id, "ring0") != "ring0"
    (task,) = ssm.describe_maintenance_window_tasks(WindowId=window_id)["Tasks"]
    assert task["Targets"] == [{"Key": "WindowTargetIds", "Values": [target["WindowTargetId"]]}]
    with pytest.raises(ClientError) as error:
        ssm.deregister_target_from_maintenance_window(
            WindowId=window_id, WindowTargetId=target["WindowTargetId"]
        )
    assert code_of(error) == "TargetInUseException"
