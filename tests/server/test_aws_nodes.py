"""Managed nodes over the AWS-compatible endpoint: DescribeInstanceInformation over the
nodes the native registration made, their tags, hybrid activations and deregistration,
driven by boto3 (every answer checked against botocore's ``ssm`` model) and the AWS CLI."""

from __future__ import annotations

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
from fleet_helpers import DEBIAN_FACTS, Api  # noqa: E402
from governance_helpers import apply, latest, rule  # noqa: E402

UBUNTU_FACTS = {
    **DEBIAN_FACTS,
    "hostname": "db1",
    "os_id": "ubuntu",
    "os_version": "22.04",
    "operating_system": "UBUNTU",
    "product": "Ubuntu22.04",
}


@pytest.fixture(autouse=True)
def _no_aws_config(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_aws_config(monkeypatch)


@pytest.fixture
def clients(api: Api) -> dict[str, Any]:
    """boto3 clients for a viewer, an operator and an admin (SigV4 needs the server's
    clock near the wall clock)."""
    api.clock.current = datetime.now(UTC)
    return {role: ssm_client(api, *keys(api, f"aws-{role}", role)) for role in ROLES}


ROLES = ("viewer", "operator", "admin")


def _all(ssm: Any, **kw: Any) -> list[dict[str, Any]]:
    pages = ssm.get_paginator("describe_instance_information").paginate(**kw)
    return [i for p in pages for i in p["InstanceInformationList"]]


def _ids(infos: list[dict[str, Any]]) -> list[str]:
    return [i["InstanceId"] for i in infos]


def test_describe_instance_information_pages_and_filters(api: Api, clients: dict[str, Any]) -> None:
    ssm = clients["viewer"]
    fleet = api.activation(registration_limit=100)
    early = [
        api.register(fleet, tags={"Env": "stage", "Patch Group": "db"}, facts=UBUNTU_FACTS)
        for _ in range(10)
    ]
    api.clock.advance(600)  # the early nodes lose their connection (still within SigV4's 15 min)
    late = [
        api.register(fleet, tags={"Env": "prod", "Role": "web"}, name=f"web-{i:02d}")
        for i in range(52)
    ]
    native = [n["node_id"] for n in api.ok("GET", "/api/v1/nodes")]
    assert len(native) == 62

    pages = list(
        ssm.get_paginator("describe_instance_information").paginate(
            PaginationConfig={"PageSize": 50}
        )
    )
    assert [len(p["InstanceInformationList"]) for p in pages] == [50, 12]
    infos = [i for p in pages for i in p["InstanceInformationList"]]
    assert _ids(infos) == native  # the native listing, in its order
    web = next(i for i in infos if i["InstanceId"] == late[0].id)
    assert web["Name"] == "web-00" and web["ComputerName"] == "web1"
    assert web["PingStatus"] == "Online" and web["ResourceType"] == "ManagedInstance"
    assert web["PlatformType"] == "Linux" and web["PlatformName"] == "Debian GNU/Linux"
    assert web["PlatformVersion"] == "12" and web["AgentVersion"] == "test"
    assert web["ActivationId"] == fleet["activation_id"]
    assert web["SourceId"] == late[0].id and web["SourceType"] == "AWS::SSM::ManagedInstance"
    assert isinstance(web["RegistrationDate"], datetime)
    assert isinstance(web["LastPingDateTime"], datetime)
    db = next(i for i in infos if i["InstanceId"] == early[0].id)
    assert db["PingStatus"] == "ConnectionLost" and db["PlatformName"] == "Ubuntu"

    def ids(**kw: Any) -> set[str]:
        return set(_ids(_all(ssm, **kw)))

    early_ids, late_ids = {n.id for n in early}, {n.id for n in late}
    lost = ids(Filters=[{"Key": "PingStatus", "Values": ["ConnectionLost"]}])
    assert lost == early_ids
    listed = ids(InstanceInformationFilterList=[{"key": "PingStatus", "valueSet": ["Online"]}])
    assert listed == late_ids
    assert ids(Filters=[{"Key": "tag:Env", "Values": ["prod"]}]) == late_ids
    assert ids(Filters=[{"Key": "tag:Env", "Values": ["prod", "stage"]}]) == early_ids | late_ids
    assert ids(Filters=[{"Key": "tag-key", "Values": ["Role"]}]) == late_ids
    both = ids(
        Filters=[
            {"Key": "tag:Patch Group", "Values": ["db"]},
            {"Key": "PingStatus", "Values": ["Online"]},
        ]
    )
    assert both == set()  # keys AND-ed
    picked = [early[1].id, late[3].id]
    assert ids(Filters=[{"Key": "InstanceIds", "Values": picked}]) == set(picked)
    assert ids(Filters=[{"Key": "InstanceIds", "Values": ["mi-0123456789abcdef0"]}]) == set()
    assert len(ids(Filters=[{"Key": "PlatformTypes", "Values": ["Linux"]}])) == 62
    assert ids(Filters=[{"Key": "PlatformTypes", "Values": ["Windows"]}]) == set()
    assert ids(Filters=[{"Key": "ResourceType", "Values": ["EC2Instance"]}]) == set()
    by_activation = [{"Key": "ActivationIds", "Values": [fleet["activation_id"]]}]
    assert len(ids(Filters=by_activation)) == 62
    assert ids(Filters=[{"Key": "AssociationStatus", "Values": ["Success"]}]) == set()

    for bad, code in (
        ({"Key": "Colour", "Values": ["x"]}, "InvalidFilterKey"),
        ({"Key": "PingStatus", "Values": ["Asleep"]}, "InvalidInstanceInformationFilterValue"),
        ({"Key": "InstanceIds", "Values": ["web1"]}, "InvalidInstanceId"),
    ):
        with pytest.raises(ClientError) as refused:
            ssm.describe_instance_information(Filters=[bad])
        assert code_of(refused) == code, bad

    api.ok("DELETE", f"/api/v1/nodes/{late[0].id}")  # native deregistration
    assert late[0].id not in _ids(_all(ssm))


def test_tags_round_trip_and_trigger_governance(api: Api, clients: dict[str, Any]) -> None:
    node = api.register(tags={"Env": "dev"})
    apply(api, rule("owned", {"Type": "required-tags", "Parameters": {"TagKeys": ["Owner"]}}))
    assert latest(api, "owned", node.id) == "NON_COMPLIANT"
    operator, viewer = clients["operator"], clients["viewer"]
    target = {"ResourceType": "ManagedInstance", "ResourceId": node.id}

    operator.add_tags_to_resource(
        **target,
        Tags=[
            {"Key": "Owner", "Value": "ops"},
            {"Key": "Patch Group", "Value": "web"},
            {"Key": "Env", "Value": "prod"},
        ],
    )
    assert viewer.list_tags_for_resource(**target)["TagList"] == [
        {"Key": "Env", "Value": "prod"},
        {"Key": "Owner", "Value": "ops"},
        {"Key": "Patch Group", "Value": "web"},
    ]
    seen = api.ok("GET", f"/api/v1/nodes/{node.id}")
    assert seen["tags"] == {"Env": "prod", "Owner": "ops", "Patch Group": "web"}
    assert seen["patch_group"] == "web"  # the native use case: the patch group follows
    assert latest(api, "owned", node.id) == "COMPLIANT"  # the governance change trigger
    entry = api.ok("GET", "/api/v1/audit", params={"action": "node.tags"})[0]
    assert entry["actor"] == "token:aws-operator" and entry["target"] == node.id
    assert entry["detail"]["from"] == {"Env": "dev"}
    tagged = _all(viewer, Filters=[{"Key": "tag:Owner", "Values": ["ops"]}])
    assert _ids(tagged) == [node.id]

    operator.remove_tags_from_resource(**target, TagKeys=["Owner", "Patch Group", "Nope"])
    assert viewer.list_tags_for_resource(**target)["TagList"] == [{"Key": "Env", "Value": "prod"}]
    assert latest(api, "owned", node.id) == "NON_COMPLIANT"
    assert api.ok("GET", f"/api/v1/nodes/{node.id}")["patch_group"] is None

    with pytest.raises(ClientError) as denied:
        viewer.add_tags_to_resource(**target, Tags=[{"Key": "Owner", "Value": "x"}])
    assert code_of(denied) == "AccessDeniedException"
    with pytest.raises(ClientError) as denied:
        viewer.remove_tags_from_resource(**target, TagKeys=["Env"])
    assert code_of(denied) == "AccessDeniedException"
    with pytest.raises(ClientError) as kind:
        operator.add_tags_to_resource(
            ResourceType="Document", ResourceId="x", Tags=[{"Key": "a", "Value": "b"}]
        )
    assert code_of(kind) == "InvalidResourceType"
    with pytest.raises(ClientError) as kind:
        viewer.list_tags_for_resource(ResourceType="PatchBaseline", ResourceId="pb-0")
    assert code_of(kind) == "InvalidResourceType"
    with pytest.raises(ClientError) as missing:
        viewer.list_tags_for_resource(
            ResourceType="ManagedInstance", ResourceId="mi-0123456789abcdef0"
        )
    assert code_of(missing) == "InvalidResourceId"
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    with pytest.raises(ClientError) as crowded:
        operator.add_tags_to_resource(**target, Tags=many)
    assert code_of(crowded) == "TooManyTagsError"
    with pytest.raises(ClientError) as odd:
        operator.add_tags_to_resource(**target, Tags=[{"Key": "a;b", "Value": "v"}])
    assert code_of(odd) == "ValidationException"
    assert viewer.list_tags_for_resource(**target)["TagList"] == [{"Key": "Env", "Value": "prod"}]


def test_an_activation_registers_a_node_then_is_deleted(api: Api, clients: dict[str, Any]) -> None:
    admin = clients["admin"]
    expires = datetime.now(UTC) + timedelta(days=2)
    made = admin.create_activation(
        Description="lab machines",
        DefaultInstanceName="lab",
        IamRole="SSMServiceRole",
        RegistrationLimit=2,
        ExpirationDate=expires,
        Tags=[{"Key": "Env", "Value": "lab"}],
    )
    activation_id, code = made["ActivationId"], made["ActivationCode"]
    assert len(code) >= 20
    act = {"activation_id": activation_id, "activation_code": code}
    node = api.register(act)  # the native registration, with the AWS-made activation
    native = api.ok("GET", f"/api/v1/nodes/{node.id}")
    assert native["name"] == "lab" and native["tags"] == {"Env": "lab"}

    (listed,) = admin.describe_activations(
        Filters=[{"FilterKey": "ActivationIds", "FilterValues": [activation_id]}]
    )["ActivationList"]
    assert listed["Description"] == "lab machines" and listed["DefaultInstanceName"] == "lab"
    assert listed["RegistrationLimit"] == 2 and listed["RegistrationsCount"] == 1
    assert listed["Expired"] is False and listed["Tags"] == [{"Key": "Env", "Value": "lab"}]
    assert abs((listed["ExpirationDate"] - expires).total_seconds()) < 1
    assert "ActivationCode" not in listed
    by_name = admin.describe_activations(
        Filters=[{"FilterKey": "DefaultInstanceName", "FilterValues": ["lab"]}]
    )["ActivationList"]
    assert [a["ActivationId"] for a in by_name] == [activation_id]
    by_role = admin.describe_activations(
        Filters=[{"FilterKey": "IamRole", "FilterValues": ["SSMServiceRole"]}]
    )
    assert by_role["ActivationList"] == []
    info = _all(admin, Filters=[{"Key": "ActivationIds", "Values": [activation_id]}])
    assert _ids(info) == [node.id] and info[0]["Name"] == "lab"

    for _ in range(3):
        api.activation(registration_limit=1)
    pages = admin.get_paginator("describe_activations").paginate(PaginationConfig={"PageSize": 2})
    sizes = [len(p["ActivationList"]) for p in pages]
    assert sizes == [2, 2]

    with pytest.raises(ClientError) as denied:
        clients["operator"].create_activation(IamRole="SSMServiceRole")
    assert code_of(denied) == "AccessDeniedException"
    with pytest.raises(ClientError) as denied:
        clients["operator"].describe_activations()
    assert code_of(denied) == "AccessDeniedException"

    admin.delete_activation(ActivationId=activation_id)
    (gone,) = admin.describe_activations(
        Filters=[{"FilterKey": "ActivationIds", "FilterValues": [activation_id]}]
    )["ActivationList"]
    assert gone["Expired"] is True
    refused = api.client.post(
        "/api/v1/register",
        json={**act, "tags": {}, "facts": DEBIAN_FACTS, "name": ""},
    )
    assert refused.status_code >= 400
    assert node.id in _ids(_all(admin))  # its nodes stay registered
    assert "activation.delete" in [e["action"] for e in api.ok("GET", "/api/v1/audit")]
    with pytest.raises(ClientError) as missing:
        admin.delete_activation(ActivationId="00000000-0000-4000-8000-000000000000")
    assert code_of(missing) == "InvalidActivationId"
    with pytest.raises(ClientError) as late:
        admin.create_activation(
            IamRole="SSMServiceRole", ExpirationDate=datetime.now(UTC) + timedelta(days=31)
        )
    assert code_of(late) == "ValidationException"


def test_deregistration_drops_the_node(api: Api, clients: dict[str, Any]) -> None:
    node, other = api.register(), api.register()
    assert set(_ids(_all(clients["viewer"]))) == {node.id, other.id}
    for role in ("viewer", "operator"):
        with pytest.raises(ClientError) as denied:
            clients[role].deregister_managed_instance(InstanceId=node.id)
        assert code_of(denied) == "AccessDeniedException"

    clients["admin"].deregister_managed_instance(InstanceId=node.id)
    assert _ids(_all(clients["viewer"])) == [other.id]
    native = api.ok("GET", f"/api/v1/nodes/{node.id}")
    assert native["deregistered_at"] is not None and native["ping_status"] == "Inactive"
    assert node.call("GET", "/api/v1/agent/commands").status_code == 403  # refused
    entry = api.ok("GET", "/api/v1/audit", params={"action": "node.deregister"})[0]
    assert entry["actor"] == "token:aws-admin" and entry["target"] == node.id
    clients["admin"].deregister_managed_instance(InstanceId=node.id)  # again: no change

    with pytest.raises(ClientError) as missing:
        clients["admin"].deregister_managed_instance(InstanceId="mi-0123456789abcdef0")
    assert code_of(missing) == "InvalidInstanceId"


def test_the_aws_cli_describes_instance_information(tmp_path: Path) -> None:
    import httpx

    with live_server(tmp_path) as (base, admin):
        auth = {"Authorization": f"Bearer {admin}"}
        act = httpx.post(f"{base}/api/v1/activations", headers=auth, json={}).json()
        registered = httpx.post(
            f"{base}/api/v1/register",
            json={
                "activation_id": act["activation_id"],
                "activation_code": act["activation_code"],
                "tags": {"Env": "prod"},
                "facts": DEBIAN_FACTS,
                "name": "web-1",
            },
        )
        assert registered.status_code == 201, registered.text
        node_id = registered.json()["node_id"]
        made = httpx.post(
            f"{base}/api/v1/tokens",
            headers=auth,
            json={"name": "aws-cli", "role": "viewer", "aws_keys": True},
        ).json()
        out = aws_cli(
            base,
            made["aws_access_key_id"],
            made["aws_secret_access_key"],
            "describe-instance-information",
            "--filters",
            "Key=tag:Env,Values=prod",
        )
    (info,) = out["InstanceInformationList"]
    assert info["InstanceId"] == node_id and info["Name"] == "web-1"
    assert info["PingStatus"] == "Online" and info["ResourceType"] == "ManagedInstance"


def test_the_server_checks_what_botocore_would(api: Api) -> None:
    api.clock.current = datetime.now(UTC)
    raw = ssm_client(api, *keys(api, "aws-raw", "admin"), validate=False)
    node = api.register()
    target = {"ResourceType": "ManagedInstance", "ResourceId": node.id}
    for call, kw, code in (
        (raw.describe_instance_information, {"MaxResults": 4}, "ValidationException"),
        (raw.describe_instance_information, {"MaxResults": 51}, "ValidationException"),
        (raw.describe_instance_information, {"NextToken": "nope"}, "InvalidNextToken"),
        (
            raw.describe_instance_information,
            {"Filters": [{"Key": "PingStatus", "Values": []}]},
            "ValidationException",
        ),
        (raw.add_tags_to_resource, {**target}, "ValidationException"),
        (raw.add_tags_to_resource, {**target, "Tags": [{"Key": ""}]}, "ValidationException"),
        (raw.remove_tags_from_resource, {**target}, "ValidationException"),
        (
            raw.list_tags_for_resource,
            {"ResourceType": "Node", "ResourceId": node.id},
            "ValidationException",
        ),
        (raw.deregister_managed_instance, {}, "ValidationException"),
        (
            raw.deregister_managed_instance,
            {"InstanceId": "mi-0123456789ABCDEF0"},
            "InvalidInstanceId",
        ),
        (raw.delete_activation, {"ActivationId": "nope"}, "ValidationException"),
        (raw.create_activation, {"RegistrationLimit": 0}, "ValidationException"),
        (raw.create_activation, {"ExpirationDate": 1}, "ValidationException"),
        (
            raw.describe_activations,
            {"Filters": [{"FilterKey": "Colour", "FilterValues": []}]},
            "ValidationException",
        ),
    ):
        with pytest.raises(ClientError) as refused:
            call(**kw)
        assert code_of(refused) == code, kw
    assert api.ok("GET", f"/api/v1/nodes/{node.id}")["tags"] == {}


def test_a_paginator_over_two_hundred_sixty_nodes(api: Api, clients: dict[str, Any]) -> None:
    fleet = api.activation(registration_limit=260)
    for i in range(260):
        api.register(fleet, tags={"Patch Group": "web" if i % 2 else "db"}, name=f"n-{i:03d}")
    native = [n["node_id"] for n in api.ok("GET", "/api/v1/nodes")]
    pages = list(
        clients["viewer"]
        .get_paginator("describe_instance_information")
        .paginate(PaginationConfig={"PageSize": 50})
    )
    assert [len(p["InstanceInformationList"]) for p in pages] == [50] * 5 + [10]
    assert _ids([i for p in pages for i in p["InstanceInformationList"]]) == native
    web = (
        clients["viewer"]
        .get_paginator("describe_instance_information")
        .paginate(
            Filters=[{"Key": "tag:Patch Group", "Values": ["web"]}],
            PaginationConfig={"PageSize": 50},
        )
    )
    assert sum(len(p["InstanceInformationList"]) for p in web) == 130
