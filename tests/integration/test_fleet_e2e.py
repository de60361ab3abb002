"""The fleet end to end: a real server and real agents on loopback, each agent on its own
sandbox root driven by real apt/dpkg, on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fleet_processes import AgentProcess, Server, wait_for
from sandbox import SECURITY_UPDATES, STANDARD_STATE, NodeFactory

pytestmark = [pytest.mark.slow, pytest.mark.integration]
TERMINAL = {"Success", "Failed", "Incomplete", "TimedOut", "Cancelled"}


@pytest.fixture
def server(fleet_db: str, tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "server-home", fleet_db)
    yield srv
    srv.stop()


def finished(api: httpx.Client, command_id: str) -> dict[str, Any] | None:
    cmd: dict[str, Any] = api.get(f"/api/v1/commands/{command_id}").json()
    return cmd if cmd["status"] in TERMINAL else None


def send(api: httpx.Client, **body: Any) -> str:
    body.setdefault("Parameters", {"Operation": "Scan"})
    r = api.post("/api/v1/commands", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["command_id"])


def states(api: httpx.Client, node_id: str) -> dict[str, str]:
    view = api.get(f"/api/v1/compliance/{node_id}").json()
    return {p["name"]: p["state"] for p in view["patches"]}


def test_fleet_scan_install_and_compliance(
    server: Server, make_node: NodeFactory, tmp_path: Path
) -> None:
    roots = {
        "web1": make_node(name="web1"),
        "web2": make_node(name="web2"),
        "db1": make_node(
            name="db1", **{n.replace("-", "_"): v for n, v in SECURITY_UPDATES.items()}
        ),
    }
    api = server.api(server.admin_token)
    activation = api.post(
        "/api/v1/activations", json={"registration_limit": 3, "tags": {"Patch Group": "fleet"}}
    ).json()
    agents: dict[str, AgentProcess] = {}
    ids: dict[str, str] = {}
    try:
        for name, node in roots.items():
            agent = AgentProcess(tmp_path / f"agent-{name}", tmp_path / f"home-{name}")
            role = "Role=web" if name.startswith("web") else "Role=db"
            ids[name] = agent.register(server.url, activation, node.root, role)
            agents[name] = agent
            agent.start()
        wait_for(
            "inventories",
            lambda: all(api.get(f"/api/v1/nodes/{i}/inventory").json() for i in ids.values()),
        )
        has_bar = api.get("/api/v1/inventory/packages", params={"name": "bar", "version": "2.0-1"})
        assert {h["node_id"] for h in has_bar.json()} == set(ids.values())

        scan = send(api, Targets=[{"Key": "InstanceIds", "Values": ["*"]}])
        done = wait_for("the scan", lambda: finished(api, scan))
        assert done["status"] == "Success", done
        missing = {n for n, s in states(api, ids["web1"]).items() if s == "MISSING"}
        assert missing == set(SECURITY_UPDATES)
        assert "MISSING" not in states(api, ids["db1"]).values()
        summary = api.get("/api/v1/compliance/summary").json()["total"]
        assert (summary["COMPLIANT"], summary["NON_COMPLIANT"]) == (1, 2)

        install = send(
            api,
            Parameters={"Operation": "Install", "RebootOption": "RebootIfNeeded"},
            Targets=[{"Key": "tag:Role", "Values": ["web"]}],
            MaxConcurrency="1",
        )
        done = wait_for("the install", lambda: finished(api, install))
        assert done["status"] == "Success", done
        assert len(done["invocations"]) == 2
        for name in ("web1", "web2"):
            versions = roots[name].dpkg_versions()
            for pkg, version in SECURITY_UPDATES.items():
                assert versions[pkg] == version, (name, pkg)
            assert versions["bar"] == STANDARD_STATE["bar"]  # not approved by the default
        assert roots["db1"].dpkg_versions()["bar"] == STANDARD_STATE["bar"]
        summary = api.get("/api/v1/compliance/summary").json()
        assert summary["total"]["COMPLIANT"] == 3, summary
        assert summary["groups"] == [
            {"key": "fleet", "COMPLIANT": 3, "NON_COMPLIANT": 0, "UNREPORTED": 0, "nodes": 3}
        ]
        # the agents re-uploaded their inventories after the install (a delta)
        wait_for(
            "inventory after install",
            lambda: (
                api.get(
                    "/api/v1/inventory/packages",
                    params={"name": "libfoo1", "version": SECURITY_UPDATES["libfoo1"]},
                )
                .json()
                .__len__()
                == 3
            ),
        )
    finally:
        for agent in agents.values():
            agent.stop()


def _journal_state(state_dir: Path) -> str | None:
    path = state_dir / "journal.db"
    if not path.exists():
        return None
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT state FROM invocations LIMIT 1").fetchone()
    return str(row[0]) if row else None


def _installs(root: Path) -> list[str]:
    log = root / "var/log/dpkg.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [line for line in lines if " upgrade " in line or " install " in line]


def test_agent_killed_mid_install_reports_truth_and_never_installs_twice(
    server: Server, make_node: NodeFactory, tmp_path: Path
) -> None:
    node = make_node(name="crashy")
    before = len(_installs(node.root))
    api = server.api(server.admin_token)
    activation = api.post("/api/v1/activations", json={}).json()
    agent = AgentProcess(tmp_path / "agent", tmp_path / "home")
    node_id = agent.register(server.url, activation, node.root)
    try:
        agent.start()
        wait_for("inventory", lambda: api.get(f"/api/v1/nodes/{node_id}/inventory").json())
        command = send(api, Parameters={"Operation": "Install"}, InstanceIds=[node_id])
        wait_for("the install to start", lambda: _journal_state(agent.state_dir) is not None, 60)
        agent.kill()
        agent.start()
        done = wait_for("the final status", lambda: finished(api, command))
        (inv,) = done["invocations"]
        versions = node.dpkg_versions()
        upgraded = all(versions.get(p) == v for p, v in SECURITY_UPDATES.items())
        assert inv["status"] == ("Success" if upgraded else "Failed"), (inv, versions)
        # the server stores the result before its answer reaches the agent's journal
        wait_for("the ack", lambda: _journal_state(agent.state_dir) == "acked")
        # the re-scanned truth is stored as the interrupted command's operation
        record = api.get(f"/api/v1/compliance/{node_id}").json()
        assert (record["operation"], record["command_id"]) == ("Install", command)
        # give a redelivery every chance to run it twice, then check it did not
        agent.stop()
        agent.start()
        wait_for(
            "a poll", lambda: api.get(f"/api/v1/nodes/{node_id}").json()["ping_status"] == "Online"
        )
        upgrades = _installs(node.root)[before:]
        assert len(upgrades) == len(set(upgrades))
        for pkg in SECURITY_UPDATES:
            assert sum(f" {pkg}:" in line and "upgrade" in line for line in upgrades) <= 1
        assert api.get(f"/api/v1/commands/{command}").json()["invocations"][0]["deliveries"] >= 1
    finally:
        agent.stop()
