"""Governance end to end: a real server (with its governance loop) and real agents on
sandbox roots.  Deploying patching-essentials shows a score; automatic remediation installs
the missing security patches through the agent and tags the untagged node; a runbook that
always fails stops after its attempts with an exception; the score rises — seen through the
API and the CLI."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fleet_processes import AgentProcess, Server, exe, wait_for
from sandbox import SECURITY_UPDATES, NodeFactory

pytestmark = [pytest.mark.slow, pytest.mark.integration]
PACK = Path(__file__).parents[2] / "examples" / "conformance-packs" / "patching-essentials.yaml"


@pytest.fixture
def server(fleet_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("PATCHWARDEN_GOVERNANCE_INTERVAL", "0.5")
    srv = Server(tmp_path / "server-home", fleet_db)
    yield srv
    srv.stop()


def quick_pack() -> dict[str, Any]:
    """The shipped pack with its install remediation made automatic (it ships manual)
    and its grace period removed."""
    pack: dict[str, Any] = yaml.safe_load(PACK.read_text())
    for remediation in pack["spec"]["Remediations"]:
        remediation["GracePeriodSeconds"] = 0
        remediation["Automatic"] = True
    return pack


def score(api: httpx.Client) -> dict[str, Any]:
    found: dict[str, Any] = api.get("/api/v1/conformance-packs/patching-essentials/score").json()
    return found


def cli(server: Server, *argv: str) -> str:
    env = {"PATCHWARDEN_SERVER": server.url, "PATCHWARDEN_TOKEN": server.admin_token}
    out = subprocess.run(
        [exe(), *argv],
        env={**__import__("os").environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_patching_essentials_remediates_and_the_score_rises(
    server: Server, make_node: NodeFactory, tmp_path: Path
) -> None:
    roots = {
        "web1": make_node(name="web1"),  # misses the security updates
        "db1": make_node(
            name="db1", **{n.replace("-", "_"): v for n, v in SECURITY_UPDATES.items()}
        ),
    }
    api = server.api(server.admin_token)
    activation = api.post("/api/v1/activations", json={"registration_limit": 2}).json()
    agents: dict[str, AgentProcess] = {}
    ids: dict[str, str] = {}
    try:
        for name, node in roots.items():
            agent = AgentProcess(tmp_path / f"agent-{name}", tmp_path / f"home-{name}")
            tags = ("Patch Group=web",) if name == "web1" else ()
            ids[name] = agent.register(server.url, activation, node.root, *tags)
            agents[name] = agent
            agent.start()
        failing = {
            "apiVersion": "patchwarden/v1",
            "kind": "Runbook",
            "metadata": {"name": "page-nowhere"},
            "spec": {
                "parameters": {"NodeId": {"type": "String"}},
                "mainSteps": [
                    {"name": "page", "action": "notify", "inputs": {"Destination": "nowhere"}}
                ],
            },
        }
        owner_rule = {
            "apiVersion": "patchwarden/v1",
            "kind": "Rule",
            "metadata": {"name": "has-owner"},
            "spec": {
                "Type": "required-tags",
                "Parameters": {"TagKeys": ["Owner"]},
                "Remediation": {
                    "TargetId": "page-nowhere",
                    "Automatic": True,
                    "Parameters": {"NodeId": {"ResourceValue": {"Value": "RESOURCE_ID"}}},
                    "MaximumAutomaticAttempts": 2,
                    "RetryAttemptSeconds": 2,
                },
            },
        }
        settings = {
            "WebhookDestinations": {"nowhere": "http://127.0.0.1:9/x"},
            "AllowHttpDestinations": True,
            "AllowPrivateDestinations": True,
        }
        r = api.put("/api/v1/governance/settings", json=settings)
        assert r.status_code == 200, r.text
        r = api.post("/api/v1/apply", json=[quick_pack(), failing, owner_rule])
        assert r.status_code == 200, r.text
        first = score(api)
        assert first["rules"]["essentials-patch-group-tag"] in ("NON_COMPLIANT", "COMPLIANT")
        # patch compliance arrives with a scan
        scan = api.post(
            "/api/v1/commands",
            json={
                "Parameters": {"Operation": "Scan"},
                "Targets": [{"Key": "InstanceIds", "Values": ["*"]}],
            },
        ).json()
        wait_for(
            "the scan",
            lambda: api.get(f"/api/v1/commands/{scan['command_id']}").json()["status"] == "Success",
        )
        # the untagged node gets the default Patch Group; web1 is patched by its agent
        wait_for(
            "tag remediation",
            lambda: (
                api.get(f"/api/v1/nodes/{ids['db1']}").json()["tags"].get("Patch Group")
                == "default"
            ),
        )
        wait_for(
            "install remediation",
            lambda: all(
                roots["web1"].dpkg_versions().get(pkg) == version
                for pkg, version in SECURITY_UPDATES.items()
            ),
            patience=180,
        )
        final = wait_for("a perfect score", lambda: (s := score(api))["score"] == 100.0 and s)
        assert final["compliance"] == "COMPLIANT"

        def patched() -> Any:
            params = {"rule": "essentials-patch-compliance"}
            runs = api.get("/api/v1/remediations", params=params).json()["remediations"]
            return runs if [r["status"] for r in runs] == ["SUCCEEDED"] else None

        (run,) = wait_for("the install remediation to end", patched)
        steps = api.get(f"/api/v1/runbook-executions/{run['execution_id']}").json()["steps"]
        assert [(s["name"], s["status"]) for s in steps] == [
            ("install", "Success"),
            ("confirm", "Success"),
        ]

        # the failing runbook stopped after 2 attempts per node, with an exception each
        def exhausted() -> Any:
            found = api.get("/api/v1/remediations", params={"rule": "has-owner"}).json()
            return found if len(found["exceptions"]) == 2 else None

        found = wait_for("exceptions", exhausted, patience=60)
        assert len(found["remediations"]) == 4 and {r["status"] for r in found["remediations"]} == {
            "FAILED"
        }
        # visible from the CLI
        assert "100.0" in cli(server, "conformance", "score", "patching-essentials")
        assert "essentials-patch-compliance" in cli(server, "get", "compliance", "--rules")
        assert "has-owner" in cli(server, "remediation", "list", "--rule", "has-owner")
    finally:
        for agent in agents.values():
            agent.stop()
