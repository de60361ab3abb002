"""The responsibility core (issue 19): the rule types of imported resources, what an import
keeps of the previous one, and the report's owners and states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from patchwarden.core.responsibility import KINDS, Layer, Owner, build, merge
from patchwarden.core.rules import (
    RULE_TYPES,
    NodeSnapshot,
    ResourceSnapshot,
    parse_rule,
    validate_params,
)
from patchwarden.errors import InputError

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def judge(
    rule_type: str, resource_type: str, params: dict[str, Any] | None = None, **attrs: Any
) -> tuple[str, str]:
    kind = RULE_TYPES[rule_type]
    assert kind.evaluate_resource is not None
    full = validate_params(kind.parameters, params or {})
    snap = ResourceSnapshot("arn:x", resource_type, attributes=attrs)
    verdict = kind.evaluate_resource(snap, full, NOW)
    return verdict.compliance.value, verdict.annotation


@pytest.mark.parametrize(
    ("runtime", "params", "expected"),
    [
        ("python3.9", {}, "NON_COMPLIANT"),  # deprecated 2025-12-15
        ("python3.13", {}, "COMPLIANT"),
        ("nodejs22.x", {}, "COMPLIANT"),  # 2027-04-30: more than 90 days away
        ("nodejs22.x", {"DaysBeforeDeprecation": 200}, "NON_COMPLIANT"),
        ("cobol85", {}, "INSUFFICIENT_DATA"),  # never "fine" when unknown
    ],
)
def test_lambda_runtime_deprecation(runtime: str, params: dict[str, Any], expected: str) -> None:
    assert (
        judge("lambda-runtime-supported", "AWS::Lambda::Function", params, runtime=runtime)[0]
        == expected
    )


def test_container_image_functions_bring_their_own_runtime() -> None:
    assert (
        judge("lambda-runtime-supported", "AWS::Lambda::Function", package_type="Image")[0]
        == "NOT_APPLICABLE"
    )


def test_rds_engine_and_pending_maintenance() -> None:
    minors = [{"version": "15.5", "major": False}, {"version": "16.1", "major": True}]
    assert (
        judge(
            "rds-engine-version-current",
            "AWS::RDS::DBInstance",
            {"MaxMinorVersionsBehind": 0},
            engine="postgres",
            engine_version="15.4",
            upgrade_targets=minors,
        )[0]
        == "NON_COMPLIANT"
    )
    assert (
        judge(
            "rds-engine-version-current",
            "AWS::RDS::DBInstance",
            {},
            engine="postgres",
            engine_version="15.4",
            upgrade_targets=minors,
        )[0]
        == "COMPLIANT"
    )
    assert (
        judge("rds-engine-version-current", "AWS::RDS::DBInstance", {}, engine_version="15.4")[0]
        == "INSUFFICIENT_DATA"
    )
    recent = {"action": "system-update", "first_seen": (NOW - timedelta(days=3)).isoformat()}
    old = {"action": "db-upgrade", "first_seen": (NOW - timedelta(days=40)).isoformat()}
    forced = {
        "action": "os-upgrade",
        "first_seen": NOW.isoformat(),
        "forced_apply": "2026-12-01T00:00:00Z",
    }
    pending = "rds-pending-maintenance-age"
    assert judge(pending, "AWS::RDS::DBInstance", pending_maintenance=[recent])[0] == "COMPLIANT"
    assert judge(pending, "AWS::RDS::DBInstance", pending_maintenance=[recent, old]) == (
        "NON_COMPLIANT",
        "1 maintenance action(s) pending too long: db-upgrade",
    )
    assert (
        judge(pending, "AWS::RDS::DBInstance", pending_maintenance=[forced])[0] == "NON_COMPLIANT"
    )
    assert judge(pending, "AWS::RDS::DBInstance", pending_maintenance=[])[0] == "COMPLIANT"
    assert judge(pending, "AWS::RDS::DBInstance")[0] == "INSUFFICIENT_DATA"  # not read


def test_hosts_images_workloads_and_node_groups() -> None:
    patch = {"missing": 0, "failed": 0, "installed_pending_reboot": 1, "operation": "Install"}
    ec2 = "ec2-patch-compliance"
    assert judge(ec2, "AWS::EC2::Instance", patch=patch)[0] == "NON_COMPLIANT"
    assert (
        judge(ec2, "AWS::EC2::Instance", {"AllowPendingReboot": True}, patch=patch)[0]
        == "COMPLIANT"
    )
    assert judge(ec2, "AWS::EC2::Instance")[0] == "INSUFFICIENT_DATA"
    assert (
        judge("ami-age", "AWS::EC2::Image", creation_date="2026-11-01T00:00:00Z")[0] == "COMPLIANT"
    )
    assert (
        judge(
            "ami-age",
            "AWS::EC2::Image",
            creation_date="2026-11-01T00:00:00Z",
            deprecation_time="2026-12-01T00:00:00Z",
        )[0]
        == "NON_COMPLIANT"
    )
    images = [{"image": "a", "findings": {"MEDIUM": 3, "UNDEFINED": 2}}, {"image": "b"}]
    findings = "container-image-findings"
    assert (
        judge(findings, "AWS::ECS::Service", images=images)[0] == "INSUFFICIENT_DATA"
    )  # b unscanned
    assert (
        judge(findings, "AWS::ECS::Service", {"MinimumSeverity": "MEDIUM"}, images=images)[0]
        == "NON_COMPLIANT"
    )
    release = "eks-nodegroup-release-age"
    assert (
        judge(release, "AWS::EKS::Nodegroup", release_version="1.30.0-20261001")[0]
        == "NON_COMPLIANT"
    )
    assert (
        judge(release, "AWS::EKS::Nodegroup", release_version="1.30.0-20261120")[0] == "COMPLIANT"
    )
    assert (
        judge(release, "AWS::EKS::Nodegroup", release_version="1.19.2-29cc92cc")[0]
        == "INSUFFICIENT_DATA"
    )
    assert (
        judge(release, "AWS::EKS::Nodegroup", release_version="1.30.0-20261399")[0]
        == "INSUFFICIENT_DATA"
    )
    current = "eks-nodegroup-current"
    assert (
        judge(current, "AWS::EKS::Nodegroup", version="1.29", cluster_version="1.30")[0]
        == "NON_COMPLIANT"
    )
    assert (
        judge(
            current,
            "AWS::EKS::Nodegroup",
            version="1.30",
            cluster_version="1.30",
            health_issues=["AsgInstanceLaunchFailures"],
        )[0]
        == "NON_COMPLIANT"
    )
    assert judge("image-not-stale", "Image", stale=True, stale_reasons=["newer parent"]) == (
        "NON_COMPLIANT",
        "stale: newer parent",
    )
    assert judge("image-findings", "Image", findings={})[0] == "COMPLIANT"


def test_rules_on_resources_are_scoped_to_the_types_their_type_judges() -> None:
    rule = parse_rule("lambdas", {"Type": "lambda-runtime-supported"}, RULE_TYPES)
    assert rule.resource_types == ("AWS::Lambda::Function",)
    with pytest.raises(InputError, match="ResourceTypes: must be a list of AWS::Lambda::Function"):
        parse_rule(
            "x",
            {"Type": "lambda-runtime-supported", "Scope": {"ResourceTypes": ["Node"]}},
            RULE_TYPES,
        )
    node_rule = parse_rule(
        "tags", {"Type": "required-tags", "Parameters": {"TagKeys": ["a"]}}, RULE_TYPES
    )
    assert node_rule.resource_types == ("Node",)


def test_merge_keeps_first_seen_per_resource_and_per_pending_action() -> None:
    earlier = NOW - timedelta(days=10)
    action = {"action": "system-update", "description": "OS"}
    first = merge(
        None,
        ResourceSnapshot("r", "AWS::RDS::DBInstance", attributes={"pending_maintenance": [action]}),
        earlier,
    )
    assert first.first_seen == earlier and first.observed_at == earlier
    assert first.attributes["pending_maintenance"] == [
        {**action, "first_seen": earlier.isoformat()}
    ]
    other = {"action": "db-upgrade", "description": "minor"}
    again = merge(
        first,
        ResourceSnapshot(
            "r", "AWS::RDS::DBInstance", attributes={"pending_maintenance": [action, other]}
        ),
        NOW,
    )
    assert again.first_seen == earlier and again.observed_at == NOW
    stamps = {a["action"]: a["first_seen"] for a in again.attributes["pending_maintenance"]}  # type: ignore[attr-defined]
    assert stamps == {"system-update": earlier.isoformat(), "db-upgrade": NOW.isoformat()}


def test_the_report_lists_every_kind_with_owners_and_the_worst_state() -> None:
    node = NodeSnapshot("mi-1", compliance="NON_COMPLIANT", os_id="debian", os_version="12")
    lam = ResourceSnapshot(
        "arn:f", "AWS::Lambda::Function", "f", "aws:1:r", attributes={"runtime": "python3.9"}
    )
    fargate = ResourceSnapshot(
        "arn:s", "AWS::ECS::Service", "s", attributes={"launch_type": "FARGATE", "images": []}
    )
    ec2 = ResourceSnapshot(
        "arn:e", "AWS::ECS::Service", "e", attributes={"launch_type": "EC2", "images": []}
    )
    report = build([node, lam, fargate, ec2, ResourceSnapshot("arn:?", "AWS::S3::Bucket")], [], NOW)
    assert [k.kind.name for k in report.kinds] == [k.name for k in KINDS]
    assert len(report.resources) == 4  # a type no kind holds is left out
    by_id = {r.resource_id: r for r in report.resources}
    assert by_id["mi-1"].state == "NON_COMPLIANT"
    assert by_id["arn:f"].layers[1].state == "NON_COMPLIANT"
    assert by_id["arn:f"].layers[0].owner is Owner.PROVIDER
    assert by_id["arn:f"].layers[0].state == "NOT_CHECKED"
    assert by_id["arn:s"].layers[0].owner is Owner.PROVIDER
    assert by_id["arn:e"].layers[0].owner is Owner.CUSTOMER
    functions = next(k for k in report.kinds if k.kind.name == "serverless-function")
    assert functions.resources == 1 and functions.state == "NON_COMPLIANT"
    assert functions.layer_states[Layer.RUNTIME] == {"NON_COMPLIANT": 1}
    empty = next(k for k in report.kinds if k.kind.name == "kubernetes-node-group")
    assert empty.resources == 0 and empty.state == "NOT_CHECKED"
