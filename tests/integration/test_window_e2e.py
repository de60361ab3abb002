"""A maintenance window end to end: a real server whose scheduler fires an ``at(…)`` window
a few seconds ahead, three agents on sandbox roots driven by real apt/dpkg, canary waves
``[1, "50%"]``, and one node whose security update is a corrupted .deb: the wave holding it
fails, MaxErrors 0 is exceeded and the last wave never starts."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fleet_processes import AgentProcess, Server, exe, wait_for
from sandbox import SECURITY_UPDATES, STANDARD_STATE, NodeFactory, Repo, deb_filename

pytestmark = [pytest.mark.slow, pytest.mark.integration]
TERMINAL = {"SUCCESS", "FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED_OVERLAPPING"}


@pytest.fixture
def server(fleet_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("PATCHWARDEN_SCHEDULER_INTERVAL", "1")
    srv = Server(tmp_path / "server-home", fleet_db)
    yield srv
    srv.stop()


def _document(name: str, when: datetime) -> dict[str, Any]:
    return {
        "apiVersion": "patchwarden/v1",
        "kind": "MaintenanceWindow",
        "metadata": {"name": name},
        "spec": {
            "Schedule": f"at({when:%Y-%m-%dT%H:%M:%S})",
            "Duration": 1,
            "Cutoff": 0,
            "Targets": [{"Key": "tag:Role", "Values": ["web"]}],
            "Tasks": [
                {
                    "Name": "install",
                    "MaxConcurrency": [1, "50%"],
                    "MaxErrors": "0",
                    "TaskInvocationParameters": {
                        "RunCommand": {
                            "Parameters": {"Operation": "Install", "RebootOption": "NoReboot"}
                        }
                    },
                }
            ],
        },
    }


def _cli(server: Server, *argv: str) -> str:
    env = {**os.environ, "PATCHWARDEN_SERVER": server.url, "PATCHWARDEN_TOKEN": server.admin_token}
    out = subprocess.run([exe(), *argv], env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _latest(api: httpx.Client, name: str) -> dict[str, Any] | None:
    runs = api.get(f"/api/v1/windows/{name}/executions").json()
    if not runs or runs[0]["status"] not in TERMINAL:
        return None
    found: dict[str, Any] = api.get(
        f"/api/v1/windows/-/executions/{runs[0]['window_execution_id']}"
    ).json()
    return found


def test_window_patches_in_waves_and_stops_at_max_errors(
    server: Server, deb_repo: Repo, tmp_path: Path
) -> None:
    api = server.api(server.admin_token)
    activation = api.post("/api/v1/activations", json={"registration_limit": 3}).json()
    agents, roots, repos = {}, {}, {}
    try:
        for name in ("web1", "web2", "web3"):
            repos[name] = deb_repo.clone(tmp_path / f"repo-{name}")
            roots[name] = NodeFactory(tmp_path / f"nodes-{name}", repos[name])(name=name)
            agent = AgentProcess(tmp_path / f"agent-{name}", tmp_path / f"home-{name}")
            node_id = agent.register(server.url, activation, roots[name].root, "Role=web")
            agents[node_id] = (name, agent)
            agent.start()
        ids = sorted(agents)
        wait_for(
            "inventories", lambda: all(api.get(f"/api/v1/nodes/{i}/inventory").json() for i in ids)
        )
        # the node of the second wave (targets go in node-id order) gets a corrupted update
        broken = agents[ids[1]][0]
        deb = repos[broken].file(
            "bookworm-security", deb_filename("libfoo1", SECURITY_UPDATES["libfoo1"], "all")
        )
        deb.write_bytes(b"!<arch>\nthis is not a debian package\n" + b"\0" * 64)

        when = (datetime.now(UTC) + timedelta(seconds=4)).replace(microsecond=0)
        path = tmp_path / "window.yaml"
        path.write_text(yaml.safe_dump(_document("web-patching", when)))
        assert "MaintenanceWindow web-patching created" in _cli(server, "apply", "-f", str(path))

        run = wait_for("the window execution", lambda: _latest(api, "web-patching"))
        assert run["status"] == "FAILED", run
        assert run["scheduled_for"].startswith(when.strftime("%Y-%m-%dT%H:%M:%S"))
        (task,) = run["tasks"]
        assert task["waves"] == [1, 1, 1]
        assert task["status"] == "FAILED" and "MaxErrors exceeded" in task["status_details"]
        assert [c["wave"] for c in task["commands"]] == [0, 1]  # the third wave never started
        first, second = (c["invocations"][0] for c in task["commands"])
        assert (first["node_id"], first["status"]) == (ids[0], "Success")
        assert (second["node_id"], second["status"]) == (ids[1], "Failed")

        canary = roots[agents[ids[0]][0]].dpkg_versions()
        assert all(canary[p] == v for p, v in SECURITY_UPDATES.items()), canary
        untouched = roots[agents[ids[2]][0]].dpkg_versions()
        assert all(untouched[p] == STANDARD_STATE[p] for p in SECURITY_UPDATES), untouched
        assert roots[broken].dpkg_versions()["libfoo1"] == STANDARD_STATE["libfoo1"]

        history = _cli(server, "window", "history", "web-patching")
        assert "FAILED" in history and run["window_execution_id"] in history
    finally:
        for _, agent in agents.values():
            agent.stop()
