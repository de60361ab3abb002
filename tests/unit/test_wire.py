"""The agent↔server protocol (``patchwarden.wire``) and reports read back from JSON."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_render_sarif import sample_report

from patchwarden import wire
from patchwarden.errors import InputError
from patchwarden.render.json import report_dict
from patchwarden.render.json_decode import report_from_dict
from patchwarden.server import schemas

WIRE = Path(wire.__file__)
PYENV = Path("/root/.pyenv/versions")


def test_records_round_trip_and_ignore_fields_a_newer_peer_adds() -> None:
    delivery = wire.Delivery(
        "i-1", "c-1", "AWS-RunPatchBaseline", {"Operation": "Install"}, {"kind": "x"}, "group", 60
    )
    assert wire.Delivery.from_json({**delivery.to_json(), "future": 1}) == delivery
    assert delivery.operation == "Install"
    result = wire.InvocationResult("Failed", 1, "out", {"compliance": "COMPLIANT"})
    assert wire.InvocationResult.from_json(result.to_json()) == result
    assert "report" not in wire.InvocationResult("Success").to_json()
    facts = wire.NodeFacts("web-1", "debian", "12", "DEBIAN", "Debian12", "0.1.0")
    reg = wire.Registration("a", "b", facts, {"Env": "prod"}, "web")
    assert wire.Registration.from_json(reg.to_json()) == reg
    assert wire.Credential.from_json({"node_id": "mi-1", "credential": "mi-1.s"}).tags is None
    item = wire.InventoryItem("update", "bash", "amd64", "5.2-1")
    assert wire.InventoryItem.from_json(item.to_json()) == item


@pytest.mark.parametrize(
    ("read", "raw", "message"),
    [
        (wire.Delivery.from_json, [], "invocation: must be an object, got list"),
        (wire.Delivery.from_json, {"command_id": "c"}, "invocation.invocation_id: required"),
        (
            wire.Delivery.from_json,
            {"invocation_id": "i", "command_id": "c", "document_name": "d", "parameters": []},
            "invocation.parameters: must be an object, got list",
        ),
        (wire.InvocationResult.from_json, {"status": "Bogus"}, "result.status: must be one of"),
        (
            wire.InvocationResult.from_json,
            {"status": "Success", "response_code": True},
            "result.response_code: must be an integer, got boolean",
        ),
        (wire.deliveries, {"invocations": [{"x": 1}]}, "poll.invocations[0].invocation_id"),
        (
            wire.Registration.from_json,
            {"activation_id": "a", "activation_code": "b", "tags": {"k": 1}},
            "registration.tags.k: must be a string, got integer",
        ),
        (wire.InventoryItem.from_json, {"kind": "other", "name": "x"}, "item.kind: must be"),
    ],
)
def test_malformed_bodies_name_the_field(read: Any, raw: Any, message: str) -> None:
    with pytest.raises(wire.WireError) as caught:
        read(raw)
    assert str(caught.value).startswith(message), str(caught.value)


def test_item_hashes_are_the_documented_ones() -> None:
    item = wire.InventoryItem("installed", "bash", "amd64", "5.2-1")
    canonical = json.dumps(
        ["installed", "bash", "amd64", "5.2-1", "", "", ""], separators=(",", ":")
    )
    import hashlib

    assert wire.item_hash(item._asdict()) == hashlib.sha256(canonical.encode()).hexdigest()[:32]
    assert wire.content_hash(["b", "a"]) == wire.content_hash(["a", "b"])


def test_notice_fields_count_only_when_set() -> None:
    """An rpm update carries its notices (severity, ids, CVEs); an item without them hashes
    and serialises as before they existed, so an older agent's inventory stays valid."""
    plain = wire.InventoryItem("update", "foo", "x86_64", "1.1-1")
    assert "cves" not in plain.to_json() and wire.item_hash(plain.to_json()) == wire.item_hash(
        plain._asdict()
    )
    noticed = plain._replace(severity="Critical", advisories="ALAS-1", cves="CVE-1 CVE-2")
    assert wire.item_hash(noticed._asdict()) != wire.item_hash(plain._asdict())
    assert wire.InventoryItem.from_json(noticed.to_json()) == noticed
    assert schemas.InventoryItem(**noticed.to_json()).cves == "CVE-1 CVE-2"
    with pytest.raises(ValueError, match="cves"):
        schemas.InventoryItem(**{**noticed.to_json(), "cves": "CVE-1;rm -rf"})


def test_server_request_models_have_the_wire_fields() -> None:
    """The server validates with pydantic (and documents in OpenAPI); the agent builds with
    ``wire``: the two must not drift apart."""
    pairs = [
        (schemas.NodeFacts, wire.NodeFacts),
        (schemas.InventoryItem, wire.InventoryItem),
        (schemas.FullInventory, wire.FullInventory),
        (schemas.DeltaInventory, wire.InventoryDelta),
        (schemas.FactFile, wire.FactFile),
        (schemas.RootFacts, wire.RootFacts),
        (schemas.BlobQuery, wire.BlobQuery),
        (schemas.PlannedPackage, wire.PlannedPackage),
        (schemas.BlockedPackage, wire.BlockedPackage),
        (schemas.InstallOrder, wire.InstallOrder),
        (schemas.PackageResult, wire.PackageResult),
        (schemas.EvaluateRequest, wire.EvaluateRequest),
    ]
    for model, record in pairs:
        assert set(model.model_fields) == set(record._fields), model.__name__
    full = wire.FullInventory("0" * 64, [], wire.NodeFacts())
    delta = wire.InventoryDelta("0" * 64, "1" * 64, [], [])
    assert set(full.to_json()) == set(wire.FullInventory._fields)
    assert set(delta.to_json()) == set(wire.InventoryDelta._fields)


@pytest.mark.parametrize("version", ["3.6", "3.7", "3.8", "3.9", "3.10"])
def test_the_wire_module_runs_on_old_node_pythons(version: str) -> None:
    """A node's own interpreter (RHEL 8: 3.6, Ubuntu 22.04: 3.10) imports it unchanged."""
    found = sorted(PYENV.glob(f"{version}.*/bin/python"))
    if not found:
        pytest.skip(f"no Python {version} interpreter under {PYENV}")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import wire, json\n"
        "d = wire.Delivery.from_json(json.loads(sys.argv[2]))\n"
        "print(json.dumps([d.operation, wire.item_hash({'kind': 'installed', 'name': 'x'})]))\n"
        "try:\n    wire.InvocationResult.from_json({'status': 'x'})\n"
        "except wire.WireError as e:\n    print(e)\n"
    )
    payload = json.dumps(
        {"invocation_id": "i", "command_id": "c", "document_name": "d", "parameters": {}}
    )
    out = subprocess.run(
        [str(found[-1]), "-c", code, str(WIRE.parent), payload],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    expected = wire.item_hash({"kind": "installed", "name": "x"})
    assert json.loads(out[0]) == ["Scan", expected]
    assert out[1].startswith("result.status: must be one of")


def test_a_report_reads_back_into_the_same_report() -> None:
    report = sample_report()
    again = report_from_dict(json.loads(json.dumps(report_dict(report))))
    assert again == report
    plain = replace(report, vulnerabilities=None)
    assert report_from_dict(report_dict(plain)) == plain


def test_a_report_without_family_takes_it_from_the_operating_system() -> None:
    data = report_dict(sample_report())
    del data["node"]["os"]["family"]
    assert report_from_dict(data).node.os.family == "debian"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(schema_version="2"), "report.schema_version: this server reads"),
        (lambda d: d["patches"][0].update(state="LOST"), "report.patches[0].state: must be"),
        (lambda d: d.update(generated_at="yesterday"), "report.generated_at: not an ISO 8601"),
        (lambda d: d.pop("node"), "report.node: required field is missing"),
        (lambda d: d["summary"].update(MISSING="2"), "report.summary.MISSING: must be an int"),
        (
            lambda d: d["vulnerabilities"][0].update(cvss_score="9"),
            "report.vulnerabilities[0].cvss_score: must be a number",
        ),
    ],
)
def test_a_malformed_report_is_one_input_error(change: Any, message: str) -> None:
    data = report_dict(sample_report())
    change(data)
    with pytest.raises(InputError) as caught:
        report_from_dict(data)
    assert str(caught.value).startswith(message), str(caught.value)
