"""Patch states and Patch compliance over ``/aws/ssm``: nodes answer a real
AWS-RunPatchBaseline Scan with reports the product itself judges and renders (the baseline
the server sent them, ``core.compliance.evaluate``, ``render.json.report_dict``), and every
count and patch boto3 (and the AWS CLI) reads equals what ``GET /api/v1/compliance/{id}``
shows; every answer parses against botocore's ``ssm`` model."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
import httpx  # noqa: E402
from aws_helpers import (  # noqa: E402
    aws_cli,
    code_of,
    isolate_aws_config,
    keys,
    live_server,
    ssm_client,
)
from botocore.exceptions import ClientError  # noqa: E402
from fleet_helpers import Api, FakeClock, Node  # noqa: E402

from patchwarden.core.compliance import evaluate  # noqa: E402
from patchwarden.core.model import (  # noqa: E402
    InstalledPackage,
    Inventory,
    Operation,
    OsInfo,
    Package,
)
from patchwarden.core.report import NodeFacts, Report  # noqa: E402
from patchwarden.pipeline.fleet.baseline_resolution import parse_baseline  # noqa: E402
from patchwarden.pipeline.inventory_items import inventory_items  # noqa: E402
from patchwarden.render.json import report_dict  # noqa: E402
from patchwarden.wire import content_hash, item_hash  # noqa: E402

DEBIAN = OsInfo("debian", "12", "bookworm", "Debian GNU/Linux 12", "debian", "DEBIAN", "Debian12")
BASELINE = {
    "Name": "web-critical",
    "OperatingSystem": "DEBIAN",
    "ApprovalRules": {
        "PatchRules": [
            {
                "PatchFilterGroup": {
                    "PatchFilters": [
                        {"Key": "PRODUCT", "Values": ["*"]},
                        {"Key": "PRIORITY", "Values": ["Required"]},
                    ]
                },
                "ComplianceLevel": "CRITICAL",
                "ApproveAfterDays": 0,
            },
            {
                "PatchFilterGroup": {
                    "PatchFilters": [
                        {"Key": "PRODUCT", "Values": ["*"]},
                        {"Key": "PRIORITY", "Values": ["Optional", "Standard"]},
                    ]
                },
                "ComplianceLevel": "MEDIUM",
                "ApproveAfterDays": 0,
            },
        ]
    },
    "RejectedPatches": ["telnet"],
    "RejectedPatchesAction": "BLOCK",
}
COUNTS = {
    "InstalledCount": "INSTALLED",
    "InstalledOtherCount": "INSTALLED_OTHER",
    "InstalledPendingRebootCount": "INSTALLED_PENDING_REBOOT",
    "InstalledRejectedCount": "INSTALLED_REJECTED",
    "MissingCount": "MISSING",
    "FailedCount": "FAILED",
    "NotApplicableCount": "NOT_APPLICABLE",
    "AvailableSecurityUpdateCount": "AVAILABLE_SECURITY_UPDATE",
    "CriticalNonCompliantCount": "critical_non_compliant",
    "SecurityNonCompliantCount": "security_non_compliant",
    "OtherNonCompliantCount": "other_non_compliant",
}


@pytest.fixture(autouse=True)
def _no_aws_config(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_aws_config(monkeypatch)


@pytest.fixture
def ssm(api: Api) -> Any:
    api.clock.current = datetime.now(UTC)  # SigV4 checks the date against the server's
    return ssm_client(api, *keys(api, "aws-viewer", "viewer"))


# -- nodes that answer a real Scan ----------------------------------------------------------


def inventory(hostname: str, missing: int, rejected: bool = False) -> Inventory:
    """A Debian 12 root: 3 packages up to date, ``missing`` with a security update (every
    other one of priority required, the others optional, each fixing a CVE), and telnet
    when ``rejected``."""

    def security(name: str, version: str, priority: str, cves: tuple[str, ...] = ()) -> Package:
        return Package(
            name,
            "amd64",
            version,
            update_notice=True,
            classification="Security",
            priority=priority,
            repository="bookworm-security",
            cve_ids=cves,
        )

    installed = [security(f"ok{i}", "1.0-1", "optional") for i in range(3)]
    installed += [Package(f"pkg{i:02}", "amd64", "1.0-1") for i in range(missing)]
    if rejected:
        installed.append(Package("telnet", "amd64", "0.17-44"))
    updates = [
        security(
            f"pkg{i:02}",
            "1.0-1+deb12u1",
            "required" if i % 2 == 0 else "optional",
            (f"CVE-2026-{1000 + i}",),
        )
        for i in range(missing)
    ]
    return Inventory(
        DEBIAN,
        hostname,
        "/",
        "deb",
        tuple(InstalledPackage(p) for p in installed),
        tuple(updates),
    )


def scan(api: Api, nodes: list[tuple[Node, Inventory]], operator: str) -> str:
    """A Scan of ``nodes``, each answering with the report of its inventory judged by the
    baseline the server sent it; the command id."""
    ids = [n.id for n, _ in nodes]
    sent = api.ok(
        "POST",
        "/api/v1/commands",
        operator,
        json={"InstanceIds": ids, "Parameters": {"Operation": "Scan"}},
    )
    for node, facts in nodes:
        (invocation,) = node.poll()
        assert invocation["parameters"]["Operation"] == "Scan"
        baseline = parse_baseline(invocation["baseline"]).baseline
        at = api.clock.now()
        result = evaluate(facts, baseline, at)
        report = Report(
            NodeFacts(facts.hostname, "/", DEBIAN),
            baseline.name,
            Operation.SCAN,
            at,
            result.items,
            result.summary,
        )
        answered = node.report(invocation["invocation_id"], report=report_dict(report))
        assert answered.status_code == 200, answered.text
    command_id: str = sent["command_id"]
    return command_id


def upload(node: Node, facts: Inventory) -> None:
    items = [i.to_json() for i in inventory_items(facts)]
    body = {"items": items, "content_hash": content_hash(item_hash(i) for i in items)}
    assert node.call("PUT", "/api/v1/agent/inventory", json=body).status_code == 200


def kb(patch: dict[str, Any]) -> str:
    return f"{patch['name']}.{patch['arch']}" if patch["arch"] else str(patch["name"])


@pytest.fixture
def fleet(api: Api, ssm: Any) -> dict[str, Any]:
    """web1 (group web, the web-critical baseline: 25 missing, telnet rejected), web2
    (group web, compliant), db1 (group db, the predefined Debian baseline, 1 missing); all
    scanned and their inventories uploaded."""
    operator = api.token("operator")
    op = ssm_client(api, *keys(api, "aws-operator", "operator"))
    baseline_id = op.create_patch_baseline(**BASELINE)["BaselineId"]
    op.register_patch_baseline_for_patch_group(BaselineId=baseline_id, PatchGroup="web")
    web1 = api.register(tags={"Patch Group": "web"}, name="web1")
    web2 = api.register(tags={"Patch Group": "web"}, name="web2")
    db1 = api.register(tags={"PatchGroup": "db"}, name="db1")
    facts = [
        (web1, inventory("web1", 25, rejected=True)),
        (web2, inventory("web2", 0)),
        (db1, inventory("db1", 1)),
    ]
    command_id = scan(api, facts, operator)
    for node, f in facts:
        upload(node, f)
    return {
        "web1": web1,
        "web2": web2,
        "db1": db1,
        "baseline_id": baseline_id,
        "command_id": command_id,
    }


def native(api: Api, node: Node) -> dict[str, Any]:
    shown: dict[str, Any] = api.ok("GET", f"/api/v1/compliance/{node.id}")
    return shown


# -- patch states -----------------------------------------------------------------------------


def test_instance_patch_states_equal_the_native_summaries(
    api: Api, ssm: Any, fleet: dict[str, Any]
) -> None:
    web1, web2, db1 = fleet["web1"], fleet["web2"], fleet["db1"]
    states = ssm.describe_instance_patch_states(
        InstanceIds=[web1.id, web2.id, db1.id, "mi-0123456789abcdef0"]
    )["InstancePatchStates"]
    assert [s["InstanceId"] for s in states] == [web1.id, web2.id, db1.id]  # unknown: left out
    for state, node in zip(states, (web1, web2, db1), strict=True):
        shown = native(api, node)
        for name, key in COUNTS.items():
            assert state[name] == shown["summary"][key], (node.id, name)
        assert state["UnreportedNotApplicableCount"] == 0
        assert state["Operation"] == shown["operation"] == "Scan"
        assert state["PatchGroup"] == shown["patch_group"]
        assert state["OperationEndTime"] >= state["OperationStartTime"]
    first = states[0]
    assert first["BaselineId"] == fleet["baseline_id"]  # the stored baseline's pb- id
    assert states[2]["BaselineId"] == "AWS-DebianDefaultPatchBaseline"
    assert first["MissingCount"] == 25 and first["InstalledRejectedCount"] == 1
    assert first["CriticalNonCompliantCount"] == 13  # pkg00, pkg02 … pkg24: Required
    assert first["SecurityNonCompliantCount"] == 25
    assert states[1]["MissingCount"] == 0 and states[1]["InstalledCount"] >= 3

    pages = ssm.get_paginator("describe_instance_patch_states").paginate(
        InstanceIds=[web1.id, web2.id, db1.id], PaginationConfig={"PageSize": 10}
    )
    assert [s["InstanceId"] for p in pages for s in p["InstancePatchStates"]] == [
        web1.id,
        web2.id,
        db1.id,
    ]
    with pytest.raises(ClientError) as bad:
        ssm.describe_instance_patch_states(InstanceIds=["web1"])
    assert code_of(bad) == "ValidationException"


def test_patch_states_of_a_patch_group_and_its_state(
    api: Api, ssm: Any, fleet: dict[str, Any]
) -> None:
    web1, web2 = fleet["web1"], fleet["web2"]
    web = ssm.describe_instance_patch_states_for_patch_group(PatchGroup="web")
    assert [s["InstanceId"] for s in web["InstancePatchStates"]] == sorted([web1.id, web2.id])
    missing = ssm.describe_instance_patch_states_for_patch_group(
        PatchGroup="web",
        Filters=[{"Key": "MissingCount", "Values": ["0"], "Type": "GreaterThan"}],
    )["InstancePatchStates"]
    assert [s["InstanceId"] for s in missing] == [web1.id]
    none = ssm.describe_instance_patch_states_for_patch_group(
        PatchGroup="web",
        Filters=[
            {"Key": "MissingCount", "Values": ["25"], "Type": "Equal"},
            {"Key": "InstalledRejectedCount", "Values": ["1"], "Type": "NotEqual"},
        ],
    )["InstancePatchStates"]
    assert none == []
    compliant = ssm.describe_instance_patch_states_for_patch_group(
        PatchGroup="web",
        Filters=[{"Key": "MissingCount", "Values": ["1"], "Type": "LessThan"}],
    )["InstancePatchStates"]
    assert [s["InstanceId"] for s in compliant] == [web2.id]
    assert (
        ssm.describe_instance_patch_states_for_patch_group(PatchGroup="nobody")[
            "InstancePatchStates"
        ]
        == []
    )
    for bad in (
        {"Key": "Nonsense", "Values": ["1"], "Type": "Equal"},
        {"Key": "MissingCount", "Values": ["x"], "Type": "Equal"},
    ):
        with pytest.raises(ClientError) as refused:
            ssm.describe_instance_patch_states_for_patch_group(PatchGroup="web", Filters=[bad])
        assert code_of(refused) == "InvalidFilter"

    state = ssm.describe_patch_group_state(PatchGroup="web")
    assert state["Instances"] == 2
    assert state["InstancesWithMissingPatches"] == 1
    assert state["InstancesWithInstalledRejectedPatches"] == 1
    assert state["InstancesWithCriticalNonCompliantPatches"] == 1
    assert state["InstancesWithInstalledPatches"] == sum(
        1 for n in (web1, web2) if native(api, n)["summary"]["INSTALLED"] > 0
    )
    assert state["InstancesWithFailedPatches"] == 0
    assert ssm.describe_patch_group_state(PatchGroup="nobody")["Instances"] == 0


def test_instance_patches_equal_the_native_items(api: Api, ssm: Any, fleet: dict[str, Any]) -> None:
    web1 = fleet["web1"]
    shown = native(api, web1)["patches"]
    pages = ssm.get_paginator("describe_instance_patches").paginate(
        InstanceId=web1.id, PaginationConfig={"PageSize": 10}
    )
    sizes, patches = [], []
    for p in pages:
        sizes.append(len(p["Patches"]))
        patches.extend(p["Patches"])
    assert sizes[0] == 10 and len(sizes) == 3 and sum(sizes) == len(shown) >= 29
    assert [(p["KBId"], p["State"]) for p in patches] == [(kb(i), i["state"]) for i in shown]
    assert [p["Classification"] for p in patches] == [i["classification"] for i in shown]
    pkg00 = next(p for p in patches if p["KBId"] == "pkg00.amd64")
    assert pkg00["State"] == "MISSING" and pkg00["Title"] == "pkg00.amd64:1.0-1+deb12u1"
    assert pkg00["CVEIds"] == "CVE-2026-1000"
    telnet = next(p for p in patches if p["KBId"] == "telnet.amd64")
    assert telnet["State"] == "INSTALLED_REJECTED" and telnet["Title"] == "telnet.amd64:0.17-44"

    missing = ssm.describe_instance_patches(
        InstanceId=web1.id, Filters=[{"Key": "State", "Values": ["MISSING"]}], MaxResults=50
    )["Patches"]
    assert len(missing) == 25 and {p["State"] for p in missing} == {"MISSING"}
    two = ssm.describe_instance_patches(
        InstanceId=web1.id,
        Filters=[
            {"Key": "KBId", "Values": ["pkg01.amd64", "telnet.amd64"]},
            {"Key": "Classification", "Values": ["Security"]},
        ],
    )["Patches"]
    assert [p["KBId"] for p in two] == ["pkg01.amd64"]
    with pytest.raises(ClientError) as unknown:
        ssm.describe_instance_patches(InstanceId="mi-0123456789abcdef0")
    assert code_of(unknown) == "InvalidInstanceId"
    with pytest.raises(ClientError) as bad_filter:
        ssm.describe_instance_patches(
            InstanceId=web1.id, Filters=[{"Key": "Nope", "Values": ["x"]}]
        )
    assert code_of(bad_filter) == "InvalidFilter"
    unreported = api.register(tags={"Patch Group": "web"})
    assert ssm.describe_instance_patches(InstanceId=unreported.id)["Patches"] == []


# -- Patch compliance ---------------------------------------------------------------------------


def test_compliance_items_of_a_node(api: Api, ssm: Any, fleet: dict[str, Any]) -> None:
    web1 = fleet["web1"]
    shown = native(api, web1)["patches"]
    items = [
        i
        for p in ssm.get_paginator("list_compliance_items").paginate(
            ResourceIds=[web1.id],
            ResourceTypes=["ManagedInstance"],
            PaginationConfig={"PageSize": 7},
        )
        for i in p["ComplianceItems"]
    ]
    assert [(i["Id"], i["Details"]["PatchState"]) for i in items] == [
        (kb(p), p["state"]) for p in shown
    ]
    assert [i["Severity"] for i in items] == [p["severity"] for p in shown]
    pkg00 = next(i for i in items if i["Id"] == "pkg00.amd64")
    assert pkg00["Status"] == "NON_COMPLIANT" and pkg00["Severity"] == "CRITICAL"
    assert pkg00["ComplianceType"] == "Patch" and pkg00["ResourceType"] == "ManagedInstance"
    assert pkg00["Details"]["PatchBaselineId"] == fleet["baseline_id"]
    assert pkg00["ExecutionSummary"]["ExecutionId"] == fleet["command_id"]
    assert next(i for i in items if i["Id"] == "pkg01.amd64")["Severity"] == "MEDIUM"
    ok = next(i for i in items if i["Id"] == "ok0.amd64")
    assert ok["Status"] == "COMPLIANT"

    critical = ssm.list_compliance_items(
        ResourceIds=[web1.id],
        Filters=[
            {"Key": "Status", "Values": ["NON_COMPLIANT"], "Type": "EQUAL"},
            {"Key": "Severity", "Values": ["CRITICAL"], "Type": "EQUAL"},
        ],
        MaxResults=50,
    )["ComplianceItems"]
    assert len(critical) == native(api, web1)["summary"]["critical_non_compliant"] == 13
    begin = ssm.list_compliance_items(
        ResourceIds=[web1.id], Filters=[{"Key": "Id", "Values": ["ok"], "Type": "BEGIN_WITH"}]
    )["ComplianceItems"]
    assert {i["Id"] for i in begin} == {"ok0.amd64", "ok1.amd64", "ok2.amd64"}
    other_type = ssm.list_compliance_items(
        ResourceIds=[web1.id],
        Filters=[{"Key": "ComplianceType", "Values": ["Association"], "Type": "EQUAL"}],
    )
    assert other_type["ComplianceItems"] == []
    for call, code in (
        ({"ResourceIds": ["mi-0123456789abcdef0"]}, "InvalidResourceId"),
        ({"ResourceIds": [web1.id], "ResourceTypes": ["Bucket"]}, "InvalidResourceType"),
        (
            {
                "ResourceIds": [web1.id],
                "Filters": [{"Key": "Status", "Values": ["x"], "Type": "LESS_THAN"}],
            },
            "InvalidFilter",
        ),
    ):
        with pytest.raises(ClientError) as refused:
            ssm.list_compliance_items(**call)
        assert code_of(refused) == code


def test_compliance_summaries_per_fleet_and_resource(
    api: Api, ssm: Any, fleet: dict[str, Any]
) -> None:
    web1, web2, db1 = fleet["web1"], fleet["web2"], fleet["db1"]
    (summary,) = ssm.list_compliance_summaries()["ComplianceSummaryItems"]
    fleetwide = api.ok("GET", "/api/v1/compliance/summary")["total"]
    assert summary["ComplianceType"] == "Patch"
    assert summary["CompliantSummary"]["CompliantCount"] == fleetwide["COMPLIANT"] == 1
    assert summary["NonCompliantSummary"]["NonCompliantCount"] == fleetwide["NON_COMPLIANT"]
    non = summary["NonCompliantSummary"]["SeveritySummary"]
    assert non["CriticalCount"] == 1  # web1: NonCompliantSeverity CRITICAL
    assert summary["CompliantSummary"]["SeveritySummary"]["UnspecifiedCount"] == 1
    assert (
        ssm.list_compliance_summaries(
            Filters=[{"Key": "ComplianceType", "Values": ["Association"], "Type": "EQUAL"}]
        )["ComplianceSummaryItems"]
        == []
    )

    resources = [
        r
        for p in ssm.get_paginator("list_resource_compliance_summaries").paginate(
            PaginationConfig={"PageSize": 2}
        )
        for r in p["ResourceComplianceSummaryItems"]
    ]
    assert [r["ResourceId"] for r in resources] == sorted([web1.id, web2.id, db1.id])
    for resource in resources:
        shown = api.ok("GET", f"/api/v1/compliance/{resource['ResourceId']}")
        assert resource["Status"] == shown["compliance"]
        assert resource["OverallSeverity"] == (shown["severity"] or "UNSPECIFIED")
        non_compliant = sum(
            shown["summary"][s]
            for s in ("MISSING", "FAILED", "INSTALLED_REJECTED", "INSTALLED_PENDING_REBOOT")
        )
        assert resource["NonCompliantSummary"]["NonCompliantCount"] == non_compliant
        assert resource["CompliantSummary"]["CompliantCount"] + non_compliant == len(
            shown["patches"]
        )
    first = next(r for r in resources if r["ResourceId"] == web1.id)
    assert first["NonCompliantSummary"]["SeveritySummary"]["CriticalCount"] == 13
    only = ssm.list_resource_compliance_summaries(
        Filters=[{"Key": "Status", "Values": ["COMPLIANT"], "Type": "EQUAL"}]
    )["ResourceComplianceSummaryItems"]
    assert [r["ResourceId"] for r in only] == [web2.id]
    with pytest.raises(ClientError) as refused:
        ssm.list_resource_compliance_summaries(
            Filters=[{"Key": "Nope", "Values": ["x"], "Type": "EQUAL"}]
        )
    assert code_of(refused) == "InvalidFilter"


def test_available_patches_of_the_fleet(api: Api, ssm: Any, fleet: dict[str, Any]) -> None:
    patches = [
        p
        for page in ssm.get_paginator("describe_available_patches").paginate(
            PaginationConfig={"PageSize": 10}
        )
        for p in page["Patches"]
    ]
    updates = {
        (u["name"], u["arch"], u["version"])
        for node in (fleet["web1"], fleet["web2"], fleet["db1"])
        for u in api.ok("GET", f"/api/v1/nodes/{node.id}/inventory", params={"kind": "update"})
    }
    assert {(p["Name"], p["Arch"], p["Version"]) for p in patches} == updates
    assert len(patches) == len(updates) == 25  # db1's pkg00 update is web1's too: once
    assert {p["Product"] for p in patches} == {"Debian12"}
    named = ssm.describe_available_patches(
        Filters=[
            {"Key": "NAME", "Values": ["pkg00", "pkg01"]},
            {"Key": "PRODUCT", "Values": ["Debian12"]},
        ]
    )["Patches"]
    assert [p["Name"] for p in named] == ["pkg00", "pkg01"]
    assert (
        ssm.describe_available_patches(Filters=[{"Key": "PRODUCT", "Values": ["Ubuntu22.04"]}])[
            "Patches"
        ]
        == []
    )
    with pytest.raises(ClientError) as refused:
        ssm.describe_available_patches(Filters=[{"Key": "MSRC_SEVERITY", "Values": ["x"]}])
    assert code_of(refused) == "ValidationException"


def test_reads_need_a_key(api: Api, fleet: dict[str, Any]) -> None:
    api.clock.current = api.clock.now()
    stranger = ssm_client(api, "PWAKAAAAAAAAAAAAAAAA", "x" * 40)
    with pytest.raises(ClientError) as refused:
        stranger.describe_instance_patch_states(InstanceIds=[fleet["web1"].id])
    assert code_of(refused) == "UnrecognizedClientException"


# -- the AWS CLI --------------------------------------------------------------------------------


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with live_server(tmp_path) as server:
        yield server


def test_the_aws_cli_describes_instance_patch_states(http_server: tuple[str, str]) -> None:
    base, admin = http_server
    with httpx.Client(base_url=base, timeout=30) as client:
        api = Api(client, admin, FakeClock())
        api.clock.current = datetime.now(UTC)
        node = api.register(tags={"Patch Group": "web"}, name="web1")
        scan(api, [(node, inventory("web1", 4))], api.token("operator"))
        key, secret = keys(api, "aws-cli", "viewer")
        shown = native(api, node)
    listed = aws_cli(base, key, secret, "describe-instance-patch-states", "--instance-ids", node.id)
    (state,) = listed["InstancePatchStates"]
    assert state["InstanceId"] == node.id and state["PatchGroup"] == "web"
    assert state["BaselineId"] == "AWS-DebianDefaultPatchBaseline"
    for name, summary_key in COUNTS.items():
        assert state[name] == shown["summary"][summary_key], name
    assert state["MissingCount"] == 4
