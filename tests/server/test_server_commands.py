"""RunPatchBaseline commands over the API: targets, rate control, timeouts, cancel,
baseline resolution, and node isolation."""

from __future__ import annotations

from typing import Any

from fleet_helpers import Api, Node, error_of, scan_report
from test_server_baselines import document

INSTALL = {"Operation": "Install", "RebootOption": "NoReboot"}


def command(api: Api, command_id: str) -> dict[str, Any]:
    found: dict[str, Any] = api.ok("GET", f"/api/v1/commands/{command_id}")
    return found


def test_targets_by_tags_patch_group_and_ids(api: Api) -> None:
    web = api.register(tags={"Env": "prod", "Patch Group": "web"})
    db = api.register(tags={"Env": "prod", "PatchGroup": "db"})
    stage = api.register(tags={"Env": "stage", "Patch Group": "web"})
    op = api.token("operator")

    def targets(**body: Any) -> set[str]:
        r = api.send(op, **body)
        assert r.status_code == 201, r.text
        return {i["node_id"] for i in command(api, r.json()["command_id"])["invocations"]}

    assert targets(Targets=[{"Key": "tag:Env", "Values": ["prod"]}]) == {web.id, db.id}
    both = [{"Key": "tag:Env", "Values": ["prod"]}, {"Key": "tag:Patch Group", "Values": ["web"]}]
    assert targets(Targets=both) == {web.id}
    assert targets(Targets=[{"Key": "PatchGroup", "Values": ["web", "db"]}]) == {
        web.id,
        db.id,
        stage.id,
    }
    assert targets(InstanceIds=[stage.id]) == {stage.id}
    assert targets(Targets=[{"Key": "InstanceIds", "Values": ["*"]}]) == {web.id, db.id, stage.id}
    empty = api.send(op, Targets=[{"Key": "tag:Env", "Values": ["none"]}]).json()
    assert (empty["status"], empty["status_details"]) == ("Failed", "No Instances In Tag")


def test_scan_round_trip_stores_compliance_and_fleet_summary(api: Api) -> None:
    a = api.register(tags={"Patch Group": "web"})
    b = api.register(tags={"Patch Group": "web"})
    c = api.register(tags={"Patch Group": "db"})
    sent = api.send(Targets=[{"Key": "InstanceIds", "Values": ["*"]}]).json()
    assert sent["status"] == "Pending" and sent["target_count"] == 3
    for node, report in ((a, scan_report()), (b, scan_report("COMPLIANT", 0)), (c, None)):
        (inv,) = node.poll()
        assert inv["parameters"]["Operation"] == "Scan"
        assert inv["baseline"]["metadata"]["name"] == "AWS-DebianDefaultPatchBaseline"
        assert node.report(inv["invocation_id"], report=report).status_code == 200
    done = command(api, sent["command_id"])
    assert (done["status"], done["completed_count"]) == ("Success", 3)
    shown = api.ok("GET", f"/api/v1/compliance/{a.id}")
    assert shown["compliance"] == "NON_COMPLIANT" and shown["patches"][0]["state"] == "MISSING"
    summary = api.ok("GET", "/api/v1/compliance/summary", params={"by": "patch_group"})
    assert summary["total"] == {"COMPLIANT": 1, "NON_COMPLIANT": 1, "UNREPORTED": 1, "nodes": 3}
    web = next(g for g in summary["groups"] if g["key"] == "web")
    assert (web["COMPLIANT"], web["NON_COMPLIANT"]) == (1, 1)
    by_os = api.ok("GET", "/api/v1/compliance/summary", params={"by": "operating_system"})
    assert by_os["groups"][0]["key"] == "DEBIAN"
    by_sev = api.ok("GET", "/api/v1/compliance/summary", params={"by": "severity"})
    assert {g["key"] for g in by_sev["groups"]} == {None, "INFORMATIONAL"}  # the AWS floor
    non = api.ok("GET", "/api/v1/compliance", params={"compliance": "NON_COMPLIANT"})
    assert [n["node_id"] for n in non] == [a.id]
    output = api.ok("GET", f"/api/v1/commands/{sent['command_id']}/invocations/{a.id}")
    assert output["output"] == f"Success on {a.id}"


def test_node_cannot_read_or_report_another_nodes_invocations(api: Api) -> None:
    a, b = api.register(), api.register()
    api.send(InstanceIds=[a.id])
    assert b.poll() == []
    (inv,) = a.poll()
    stolen = b.report(inv["invocation_id"], report=scan_report())
    assert error_of(stolen) == (403, "forbidden")
    assert error_of(b.call("GET", f"/api/v1/compliance/{a.id}")) == (403, "forbidden")


def test_max_concurrency_and_max_errors_stop_dispatch(api: Api) -> None:
    nodes = [api.register() for _ in range(4)]
    sent = api.send(InstanceIds=[n.id for n in nodes], MaxConcurrency="1", MaxErrors="0").json()
    first = [n for n in nodes if n.poll()]
    assert len(first) == 1  # concurrency 1: one at a time
    assert all(n.poll() == [] for n in nodes if n is not first[0])
    (inv,) = first[0].poll()  # redelivered until reported
    first[0].report(inv["invocation_id"], status="Failed")
    assert all(n.poll() == [] for n in nodes)  # the first error stops dispatch
    done = command(api, sent["command_id"])
    assert (done["status"], done["error_count"]) == ("Failed", 1)
    statuses = sorted((i["status"], i["status_details"]) for i in done["invocations"])
    assert statuses == [("Cancelled", "Terminated")] * 3 + [("Failed", "Failed")]


def test_percentages_and_incomplete(api: Api) -> None:
    nodes = [api.register() for _ in range(4)]
    sent = api.send(InstanceIds=[n.id for n in nodes], MaxConcurrency="50%", MaxErrors="25%")
    cmd_id = sent.json()["command_id"]

    def poll_all() -> list[tuple[Node, dict[str, Any]]]:
        return [(n, inv) for n in nodes for inv in n.poll()]

    first = poll_all()
    assert len(first) == 1  # slow start: one node first
    first[0][0].report(first[0][1]["invocation_id"], status="Failed")  # 1 of 1 allowed
    delivered = poll_all()
    assert len(delivered) == 2  # then two more: 50% of 4 at most
    for n, inv in delivered:
        n.report(inv["invocation_id"])
    for n in nodes:
        for inv in n.poll():
            n.report(inv["invocation_id"])
    done = command(api, cmd_id)
    assert (done["status"], done["completed_count"]) == ("Incomplete", 4)


def test_delivery_and_execution_timeouts(api: Api) -> None:
    a, b = api.register(), api.register()
    sent = api.send(InstanceIds=[a.id, b.id], TimeoutSeconds=60, ExecutionTimeoutSeconds=120).json()
    assert len(a.poll()) == 1
    api.clock.advance(60)
    assert b.poll() == []  # never delivered within TimeoutSeconds
    api.clock.advance(60)
    done = command(api, sent["command_id"])
    by_node = {i["node_id"]: i["status_details"] for i in done["invocations"]}
    assert by_node == {a.id: "Execution Timed Out", b.id: "Delivery Timed Out"}
    assert done["status"] == "TimedOut" and done["error_count"] == 1
    a_inv = next(i for i in done["invocations"] if i["node_id"] == a.id)
    late = a.report(a_inv["invocation_id"]).json()
    assert late["accepted"] is False and late["status"] == "TimedOut"


def test_cancel(api: Api) -> None:
    a, b = api.register(), api.register()
    sent = api.send(InstanceIds=[a.id, b.id], MaxConcurrency="1").json()
    running = next(n for n in (a, b) if n.poll())
    viewer = api.token("viewer")
    denied = api.call("POST", f"/api/v1/commands/{sent['command_id']}/cancel", viewer)
    assert error_of(denied) == (403, "forbidden")
    cancelling = api.ok("POST", f"/api/v1/commands/{sent['command_id']}/cancel")
    assert cancelling["status"] == "Cancelling"
    (inv,) = running.poll()
    running.report(inv["invocation_id"])
    done = command(api, sent["command_id"])
    assert done["status"] == "Cancelled"
    assert sorted(i["status"] for i in done["invocations"]) == ["Cancelled", "Success"]


def test_baseline_resolution_override_group_default(api: Api) -> None:
    api.ok("PUT", "/api/v1/baselines/web-baseline", json=document("web-baseline"))
    api.ok("PUT", "/api/v1/baselines/house-default", json=document("house-default"))
    api.ok("POST", "/api/v1/patch-groups", json={"patch_group": "web", "baseline": "web-baseline"})
    grouped = api.register(tags={"Patch Group": "web"})
    other = api.register(tags={"Patch Group": "unregistered"})

    def baseline_for(node: Node, **params: Any) -> tuple[str, str]:
        api.send(InstanceIds=[node.id], Parameters={"Operation": "Scan", **params})
        (inv,) = node.poll()
        node.report(inv["invocation_id"])
        return inv["baseline"]["metadata"]["name"], inv["baseline_source"]

    assert baseline_for(grouped) == ("web-baseline", "PatchGroup:web")
    assert baseline_for(other) == ("AWS-DebianDefaultPatchBaseline", "PredefinedDefault")
    api.ok("PUT", "/api/v1/default-baselines/DEBIAN", json={"baseline": "house-default"})
    assert baseline_for(other) == ("house-default", "DefaultBaseline")
    override = {"BaselineOverride": [document("override-baseline")]}
    assert baseline_for(grouped, **override) == ("override-baseline", "BaselineOverride")
    by_name = {"BaselineOverride": ["house-default"]}
    assert baseline_for(grouped, **by_name) == ("house-default", "BaselineOverride")


def test_snapshot_pins_the_baseline_at_send_time(api: Api) -> None:
    api.ok("PUT", "/api/v1/baselines/house-default", json=document("house-default"))
    node = api.register()
    snap = "0f2e7b4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
    api.send(InstanceIds=[node.id], Parameters={"Operation": "Scan", "SnapshotId": snap})
    api.ok("PUT", "/api/v1/default-baselines/DEBIAN", json={"baseline": "house-default"})
    (inv,) = node.poll()
    assert inv["baseline"]["metadata"]["name"] == "AWS-DebianDefaultPatchBaseline"
    assert inv["parameters"]["SnapshotId"] == snap


def test_bad_commands_are_400(api: Api) -> None:
    node = api.register()
    ids = [node.id]
    cases: list[dict[str, Any]] = [
        {"InstanceIds": ids, "Parameters": {"Operation": "Delete"}},
        {"InstanceIds": ids, "Parameters": {}},
        {"InstanceIds": ids, "Parameters": {"Operation": "Scan", "SnapshotId": "nope"}},
        {"InstanceIds": ids, "Parameters": {"Operation": "Scan", "RebootOption": "Always"}},
        {
            "InstanceIds": ids,
            "Parameters": {
                "Operation": "Install",
                "InstallOverrideList": [{"id": "bar.all"}],
                "BaselineOverride": [document("o-baseline")],
            },
        },
        {"InstanceIds": ids, "MaxConcurrency": "0"},
        {"InstanceIds": ids, "MaxErrors": "-1"},
        {"InstanceIds": ids, "TimeoutSeconds": 5},
        {"Parameters": {"Operation": "Scan"}},
        {"InstanceIds": ids, "Targets": [{"Key": "tag:a", "Values": ["b"]}]},
        {"Targets": [{"Key": "bogus", "Values": ["b"]}]},
        {"InstanceIds": ids, "Surprise": True},
        {"InstanceIds": ids, "Parameters": {"Operation": "Scan", "BaselineOverride": ["nope"]}},
    ]
    for body in cases:
        body.setdefault("Parameters", {"Operation": "Scan"})
        r = api.call("POST", "/api/v1/commands", json=body)
        assert r.status_code in (400, 404), (body, r.text)
        error_of(r)
    both = api.call("POST", "/api/v1/commands", json=cases[4])
    assert "BaselineOverride cannot be combined" in both.json()["error"]["message"]
    assert api.ok("GET", "/api/v1/commands") == []


def test_aws_list_parameters_and_install_override(api: Api) -> None:
    node = api.register()
    body = {
        "InstanceIds": [node.id],
        "Parameters": {
            "Operation": ["Install"],
            "RebootOption": ["NoReboot"],
            "InstallOverrideList": {"patches": [{"id": "bar.all", "title": "bar.all:2.1*"}]},
        },
    }
    assert api.call("POST", "/api/v1/commands", json=body).status_code == 201
    (inv,) = node.poll()
    assert inv["parameters"]["Operation"] == "Install"
    assert inv["parameters"]["InstallOverrideList"] == [{"id": "bar.all", "title": "bar.all:2.1*"}]


def test_ramp_up_one_node_first_then_two_then_more(api: Api) -> None:
    nodes = [api.register() for _ in range(6)]
    sent = api.send(InstanceIds=[n.id for n in nodes], MaxConcurrency="50", MaxErrors="0")
    cmd_id = sent.json()["command_id"]
    waves: list[int] = []
    while True:
        delivered = [(n, inv) for n in nodes for inv in n.poll()]
        if not delivered:
            break
        again = {inv["invocation_id"] for n in nodes for inv in n.poll()}
        assert again == {inv["invocation_id"] for _, inv in delivered}  # none new until answers
        waves.append(len(delivered))
        for n, inv in delivered:
            n.report(inv["invocation_id"])
    assert waves == [1, 2, 3]  # 1, then 2 more, then up to 4 (3 left)
    assert command(api, cmd_id)["status"] == "Success"
