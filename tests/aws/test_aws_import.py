"""The importers against moto (and botocore Stubbers for what moto lacks): the output follows
the attribute contract of core.responsibility.kinds and the resource rules judge it right."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

from patchwarden.adapters.aws.connector.account import import_account
from patchwarden.adapters.aws.connector.ec2 import import_ec2
from patchwarden.adapters.aws.connector.ecs import import_ecs
from patchwarden.adapters.aws.connector.eks import import_eks
from patchwarden.adapters.aws.connector.functions import import_lambda
from patchwarden.adapters.aws.connector.rds import import_rds
from patchwarden.core.rules import RULE_TYPES, ResourceSnapshot
from patchwarden.core.rules.params import validate_params

REGION, ACCOUNT = "us-east-1", "123456789012"
NOW = datetime.now(UTC)
C, NC, NODATA = "COMPLIANT", "NON_COMPLIANT", "INSUFFICIENT_DATA"
KEYS = {"resource_id", "resource_type", "name", "tags", "attributes"}


def verdict(rule: str, resource: dict[str, Any], **params: object) -> str:
    """The rule's compliance on the resource, as the server would judge it (JSON first)."""
    kind = RULE_TYPES[rule]
    assert resource["resource_type"] in kind.resource_types
    res = json.loads(json.dumps(resource))
    snapshot = ResourceSnapshot(
        res["resource_id"], res["resource_type"], res["name"], "aws", res["tags"], res["attributes"]
    )
    assert kind.evaluate_resource is not None
    values = validate_params(kind.parameters, params)
    return str(kind.evaluate_resource(snapshot, values, NOW).compliance)


def by_name(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    for r in resources:
        assert set(r) == KEYS
    return {r["name"]: r for r in resources}


def test_ec2_instances_with_ssm_patch_state_and_their_amis(
    aws: Any, connect: Any, stub: Any
) -> None:
    from moto.ec2.models import ec2_backends

    ec2 = aws.client("ec2", endpoint_url=connect().endpoint_url)
    old = ec2.register_image(Name="golden-2020", RootDeviceName="/dev/xvda")["ImageId"]
    new = ec2.register_image(Name="golden-new", RootDeviceName="/dev/xvda")["ImageId"]
    ec2_backends[ACCOUNT][REGION].amis[old].creation_date = datetime(2020, 1, 1, tzinfo=UTC)
    ids = {}
    for name, image, group_tag in (("web1", old, "Patch Group"), ("db1", new, "PatchGroup")):
        tags = [{"Key": "Name", "Value": name}, {"Key": group_tag, "Value": "prod"}]
        ids[name] = ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )["Instances"][0]["InstanceId"]
    ssm, stubber = stub("ssm")
    stubber.add_response(
        "describe_instance_information",
        {"InstanceInformationList": [{"InstanceId": ids["web1"], "PingStatus": "Online"}]},
        {},
    )
    state = {
        "InstanceId": ids["web1"],
        "PatchGroup": "prod",
        "BaselineId": "pb-0123456789abcdef0",
        "InstalledCount": 40,
        "InstalledOtherCount": 2,
        "InstalledPendingRebootCount": 1,
        "InstalledRejectedCount": 0,
        "MissingCount": 3,
        "FailedCount": 0,
        "NotApplicableCount": 7,
        "OperationStartTime": datetime(2026, 1, 5, 2, 0, tzinfo=UTC),
        "OperationEndTime": datetime(2026, 1, 5, 2, 10, tzinfo=UTC),
        "Operation": "Scan",
    }
    stubber.add_response(
        "describe_instance_patch_states",
        {"InstancePatchStates": [state]},
        {"InstanceIds": [ids["web1"]]},
    )
    found = by_name(import_ec2(connect(ssm=ssm), NOW))
    web, db = found["web1"], found["db1"]
    assert web["resource_type"] == "AWS::EC2::Instance"
    assert web["resource_id"] == f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{ids['web1']}"
    assert web["tags"]["Patch Group"] == "prod"
    assert web["attributes"] == {
        "instance_id": ids["web1"],
        "image_id": old,
        "state": "running",
        "platform": "Linux/UNIX",
        "patch_group": "prod",
        "ssm_managed": True,
        "ping_status": "Online",
        "patch": {
            "missing": 3,
            "failed": 0,
            "installed": 40,
            "installed_other": 2,
            "installed_pending_reboot": 1,
            "installed_rejected": 0,
            "not_applicable": 7,
            "operation": "Scan",
            "operation_end_time": "2026-01-05T02:10:00Z",
            "baseline_id": "pb-0123456789abcdef0",
        },
    }
    assert db["attributes"]["patch_group"] == "prod"  # the PatchGroup tag
    assert db["attributes"]["ssm_managed"] is False and "patch" not in db["attributes"]
    assert verdict("ec2-patch-compliance", web) == NC
    assert verdict("ec2-patch-compliance", db) == NODATA
    images = {
        r["attributes"]["image_id"]: r
        for r in found.values()
        if r["resource_type"] == "AWS::EC2::Image"
    }
    assert images[old]["resource_id"] == f"arn:aws:ec2:{REGION}::image/{old}"
    assert images[old]["attributes"] == {
        "image_id": old,
        "creation_date": "2020-01-01T00:00:00Z",
        "deprecation_time": None,
        "instances": [ids["web1"]],
    }
    assert images[new]["attributes"]["instances"] == [ids["db1"]]
    assert verdict("ami-age", images[old]) == NC
    assert verdict("ami-age", images[new]) == C


def _rds_instance(identifier: str, version: str) -> dict[str, Any]:
    return {
        "DBInstanceIdentifier": identifier,
        "DBInstanceArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{identifier}",
        "Engine": "postgres",
        "EngineVersion": version,
        "AutoMinorVersionUpgrade": False,
        "PreferredMaintenanceWindow": "sun:03:00-sun:03:30",
        "DBInstanceStatus": "available",
        "TagList": [{"Key": "team", "Value": "data"}],
    }


def test_rds_upgrade_targets_and_pending_maintenance(connect: Any, stub: Any) -> None:
    rds, stubber = stub("rds")
    stubber.add_response(
        "describe_db_instances",
        {"DBInstances": [_rds_instance("orders", "15.4"), _rds_instance("billing", "15.4")]},
        {},
    )
    forced = NOW - timedelta(days=1)
    stubber.add_response(
        "describe_pending_maintenance_actions",
        {
            "PendingMaintenanceActions": [
                {
                    "ResourceIdentifier": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:orders",
                    "PendingMaintenanceActionDetails": [
                        {
                            "Action": "system-update",
                            "Description": "New Operating System update is available",
                            "ForcedApplyDate": forced,
                            "OptInStatus": "pending",
                            "CurrentApplyDate": forced,
                        }
                    ],
                }
            ]
        },
        {},
    )
    targets = [
        {"Engine": "postgres", "EngineVersion": v, "IsMajorVersionUpgrade": major}
        for v, major in (("16.1", True), ("15.10", False), ("15.5", False), ("15.6", False))
    ]
    stubber.add_response(
        "describe_db_engine_versions",
        {
            "DBEngineVersions": [
                {"Engine": "postgres", "EngineVersion": "15.4", "ValidUpgradeTarget": targets}
            ]
        },
        {"Engine": "postgres", "EngineVersion": "15.4"},
    )  # once for both instances: the answer is cached per engine and version
    found = by_name(import_rds(connect(rds=rds), NOW))
    orders = found["orders"]
    assert orders["resource_type"] == "AWS::RDS::DBInstance"
    assert orders["resource_id"] == f"arn:aws:rds:{REGION}:{ACCOUNT}:db:orders"
    assert orders["tags"] == {"team": "data"}
    attrs = orders["attributes"]
    assert attrs["upgrade_targets"] == [
        {"version": "15.5", "major": False},
        {"version": "15.6", "major": False},
        {"version": "15.10", "major": False},
        {"version": "16.1", "major": True},
    ]
    expected_time = forced.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert attrs["pending_maintenance"] == [
        {
            "action": "system-update",
            "description": "New Operating System update is available",
            "auto_applied_after": None,
            "forced_apply": expected_time,
            "current_apply": expected_time,
            "opt_in_status": "pending",
        }
    ]
    assert {k: attrs[k] for k in ("engine", "engine_version", "auto_minor_version_upgrade")} == {
        "engine": "postgres",
        "engine_version": "15.4",
        "auto_minor_version_upgrade": False,
    }
    assert attrs["preferred_maintenance_window"] == "sun:03:00-sun:03:30"
    assert attrs["status"] == "available"
    assert verdict("rds-engine-version-current", orders, MaxMinorVersionsBehind=1) == NC
    assert verdict("rds-engine-version-current", orders, MaxMinorVersionsBehind=3) == C
    assert verdict("rds-pending-maintenance-age", orders) == NC  # past its forced date
    assert verdict("rds-pending-maintenance-age", found["billing"]) == C


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    return buffer.getvalue()


def test_lambda_runtimes(aws: Any, connect: Any) -> None:
    clients = connect()
    iam = aws.client("iam", endpoint_url=clients.endpoint_url)
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    functions = aws.client("lambda", endpoint_url=clients.endpoint_url)
    for name, runtime in (("old", "python3.9"), ("node", "nodejs16.x"), ("new", "python3.13")):
        functions.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": _zip()},
            Architectures=["arm64"] if name == "new" else ["x86_64"],
        )
    found = by_name(import_lambda(clients, NOW))
    new = found["new"]
    assert new["resource_type"] == "AWS::Lambda::Function"
    assert new["resource_id"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:new"
    assert new["attributes"]["runtime"] == "python3.13"
    assert new["attributes"]["package_type"] == "Zip"
    assert new["attributes"]["architectures"] == ["arm64"]
    modified = datetime.fromisoformat(new["attributes"]["last_modified"].replace("Z", "+00:00"))
    assert abs(modified - NOW) < timedelta(minutes=10)
    assert verdict("lambda-runtime-supported", found["old"]) == NC
    assert verdict("lambda-runtime-supported", found["node"]) == NC
    assert verdict("lambda-runtime-supported", new) == C


MANIFEST = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {
        "mediaType": "application/vnd.docker.container.image.v1+json",
        "size": 7023,
        "digest": "sha256:" + "a" * 64,
    },
    "layers": [],
}


def test_ecs_services_with_ecr_scan_findings(aws: Any, connect: Any) -> None:
    clients = connect()
    ecr = aws.client("ecr", endpoint_url=clients.endpoint_url)
    uri = ecr.create_repository(repositoryName="shop/api")["repository"]["repositoryUri"]
    ecr.put_image(repositoryName="shop/api", imageManifest=json.dumps(MANIFEST), imageTag="v1")
    ecr.start_image_scan(repositoryName="shop/api", imageId={"imageTag": "v1"})
    ecs = aws.client("ecs", endpoint_url=clients.endpoint_url)
    ecs.create_cluster(clusterName="prod")
    definition = ecs.register_task_definition(
        family="api",
        containerDefinitions=[
            {"name": "api", "image": f"{uri}:v1", "memory": 256},
            {"name": "proxy", "image": "public.ecr.aws/nginx/nginx:1.25", "memory": 64},
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster="prod",
        serviceName="api",
        taskDefinition=definition,
        desiredCount=1,
        launchType="FARGATE",
        tags=[{"key": "team", "value": "shop"}],
    )
    found = by_name(import_ecs(clients, NOW))
    api = found["api"]
    assert api["resource_type"] == "AWS::ECS::Service"
    assert api["resource_id"] == f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/api"
    assert api["tags"] == {"team": "shop"}
    attrs = api["attributes"]
    assert attrs["cluster"] == "prod" and attrs["launch_type"] == "FARGATE"
    scanned, proxy = attrs["images"]
    assert scanned["image"] == f"{uri}:v1"
    assert scanned["digest"].startswith("sha256:")
    assert scanned["findings"] == {"HIGH": 1}  # moto's fake scan
    assert scanned["scan_completed"].endswith("Z")
    assert proxy == {
        "image": "public.ecr.aws/nginx/nginx:1.25",
        "digest": None,
        "scan_completed": None,
    }  # not in ECR: no findings key
    assert verdict("container-image-findings", api) == NC  # HIGH ≥ HIGH
    assert verdict("container-image-findings", api, MinimumSeverity="CRITICAL") == NODATA


def test_eks_nodegroups(aws: Any, connect: Any) -> None:
    clients = connect()
    iam = aws.client("iam", endpoint_url=clients.endpoint_url)
    role = iam.create_role(RoleName="eks", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    eks = aws.client("eks", endpoint_url=clients.endpoint_url)
    eks.create_cluster(
        name="main", version="1.30", roleArn=role, resourcesVpcConfig={"subnetIds": ["subnet-1"]}
    )
    for name, version, release in (
        ("behind", "1.29", "1.29.0-20240129"),
        ("current", "1.30", (NOW - timedelta(days=5)).strftime("1.30.0-%Y%m%d")),
    ):
        eks.create_nodegroup(
            clusterName="main",
            nodegroupName=name,
            subnets=["subnet-1"],
            nodeRole=role,
            version=version,
            releaseVersion=release,
            tags={"team": "platform"},
        )
    found = by_name(import_eks(clients, NOW))
    behind, current = found["behind"], found["current"]
    assert behind["resource_type"] == "AWS::EKS::Nodegroup"
    assert behind["resource_id"].startswith(
        f"arn:aws:eks:{REGION}:{ACCOUNT}:nodegroup/main/behind/"
    )
    assert behind["tags"] == {"team": "platform"}
    assert behind["attributes"] == {
        "cluster": "main",
        "cluster_version": "1.30",
        "version": "1.29",
        "release_version": "1.29.0-20240129",
        "ami_type": "AL2_x86_64",
        "health_issues": [],
    }
    assert verdict("eks-nodegroup-current", behind) == NC
    assert verdict("eks-nodegroup-current", current) == C
    assert verdict("eks-nodegroup-release-age", behind) == NC
    assert verdict("eks-nodegroup-release-age", current) == C


def test_a_refused_service_is_a_warning_and_the_others_import(
    aws: Any, connect: Any, stub: Any
) -> None:
    functions, stubber = stub("lambda")
    stubber.add_client_error(
        "list_functions", "AccessDeniedException", "not authorized", 403, expected_params={}
    )
    clients = connect(**{"lambda": functions})
    aws.client("ecs", endpoint_url=clients.endpoint_url).create_cluster(clusterName="empty")
    snapshot = import_account(clients, ["lambda", "ecs", "eks"], NOW)
    assert snapshot.source == f"aws:{ACCOUNT}:{REGION}"
    assert snapshot.resources == []
    assert snapshot.failed == ["lambda"]
    assert len(snapshot.warnings) == 1 and snapshot.warnings[0].startswith("lambda: not imported")
    assert "access denied" in snapshot.warnings[0]
