"""Issue 19's done-when, end to end: a real server with a real agent on an apt sandbox, an
AWS account seeded in moto's server (loopback), ``patchwarden aws import`` with the standard
credential chain, then ``patchwarden responsibility report`` shows every resource kind with
its owner per layer and its state — in a table, in JSON and in HTML."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_processes import AgentProcess, Server, exe, wait_for
from sandbox import NodeFactory

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

pytestmark = [pytest.mark.slow, pytest.mark.integration]
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto keeps its accounts in the process: another test of this worker may have seeded it
    reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(reset, timeout=10) as answer:
        assert answer.status == 200
    yield url
    server.stop()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    return buffer.getvalue()


def seed(url: str) -> None:
    """One resource of every kind AWS manages for us, and an EC2 host on an AMI."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )

    def client(name: str) -> Any:
        return session.client(name, endpoint_url=url)

    ec2 = client("ec2")
    ami = ec2.register_image(Name="golden-web", RootDeviceName="/dev/xvda")["ImageId"]
    tags = [{"Key": "Name", "Value": "bastion"}, {"Key": "Patch Group", "Value": "prod"}]
    ec2.run_instances(
        ImageId=ami,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )
    client("rds").create_db_instance(
        DBInstanceIdentifier="orders",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        EngineVersion="15.4",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-0",
        AllocatedStorage=20,
    )
    iam = client("iam")
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    for name, runtime in (("legacy-export", "python3.9"), ("thumbnails", "python3.13")):
        client("lambda").create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": _zip()},
        )
    ecs = client("ecs")
    ecs.create_cluster(clusterName="web")
    definition = ecs.register_task_definition(
        family="frontend",
        containerDefinitions=[{"name": "web", "image": "nginx:1.27", "memory": 128}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster="web",
        serviceName="frontend",
        taskDefinition=definition,
        desiredCount=1,
        launchType="FARGATE",
    )
    eks = client("eks")
    eks.create_cluster(
        name="apps", version="1.30", roleArn=role, resourcesVpcConfig={"subnetIds": ["subnet-1"]}
    )
    eks.create_nodegroup(
        clusterName="apps",
        nodegroupName="general",
        subnets=["subnet-1"],
        nodeRole=role,
        version="1.29",
        releaseVersion="1.29.0-20240129",
    )


def cli(server: Server, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    environment = {
        **os.environ,
        "PATCHWARDEN_SERVER": server.url,
        "PATCHWARDEN_TOKEN": server.admin_token,
        "COLUMNS": "100",
        **(env or {}),
    }
    out = subprocess.run(
        [exe(), *argv], env=environment, capture_output=True, text=True, check=False
    )
    assert "Traceback" not in out.stderr, out.stderr
    return out.returncode, out.stdout, out.stderr


def test_one_picture_of_a_fleet_and_an_aws_account(
    fleet_db: str, make_node: NodeFactory, moto_url: str, tmp_path: Path
) -> None:
    server = Server(tmp_path / "server-home", fleet_db)
    agent = AgentProcess(tmp_path / "agent", tmp_path / "agent-home")
    try:
        api = server.api(server.admin_token)
        activation = api.post("/api/v1/activations", json={"registration_limit": 1}).json()
        node_id = agent.register(server.url, activation, make_node(name="web1").root)
        agent.start()
        sent = api.post(
            "/api/v1/commands",
            json={"InstanceIds": [node_id], "Parameters": {"Operation": "Scan"}},
        ).json()

        def scanned() -> Any:
            found = api.get(f"/api/v1/commands/{sent['command_id']}").json()
            return found if found["status"] == "Success" else None

        wait_for("the node's scan", scanned)
        seed(moto_url)

        aws = {**CREDENTIALS, "AWS_DEFAULT_REGION": REGION}
        code, out, err = cli(server, "aws", "import", "--endpoint-url", moto_url, env=aws)
        assert code == 0, err
        # moto lacks SSM's patch states and RDS's maintenance calls: imported without them
        assert "without SSM patch state" in err and "pending maintenance" in err
        assert "AWS::Lambda::Function" in out and "7 resources" in out

        code, out, err = cli(server, "responsibility", "report", "-o", "json")
        assert code == 0, err
        data = json.loads(out)
        kinds = {k["kind"]: k for k in data["kinds"]}
        assert all(k["resources"] >= 1 for k in kinds.values()), kinds
        assert kinds["host"]["resources"] == 2  # the agent's node and the EC2 instance
        owners = {name: tuple(x["owner"] for x in k["layers"]) for name, k in kinds.items()}
        assert owners == {
            "host": ("customer", "customer", "customer"),
            "image": ("customer", "customer", "customer"),
            "container-workload": ("shared", "customer", "customer"),
            "managed-database": ("provider", "shared", "customer"),
            "serverless-function": ("provider", "shared", "customer"),
            "kubernetes-node-group": ("shared", "customer", "customer"),
        }
        states = {r["name"]: r["state"] for r in data["resources"]}
        assert states["legacy-export"] == "NON_COMPLIANT"  # python3.9: deprecated
        assert states["general"] == "NON_COMPLIANT"  # 1.29 nodes on a 1.30 cluster
        assert states["bastion"] == "INSUFFICIENT_DATA"  # no SSM patch state to judge
        assert states["orders"] == "INSUFFICIENT_DATA"  # maintenance and targets unknown
        assert kinds["image"]["resources"] == 1  # the AMI the bastion runs
        by_id = {r["resource_id"]: r for r in data["resources"]}
        assert by_id[node_id]["state"] == "NON_COMPLIANT"  # the sandbox misses updates
        assert data["sources"][0]["source"] == f"aws:123456789012:{REGION}"

        code, table, err = cli(server, "responsibility", "report")
        assert code == 0, err
        assert "managed-database" in table and "python3.9 deprecated" in table
        assert all(len(line) <= 100 for line in table.splitlines()), table
        code, page, err = cli(server, "responsibility", "report", "-o", "html")
        assert code == 0 and page.startswith("<!doctype html>") and "Managed database" in page

        # without credentials: one line saying what to do, nothing sent
        bare = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        out = subprocess.run(
            [exe(), "aws", "import", "--endpoint-url", moto_url, "--region", REGION],
            env={**bare, "PATCHWARDEN_SERVER": server.url, "PATCHWARDEN_TOKEN": "x",
                 "AWS_CONFIG_FILE": str(tmp_path / "none"),
                 "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                 "AWS_EC2_METADATA_DISABLED": "true"},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert "credentials" in out.stderr
    finally:
        agent.stop()
        server.stop()
