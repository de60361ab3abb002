"""The AWS CLI drives a real fleet: a real server and real agents on sandbox roots driven by
real apt, on loopback; only ``--endpoint-url`` and the credentials say it is not AWS."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from fleet_processes import AgentProcess, Server, wait_for
from sandbox import SECURITY_UPDATES, NodeFactory

sys.path.insert(0, str(Path(__file__).parents[1] / "server"))
pytest.importorskip("boto3")
from aws_helpers import aws_cli as ok
from aws_helpers import run_aws as aws

pytestmark = [pytest.mark.slow, pytest.mark.integration]
AWS = Path(sys.executable).with_name("aws")
APPROVE_ALL = {
    "PatchRules": [
        {
            "PatchFilterGroup": {"PatchFilters": [{"Key": "PRODUCT", "Values": ["*"]}]},
            "ApproveAfterDays": 0,
        }
    ]
}


@pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed (pip install awscli)")
def test_the_aws_cli_patches_a_real_fleet(
    fleet_db: str, make_node: NodeFactory, tmp_path: Path
) -> None:
    server = Server(tmp_path / "server-home", fleet_db)
    agents: list[AgentProcess] = []
    try:
        api = server.api(server.admin_token)
        made = api.post(
            "/api/v1/tokens", json={"name": "aws-ops", "role": "operator", "aws_keys": True}
        ).json()
        creds = (server.url, made["aws_access_key_id"], made["aws_secret_access_key"])
        activation = api.post("/api/v1/activations", json={"registration_limit": 2}).json()
        ids = []
        for name in ("web1", "web2"):
            agent = AgentProcess(tmp_path / f"agent-{name}", tmp_path / f"home-{name}")
            ids.append(agent.register(server.url, activation, make_node(name=name).root,
                                      "Patch Group=web"))  # fmt: skip
            agents.append(agent)
            agent.start()

        # a baseline for the web patch group, as in any AWS runbook
        created = ok(*creds, "create-patch-baseline", "--name", "web-all",
                     "--operating-system", "DEBIAN",
                     "--approval-rules", json.dumps(APPROVE_ALL))  # fmt: skip
        baseline = created["BaselineId"]
        ok(*creds, "register-patch-baseline-for-patch-group", "--baseline-id", baseline,
           "--patch-group", "web")  # fmt: skip
        got = ok(*creds, "get-patch-baseline-for-patch-group", "--patch-group", "web",
                 "--operating-system", "DEBIAN")  # fmt: skip
        assert got["BaselineId"] == baseline

        sent = ok(*creds, "send-command", "--document-name", "AWS-RunPatchBaseline",
                  "--parameters", "Operation=Scan",
                  "--targets", "Key=tag:Patch Group,Values=web")["Command"]  # fmt: skip
        command = sent["CommandId"]

        def invocations() -> Any:
            found = ok(*creds, "list-command-invocations", "--command-id", command,
                       "--details")["CommandInvocations"]  # fmt: skip
            done = len(found) == 2 and all(i["Status"] == "Success" for i in found)
            return found if done else None

        found = wait_for("the scan through the AWS CLI", invocations)
        assert {i["InstanceId"] for i in found} == set(ids)
        assert all(i["CommandPlugins"][0]["Status"] == "Success" for i in found)
        native = api.get(f"/api/v1/commands/{command}").json()
        assert native["status"] == "Success" and native["document_name"] == "AWS-RunPatchBaseline"

        states = ok(*creds, "describe-instance-patch-states",
                    "--instance-ids", *ids)["InstancePatchStates"]  # fmt: skip
        assert {s["InstanceId"] for s in states} == set(ids)
        for state in states:
            summary = api.get(f"/api/v1/compliance/{state['InstanceId']}").json()
            assert state["BaselineId"] == baseline and state["PatchGroup"] == "web"
            assert state["MissingCount"] == summary["summary"]["MISSING"] >= len(SECURITY_UPDATES)
            assert state["InstalledCount"] == summary["summary"]["INSTALLED"]

        wrong = aws(server.url, creds[1], "x" * 40, "describe-patch-baselines")
        assert wrong.returncode != 0 and "InvalidSignatureException" in wrong.stderr
    finally:
        for agent in agents:
            agent.stop()
        server.stop()
