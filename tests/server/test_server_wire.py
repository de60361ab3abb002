"""The agent's typed client (``agent.client.NodeApi`` over ``wire``) against the real server
app, and an agent of the previous version (its JSON as it was) against the same app."""

from __future__ import annotations

from typing import Any

from fleet_helpers import DEBIAN_FACTS, Api, scan_report

from patchwarden import wire
from patchwarden.agent.client import NodeApi, Refused
from patchwarden.agent.upload import Uploader
from patchwarden.core.model import InstalledPackage, Inventory, OsInfo, Package


def node_api(api: Api, credential: str = "") -> NodeApi:
    """The agent's client, its requests handed to the app in-process (no network)."""
    return NodeApi("http://testserver", credential, transport=api.client._transport)


def inventory(*names: str) -> Inventory:
    os_info = OsInfo("debian", "12", "bookworm", "Debian 12", "debian", "DEBIAN", "Debian12")
    installed = tuple(InstalledPackage(Package(n, "amd64", "1.0-1")) for n in names)
    return Inventory(os_info, "web1", "/", "deb", installed, ())


def test_the_agent_client_registers_uploads_polls_and_reports(api: Api, tmp_path: Any) -> None:
    act = api.activation(registration_limit=1)
    facts = wire.NodeFacts(**DEBIAN_FACTS)
    answer = node_api(api).register(
        wire.Registration(act["activation_id"], act["activation_code"], facts, {"Env": "prod"})
    )
    assert answer.node_id.startswith("mi-") and answer.tags == {"Env": "prod"}
    client = node_api(api, answer.credential)

    uploader = Uploader(client, tmp_path / "inventory.json", lambda: facts)
    first = uploader.upload(inventory("bash", "curl"))
    assert (first.installed_count, first.update_count) == (2, 0)
    second = uploader.upload(inventory("bash", "curl", "jq"))  # a delta on what it holds
    assert second.installed_count == 3

    sent = api.ok(
        "POST",
        "/api/v1/commands",
        json={
            "DocumentName": "AWS-RunPatchBaseline",
            "Parameters": {"Operation": "Scan"},
            "InstanceIds": [answer.node_id],
        },
    )
    (delivery,) = client.poll(0)
    assert delivery.command_id == sent["command_id"] and delivery.operation == "Scan"
    assert delivery.baseline is not None
    ack = client.report(
        delivery.invocation_id, wire.InvocationResult("Success", 0, "done", scan_report())
    )
    assert ack.accepted and ack.status == "Success"
    shown = api.ok("GET", f"/api/v1/compliance/{answer.node_id}")
    assert shown["compliance"] == "NON_COMPLIANT"

    rotated = client.rotate()
    assert rotated.node_id == answer.node_id and rotated.credential != answer.credential
    try:
        client.poll(0)  # the old credential stopped working
    except Refused as exc:
        assert exc.status == 401
    else:
        raise AssertionError("the rotated-away credential still works")


def test_an_agent_of_the_previous_version_still_works(api: Api) -> None:
    """Its bodies, written out as it sent them (no ``family``, ``candidate_version`` or
    ``deferred_version`` in its reports)."""
    node = api.register(tags={"Env": "old"})
    items = [{"kind": "installed", "name": "bash", "arch": "amd64", "version": "5.2-1"}]
    hashes = [wire.item_hash(i) for i in items]
    full = {
        "facts": DEBIAN_FACTS,
        "items": items,
        "content_hash": wire.content_hash(hashes),
        "collected_at": None,
    }
    assert node.call("PUT", "/api/v1/agent/inventory", json=full).status_code == 200
    api.ok(
        "POST",
        "/api/v1/commands",
        json={
            "DocumentName": "AWS-RunPatchBaseline",
            "Parameters": {"Operation": "Scan"},
            "InstanceIds": [node.id],
        },
    )
    (inv,) = node.poll()
    report = scan_report()
    del report["node"]["os"]["family"]
    for patch in report["patches"]:
        del patch["candidate_version"], patch["deferred_version"]
    assert node.report(inv["invocation_id"], report=report).status_code == 200
    assert api.ok("GET", f"/api/v1/compliance/{node.id}")["compliance"] == "NON_COMPLIANT"


def test_a_malformed_report_is_refused_naming_the_field(api: Api) -> None:
    """The server reads a report into its ``Report`` type: a wrong field is a 400 that says
    which, and nothing of the result is stored."""
    node = api.register()
    api.ok(
        "POST",
        "/api/v1/commands",
        json={
            "DocumentName": "AWS-RunPatchBaseline",
            "Parameters": {"Operation": "Scan"},
            "InstanceIds": [node.id],
        },
    )
    (inv,) = node.poll()
    report = scan_report()
    report["patches"][0]["state"] = "LOST"
    answer = node.report(inv["invocation_id"], report=report)
    assert answer.status_code == 400, answer.text
    message = answer.json()["error"]["message"]
    assert message.startswith("report.patches[0].state: must be one of"), message
    shown = api.ok("GET", f"/api/v1/commands/{inv['command_id']}/invocations/{node.id}")
    assert shown["status"] != "Success"  # the result was not recorded half-way
