"""Run Command over the AWS-compatible endpoint: SendCommand, ListCommands,
ListCommandInvocations, GetCommandInvocation and CancelCommand driven with boto3 and the AWS
CLI while simulated nodes poll and answer, against the native ``/api/v1/commands`` views;
every answer parses against botocore's ``ssm`` model."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
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
from fleet_helpers import DEBIAN_FACTS, Api, Node, scan_report  # noqa: E402

SCAN = {"Operation": ["Scan"]}
WEB = [{"Key": "tag:Patch Group", "Values": ["web"]}]


@pytest.fixture(autouse=True)
def _no_aws_config(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_aws_config(monkeypatch)


@pytest.fixture
def ssm(api: Api) -> Any:
    api.clock.current = datetime.now(UTC)  # SigV4 checks the date against the server's clock
    return ssm_client(api, *keys(api, "aws-operator", "operator"))


def native(api: Api, command_id: str) -> dict[str, Any]:
    found: dict[str, Any] = api.ok("GET", f"/api/v1/commands/{command_id}")
    return found


def invocations(ssm: Any, command_id: str, **kw: Any) -> list[dict[str, Any]]:
    pages = ssm.get_paginator("list_command_invocations").paginate(CommandId=command_id, **kw)
    return [i for p in pages for i in p["CommandInvocations"]]


def answer(node: Node, status: str = "Success", report: dict[str, Any] | None = None) -> None:
    (inv,) = node.poll()
    assert node.report(inv["invocation_id"], status, report=report).status_code == 200


# -- send, watch, read ---------------------------------------------------------------------


def test_a_scan_sent_with_boto3_moves_from_pending_to_its_results(api: Api, ssm: Any) -> None:
    a = api.register(tags={"Patch Group": "web"})
    b = api.register(tags={"Patch Group": "web"})
    other = api.register(tags={"Patch Group": "db"})
    sent = ssm.send_command(
        DocumentName="AWS-RunPatchBaseline",
        Parameters=SCAN,
        Targets=WEB,
        MaxErrors="1",
        Comment="weekly scan",
    )["Command"]
    command_id = sent["CommandId"]
    assert str(uuid.UUID(command_id)) == command_id  # the native id
    assert sent["Status"] == "Pending" and sent["TargetCount"] == 2
    assert sent["Targets"] == WEB and sent["InstanceIds"] == []
    assert sent["Parameters"]["Operation"] == ["Scan"]
    assert sent["MaxErrors"] == "1" and sent["Comment"] == "weekly scan"
    assert isinstance(sent["RequestedDateTime"], datetime)
    view = native(api, command_id)
    assert {i["node_id"] for i in view["invocations"]} == {a.id, b.id}
    audit = next(e for e in api.ok("GET", "/api/v1/audit") if e["action"] == "command.send")
    assert audit["actor"] == "token:aws-operator" and audit["target"] == command_id

    pending = invocations(ssm, command_id)
    assert {(i["InstanceId"], i["Status"]) for i in pending} == {
        (a.id, "Pending"),
        (b.id, "Pending"),
    }
    with pytest.raises(ClientError) as absent:
        ssm.get_command_invocation(CommandId=command_id, InstanceId=other.id)
    assert code_of(absent) == "InvocationDoesNotExist"

    answer(a, report=scan_report())
    answer(b, "Failed")
    detailed = invocations(ssm, command_id, Details=True)
    view = native(api, command_id)
    assert [(i["InstanceId"], i["Status"], i["StatusDetails"]) for i in detailed] == [
        (i["node_id"], i["status"], i["status_details"]) for i in view["invocations"]
    ]
    by_node = {i["InstanceId"]: i for i in detailed}
    (plugin,) = by_node[a.id]["CommandPlugins"]
    assert plugin["Name"] == "PatchLinux" and plugin["Status"] == "Success"
    assert plugin["Output"] == f"Success on {a.id}"
    assert isinstance(plugin["ResponseFinishDateTime"], datetime)
    assert by_node[b.id]["CommandPlugins"][0]["Status"] == "Failed"
    assert invocations(ssm, command_id)[0]["CommandPlugins"] == []  # without Details

    (listed,) = ssm.list_commands(CommandId=command_id)["Commands"]
    assert (listed["CompletedCount"], listed["ErrorCount"]) == (
        view["completed_count"],
        view["error_count"],
    )
    # one error of two allowed (MaxErrors 1): Patchwarden's Incomplete, which AWS's
    # Status enum names Failed (its StatusDetails say Incomplete)
    assert view["status"] == "Incomplete"
    assert (listed["Status"], listed["StatusDetails"]) == ("Failed", "Incomplete")
    got = ssm.get_command_invocation(CommandId=command_id, InstanceId=a.id)
    assert got["Status"] == "Success" and got["PluginName"] == "PatchLinux"
    assert got["StandardOutputContent"] == f"Success on {a.id}"
    assert got["ExecutionStartDateTime"].endswith("Z") and got["ExecutionElapsedTime"]
    on_a = ssm.list_commands(InstanceId=other.id)["Commands"]
    assert on_a == []
    assert [c["CommandId"] for c in ssm.list_commands(InstanceId=a.id)["Commands"]] == [command_id]


def test_documents_arns_filters_and_statuses(api: Api, ssm: Any) -> None:
    node = api.register()
    arn = "arn:aws:ssm:eu-west-3::document/AWS-RunPatchBaseline"
    first = ssm.send_command(DocumentName=arn, Parameters=SCAN, InstanceIds=[node.id])["Command"]
    assert first["DocumentName"] == "AWS-RunPatchBaseline"
    api.clock.advance(60)
    install = {"Operation": ["Install"], "RebootOption": ["NoReboot"]}
    second = ssm.send_command(
        DocumentName="AWS-RunPatchBaseline", Parameters=install, InstanceIds=[node.id]
    )["Command"]
    assert second["Parameters"]["RebootOption"] == ["NoReboot"]
    listed = [c["CommandId"] for c in ssm.list_commands()["Commands"]]
    assert listed == [second["CommandId"], first["CommandId"]]  # newest first
    assert listed == [c["command_id"] for c in api.ok("GET", "/api/v1/commands")]

    delivered = {i["command_id"]: i for i in node.poll()}
    failed = node.report(delivered[first["CommandId"]]["invocation_id"], "Failed")
    assert failed.status_code == 200
    after = (api.clock.current - timedelta(seconds=30)).isoformat()

    def ids(*filters: tuple[str, str]) -> list[str]:
        chosen = [{"key": k, "value": v} for k, v in filters]
        return [c["CommandId"] for c in ssm.list_commands(Filters=chosen)["Commands"]]

    assert ids(("InvokedAfter", after)) == [second["CommandId"]]
    assert ids(("InvokedBefore", after)) == [first["CommandId"]]
    assert ids(("Status", "Failed")) == [first["CommandId"]]
    assert ids(("Status", "InProgress")) == [second["CommandId"]]  # delivered
    assert ids(("ExecutionStage", "Executing")) == [second["CommandId"]]
    assert ids(("ExecutionStage", "Complete")) == [first["CommandId"]]
    assert ids(("DocumentName", "AWS-UpdateSSMAgent")) == []
    with pytest.raises(ClientError) as key:
        ssm.list_commands(Filters=[{"key": "Colour", "value": "x"}])
    assert code_of(key) == "InvalidFilterKey"
    on_node = ssm.list_command_invocations(InstanceId=node.id)["CommandInvocations"]
    assert [(i["CommandId"], i["Status"]) for i in on_node] == [
        (second["CommandId"], "InProgress"),
        (first["CommandId"], "Failed"),
    ]


def test_a_paginator_over_a_command_to_sixty_one_nodes(api: Api, ssm: Any) -> None:
    activation = api.activation(registration_limit=61)
    nodes = [api.register(activation, tags={"Patch Group": "web"}) for _ in range(61)]
    sent = ssm.send_command(
        DocumentName="AWS-RunPatchBaseline",
        Parameters=SCAN,
        Targets=[{"Key": "InstanceIds", "Values": ["*"]}],
    )["Command"]
    assert sent["TargetCount"] == 61
    pages = list(
        ssm.get_paginator("list_command_invocations").paginate(
            CommandId=sent["CommandId"], PaginationConfig={"PageSize": 25}
        )
    )
    assert [len(p["CommandInvocations"]) for p in pages] == [25, 25, 11]
    listed = [i["InstanceId"] for p in pages for i in p["CommandInvocations"]]
    assert listed == [i["node_id"] for i in native(api, sent["CommandId"])["invocations"]]
    assert set(listed) == {n.id for n in nodes}
    with pytest.raises(ClientError) as token:
        ssm.list_command_invocations(CommandId=sent["CommandId"], NextToken="nope")
    assert code_of(token) == "InvalidNextToken"


def test_cancel_a_running_command(api: Api, ssm: Any) -> None:
    a, b = api.register(), api.register()
    sent = ssm.send_command(
        DocumentName="AWS-RunPatchBaseline",
        Parameters=SCAN,
        InstanceIds=[a.id, b.id],
        MaxConcurrency="1",
    )["Command"]
    command_id = sent["CommandId"]
    running = next(n for n in (a, b) if n.poll())
    for _ in range(2):  # a second cancel changes nothing
        cancelled = ssm.cancel_command(CommandId=command_id)
        assert set(cancelled) == {"ResponseMetadata"}  # an empty result
    (cancelling,) = ssm.list_commands(CommandId=command_id)["Commands"]
    assert cancelling["Status"] == "Cancelling"
    answer(running)
    (done,) = ssm.list_commands(CommandId=command_id)["Commands"]
    assert done["Status"] == "Cancelled"
    statuses = sorted(i["Status"] for i in invocations(ssm, command_id))
    assert statuses == ["Cancelled", "Success"]
    actions = [e["action"] for e in api.ok("GET", "/api/v1/audit")]
    assert actions.count("command.cancel") == 1
    with pytest.raises(ClientError) as some:
        ssm.cancel_command(CommandId=command_id, InstanceIds=[a.id])
    assert code_of(some) == "ValidationException"


def test_timeouts_show_in_the_lists_as_in_the_native_view(api: Api, ssm: Any) -> None:
    node = api.register()
    sent = ssm.send_command(
        DocumentName="AWS-RunPatchBaseline",
        Parameters=SCAN,
        InstanceIds=[node.id],
        TimeoutSeconds=30,
    )["Command"]
    api.clock.advance(60)  # never delivered within TimeoutSeconds
    (inv,) = invocations(ssm, sent["CommandId"], Details=True)
    assert (inv["Status"], inv["StatusDetails"]) == ("TimedOut", "Delivery Timed Out")
    assert inv["CommandPlugins"][0]["ResponseCode"] == -1
    view = native(api, sent["CommandId"])
    (listed,) = ssm.list_commands(CommandId=sent["CommandId"])["Commands"]
    assert (listed["Status"], listed["DeliveryTimedOutCount"]) == (view["status"], 1)


# -- refusals ------------------------------------------------------------------------------


def test_refusals_have_the_models_error_types(api: Api, ssm: Any) -> None:
    node = api.register()
    ids = [node.id]

    def refused(**kw: Any) -> str:
        kw.setdefault("DocumentName", "AWS-RunPatchBaseline")
        kw.setdefault("Parameters", SCAN)
        with pytest.raises(ClientError) as error:
            ssm.send_command(**kw)
        return code_of(error)

    assert refused(InstanceIds=ids, MaxConcurrency="0") == "ValidationException"
    assert refused(InstanceIds=ids, MaxErrors="-1") == "ValidationException"
    assert refused(InstanceIds=ids, Targets=WEB) == "ValidationException"
    assert refused() == "ValidationException"  # neither InstanceIds nor Targets
    assert refused(InstanceIds=ids, DocumentName="AWS-RunShellScript") == "InvalidDocument"
    assert refused(InstanceIds=ids, Parameters={"Operation": ["Delete"]}) == "InvalidParameters"
    assert refused(InstanceIds=ids, Parameters={}) == "InvalidParameters"
    bad_snapshot = {"Operation": ["Scan"], "SnapshotId": ["nope"]}
    assert refused(InstanceIds=ids, Parameters=bad_snapshot) == "InvalidParameters"
    url = {"Operation": ["Install"], "InstallOverrideList": ["https://example.com/o.yaml"]}
    assert refused(InstanceIds=ids, Parameters=url) == "InvalidParameters"
    assert refused(InstanceIds=["mi-0123456789abcdef0"]) == "InvalidInstanceId"
    agent = {"version": ["99.0.0"]}
    assert (
        refused(InstanceIds=ids, DocumentName="AWS-UpdateSSMAgent", Parameters=agent)
        == "InvalidParameters"
    )
    assert api.ok("GET", "/api/v1/commands") == []  # nothing was sent

    unknown = str(uuid.uuid4())
    for call in (
        lambda: ssm.list_commands(CommandId=unknown),
        lambda: ssm.list_command_invocations(CommandId=unknown),
        lambda: ssm.cancel_command(CommandId=unknown),
    ):
        with pytest.raises(ClientError) as missing:
            call()
        assert code_of(missing) == "InvalidCommandId"

    key, secret = keys(api, "aws-viewer", "viewer")
    viewer = ssm_client(api, key, secret)
    with pytest.raises(ClientError) as weak:
        viewer.send_command(DocumentName="AWS-RunPatchBaseline", Parameters=SCAN, InstanceIds=ids)
    assert code_of(weak) == "AccessDeniedException"
    assert viewer.list_commands()["Commands"] == []


def test_install_override_list_as_json_text(api: Api, ssm: Any) -> None:
    node = api.register()
    override = '{"patches": [{"id": "bar.all", "title": "bar.all:2.1*"}]}'
    params = {
        "Operation": ["Install"],
        "RebootOption": ["NoReboot"],
        "InstallOverrideList": [override],
    }
    sent = ssm.send_command(
        DocumentName="AWS-RunPatchBaseline", Parameters=params, InstanceIds=[node.id]
    )["Command"]
    (delivery,) = node.poll()
    assert delivery["parameters"]["InstallOverrideList"] == [
        {"id": "bar.all", "title": "bar.all:2.1*"}
    ]
    shown = sent["Parameters"]["InstallOverrideList"]
    assert shown == ['[{"id":"bar.all","title":"bar.all:2.1*"}]']


# -- the AWS CLI against a live server -------------------------------------------------------


def test_the_aws_cli_sends_and_lists_invocations(tmp_path: Path) -> None:
    with live_server(tmp_path) as (base, admin):
        auth = {"Authorization": f"Bearer {admin}"}
        made = httpx.post(
            f"{base}/api/v1/tokens",
            headers=auth,
            json={"name": "aws-cli", "role": "operator", "aws_keys": True},
        ).json()
        key, secret = made["aws_access_key_id"], made["aws_secret_access_key"]
        activation = httpx.post(
            f"{base}/api/v1/activations", headers=auth, json={"registration_limit": 1}
        ).json()
        registered = httpx.post(
            f"{base}/api/v1/register",
            json={
                "activation_id": activation["activation_id"],
                "activation_code": activation["activation_code"],
                "tags": {"Patch Group": "web"},
                "facts": DEBIAN_FACTS,
                "name": "",
            },
        ).json()
        node_auth = {"Authorization": f"Bearer {registered['credential']}"}

        sent = aws_cli(
            base,
            key,
            secret,
            *("send-command", "--document-name", "AWS-RunPatchBaseline"),
            *("--parameters", "Operation=Scan"),
            *("--targets", "Key=tag:Patch Group,Values=web"),
        )["Command"]
        assert sent["Status"] == "Pending" and sent["TargetCount"] == 1
        polled = httpx.get(f"{base}/api/v1/agent/commands", headers=node_auth).json()
        (inv,) = polled["invocations"]
        reported = httpx.post(
            f"{base}/api/v1/agent/invocations/{inv['invocation_id']}",
            headers=node_auth,
            json={"status": "Success", "response_code": 0, "output": "scanned"},
        )
        assert reported.status_code == 200, reported.text
        listed = aws_cli(
            base,
            key,
            secret,
            *("list-command-invocations", "--command-id", sent["CommandId"], "--details"),
        )["CommandInvocations"]
        (one,) = listed
        assert one["InstanceId"] == registered["node_id"] and one["Status"] == "Success"
        (plugin,) = one["CommandPlugins"]
        assert (plugin["Name"], plugin["ResponseCode"], plugin["Output"]) == (
            "PatchLinux",
            0,
            "scanned",
        )
