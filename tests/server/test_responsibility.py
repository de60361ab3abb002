"""The responsibility view (issue 19) over HTTP, on SQLite and PostgreSQL: imported
resources (what ``patchwarden aws import`` sends), the governance rules that judge them,
and ``/api/v1/responsibility`` with nodes, images and resources in one picture."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fleet_helpers import Api, error_of, scan_report
from governance_helpers import apply, rule

from patchwarden.render.responsibility import html, text

ACCOUNT = "123456789012"
SOURCE = f"aws:{ACCOUNT}:eu-west-1"
LONG_NAME = "orders-database-" + "x" * 47  # RDS allows 63 characters: the ARN exceeds 64
RDS_ARN = f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:{LONG_NAME}"
OLD_LAMBDA = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:legacy-export"
NEW_LAMBDA = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:thumbnails"


def lam(arn: str, runtime: str) -> dict[str, Any]:
    return {
        "resource_id": arn,
        "resource_type": "AWS::Lambda::Function",
        "name": arn.rsplit(":", 1)[1],
        "attributes": {"runtime": runtime, "package_type": "Zip"},
    }


def rds(pending: list[dict[str, Any]], targets: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resource_id": RDS_ARN,
        "resource_type": "AWS::RDS::DBInstance",
        "name": LONG_NAME,
        "tags": {"team": "orders"},
        "attributes": {
            "engine": "postgres",
            "engine_version": "15.4",
            "auto_minor_version_upgrade": False,
            "upgrade_targets": targets,
            "pending_maintenance": pending,
        },
    }


SYSTEM_UPDATE = {"action": "system-update", "description": "New Operating System update"}
MINORS = [{"version": "15.5", "major": False}, {"version": "15.6", "major": False}]
ACCOUNT_RESOURCES = [
    lam(OLD_LAMBDA, "python3.9"),
    lam(NEW_LAMBDA, "python3.13"),
    rds([SYSTEM_UPDATE], MINORS),
    {
        "resource_id": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:service/web/frontend",
        "resource_type": "AWS::ECS::Service",
        "name": "frontend",
        "attributes": {
            "cluster": "web",
            "launch_type": "FARGATE",
            "images": [{"image": "frontend:1.2", "findings": {"CRITICAL": 1, "LOW": 4}}],
        },
    },
    {
        "resource_id": f"arn:aws:eks:eu-west-1:{ACCOUNT}:nodegroup/apps/general/abc",
        "resource_type": "AWS::EKS::Nodegroup",
        "name": "apps/general",
        "attributes": {
            "cluster": "apps",
            "cluster_version": "1.30",
            "version": "1.30",
            "release_version": "1.30.0-20261120",
            "health_issues": [],
        },
    },
    {
        "resource_id": f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/i-0abc",
        "resource_type": "AWS::EC2::Instance",
        "name": "bastion",
        "attributes": {
            "instance_id": "i-0abc",
            "patch": {"missing": 2, "failed": 0, "operation": "Scan"},
        },
    },
    {
        "resource_id": "arn:aws:ec2:eu-west-1::image/ami-0old",
        "resource_type": "AWS::EC2::Image",
        "name": "ami-0old",
        "attributes": {"creation_date": "2025-01-02T03:04:05Z", "instances": ["i-0abc"]},
    },
]


def put(api: Api, resources: list[dict[str, Any]], token: str | None = None) -> Any:
    return api.ok(
        "PUT", f"/api/v1/resources/sources/{SOURCE}", token, json={"resources": resources}
    )


def report(api: Api) -> dict[str, Any]:
    found: dict[str, Any] = api.ok("GET", "/api/v1/responsibility")
    return found


def row(data: dict[str, Any], resource_id: str) -> dict[str, Any]:
    return next(r for r in data["resources"] if r["resource_id"] == resource_id)


def layer(resource: dict[str, Any], name: str) -> dict[str, Any]:
    return next(x for x in resource["layers"] if x["layer"] == name)


def test_every_kind_shows_its_owners_and_each_resource_its_state(api: Api) -> None:
    node = api.register(tags={"Name": "web-1"})
    api.send(InstanceIds=[node.id])
    (invocation,) = node.poll()
    assert node.report(invocation["invocation_id"], report=scan_report()).status_code == 200
    assert put(api, ACCOUNT_RESOURCES) == {
        "source": SOURCE,
        "added": 7,
        "updated": 0,
        "removed": 0,
        "resources": 7,
    }
    data = report(api)
    kinds = {k["kind"]: k for k in data["kinds"]}
    assert list(kinds) == [
        "host",
        "image",
        "container-workload",
        "managed-database",
        "serverless-function",
        "kubernetes-node-group",
    ]
    owners = {name: [x["owner"] for x in k["layers"]] for name, k in kinds.items()}
    assert owners["host"] == ["customer", "customer", "customer"]
    assert owners["managed-database"] == ["provider", "shared", "customer"]
    assert owners["serverless-function"] == ["provider", "shared", "customer"]
    assert kinds["host"]["resources"] == 2  # the node and the EC2 instance
    assert kinds["image"]["resources"] == 1  # the AMI in use (no golden image built yet)

    assert layer(row(data, node.id), "os")["state"] == "NON_COMPLIANT"
    old, new = row(data, OLD_LAMBDA), row(data, NEW_LAMBDA)
    assert layer(old, "runtime")["state"] == "NON_COMPLIANT"
    assert (
        "python3.9 deprecated since 2025-12-15" in layer(old, "runtime")["checks"][0]["annotation"]
    )
    assert layer(new, "runtime")["state"] == "COMPLIANT"
    assert layer(new, "os") == {
        "layer": "os",
        "owner": "provider",
        "state": "NOT_CHECKED",
        "checks": [],
    }
    db = row(data, RDS_ARN)
    engine = layer(db, "runtime")
    assert engine["state"] == "NON_COMPLIANT"  # 2 minor versions behind, default limit 1
    assert layer(db, "os")["state"] == "COMPLIANT"  # the OS update is pending since today
    service = row(data, f"arn:aws:ecs:eu-west-1:{ACCOUNT}:service/web/frontend")
    assert layer(service, "os")["owner"] == "provider"  # Fargate settles the shared layer
    assert layer(service, "runtime")["state"] == "NON_COMPLIANT"
    assert row(data, f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/i-0abc")["state"] == "NON_COMPLIANT"
    assert row(data, "arn:aws:ec2:eu-west-1::image/ami-0old")["state"] == "NON_COMPLIANT"
    nodegroup = row(data, f"arn:aws:eks:eu-west-1:{ACCOUNT}:nodegroup/apps/general/abc")
    assert nodegroup["state"] == "COMPLIANT"
    assert data["sources"] == [
        {"source": SOURCE, "resources": 7, "imported_at": api.clock.now().isoformat()}
    ]

    table = text(data, width=100)
    assert "managed-database" in table and "provider" in table
    assert "legacy-export" in table and "python3.9 deprecated" in table
    assert all(len(line) <= 100 for line in table.splitlines())
    page = html(data)
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert "Managed database" in page


def test_a_reimport_keeps_first_seen_and_pending_maintenance_ages(api: Api) -> None:
    put(api, [rds([SYSTEM_UPDATE], MINORS[:1])])
    first = api.ok("GET", "/api/v1/resources")["resources"][0]
    api.clock.advance(timedelta(days=31).total_seconds())
    assert put(api, [rds([SYSTEM_UPDATE], MINORS[:1])])["updated"] == 0  # same as before
    again = api.ok("GET", "/api/v1/resources")["resources"][0]
    assert again["first_seen"] == first["first_seen"]
    assert again["attributes"]["pending_maintenance"][0]["first_seen"] == first["first_seen"]
    db = row(report(api), RDS_ARN)
    assert layer(db, "runtime")["state"] == "COMPLIANT"  # one minor behind: allowed
    os_layer = layer(db, "os")
    assert os_layer["state"] == "NON_COMPLIANT"  # pending for 31 days > 30
    assert "system-update" in os_layer["checks"][0]["annotation"]

    # a new action starts its own clock; a source that stops listing a resource loses it
    other = {"action": "db-upgrade", "description": "minor upgrade"}
    assert put(api, [rds([SYSTEM_UPDATE, other], MINORS[:1])])["updated"] == 1
    pending = api.ok("GET", "/api/v1/resources")["resources"][0]["attributes"]
    stamps = {a["action"]: a["first_seen"] for a in pending["pending_maintenance"]}
    assert stamps["system-update"] == first["first_seen"]
    assert stamps["db-upgrade"] == api.clock.now().isoformat()
    assert put(api, [])["removed"] == 1
    assert api.ok("GET", "/api/v1/resources")["resources"] == []


def test_governance_rules_judge_imported_resources_with_their_parameters(api: Api) -> None:
    apply(
        api,
        rule(
            "lambda-runtimes",
            {"Type": "lambda-runtime-supported", "Parameters": {"DaysBeforeDeprecation": 3650}},
        ),
        rule("patched", {"Type": "patch-compliance-status"}),
    )
    put(api, ACCOUNT_RESOURCES)
    compliance = {r["rule"]: r for r in api.ok("GET", "/api/v1/rule-compliance")["rules"]}
    # evaluated on import (a change trigger): python3.13 is deprecated within 10 years too
    assert compliance["lambda-runtimes"]["resources"] == {
        OLD_LAMBDA: "NON_COMPLIANT",
        NEW_LAMBDA: "NON_COMPLIANT",
    }
    assert compliance["patched"]["resources"] == {}  # a node rule judges no AWS resource
    new = row(report(api), NEW_LAMBDA)
    (check,) = layer(new, "runtime")["checks"]
    assert check["rule"] == "lambda-runtimes" and check["compliance"] == "NON_COMPLIANT"
    # a resource that is gone leaves the rule's results
    put(api, [lam(OLD_LAMBDA, "python3.13")])
    compliance = {r["rule"]: r for r in api.ok("GET", "/api/v1/rule-compliance")["rules"]}
    assert set(compliance["lambda-runtimes"]["resources"]) == {OLD_LAMBDA}
    entries = api.ok("GET", "/api/v1/audit", params={"action": "resources.import"})
    assert entries and entries[0]["target"] == SOURCE


def test_bad_imports_are_refused_whole(api: Api) -> None:
    put(api, [lam(OLD_LAMBDA, "python3.9")])
    url = f"/api/v1/resources/sources/{SOURCE}"
    cases = [
        {"resources": [{**lam(NEW_LAMBDA, "x"), "resource_type": "AWS::S3::Bucket"}]},
        {"resources": [lam(NEW_LAMBDA, "python3.12"), lam(NEW_LAMBDA, "python3.13")]},
        {"resources": [{**lam(NEW_LAMBDA, "x"), "surprise": 1}]},
        {"resources": "all of them"},
    ]
    for body in cases:
        assert error_of(api.call("PUT", url, json=body))[0] == 400, body
    assert (
        error_of(api.call("PUT", "/api/v1/resources/sources/bad%20source", json={"resources": []}))[
            0
        ]
        == 400
    )
    # a resource another source holds
    taken = api.call(
        "PUT",
        "/api/v1/resources/sources/aws:1:us-east-1",
        json={"resources": [lam(OLD_LAMBDA, "python3.9")]},
    )
    assert error_of(taken)[0] == 400 and "another source" in taken.json()["error"]["message"]
    viewer = api.token("viewer")
    assert api.call("PUT", url, viewer, json={"resources": []}).status_code == 403
    assert api.call("GET", "/api/v1/responsibility", viewer).status_code == 200
    # nothing was half-written
    (kept,) = api.ok("GET", "/api/v1/resources")["resources"]
    assert kept["resource_id"] == OLD_LAMBDA and kept["attributes"]["runtime"] == "python3.9"


def test_an_import_of_some_types_leaves_the_others(api: Api) -> None:
    """A connector that could read only some services names the types it covers: the
    server replaces those and keeps the rest (an AccessDenied on RDS wipes no database)."""
    put(api, ACCOUNT_RESOURCES)
    url = f"/api/v1/resources/sources/{SOURCE}"
    answer = api.ok(
        "PUT",
        url,
        json={
            "resources": [lam(NEW_LAMBDA, "python3.12")],
            "resource_types": ["AWS::Lambda::Function"],
        },
    )
    assert (answer["updated"], answer["removed"], answer["resources"]) == (1, 1, 1)
    held = {r["resource_id"] for r in api.ok("GET", "/api/v1/resources")["resources"]}
    assert RDS_ARN in held and OLD_LAMBDA not in held and len(held) == 6
    stray = {"resources": [rds([], [])], "resource_types": ["AWS::Lambda::Function"]}
    assert error_of(api.call("PUT", url, json=stray))[0] == 400


def test_a_node_is_shown_by_its_name(api: Api) -> None:
    tagged, named = api.register(tags={"Name": "web-1"}), api.register(name="db-2")
    names = {r["resource_id"]: r["name"] for r in report(api)["resources"]}
    assert names[tagged.id] == "web-1" and names[named.id] == "db-2"
