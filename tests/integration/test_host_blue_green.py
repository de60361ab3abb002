"""Blue/green of mutable hosts end to end: a real server and two real agents on loopback
(each on its own apt sandbox root, one in patch group web-a, one in web-b, each tagged with
the address of the service it runs — a python http.server standing in for it), a real
nginx router, and a client polling the router all along: green is patched, checked and
switched to, then blue, without a failed request."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from deploy_helpers import Poller
from fleet_processes import AgentProcess, Server, free_port, wait_for
from sandbox import SECURITY_UPDATES, NodeFactory

from patchwarden.adapters.deployers.nginx import NginxRouter

pytestmark = [pytest.mark.slow, pytest.mark.integration]
ENDED = ("Succeeded", "Failed", "Stopped")


def _service(www: Path, body: str, port: int) -> subprocess.Popen[bytes]:
    """A host's service: ``body`` at ``http://127.0.0.1:PORT/``."""
    www.mkdir(parents=True)
    (www / "index.html").write_text(body)
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    proc = subprocess.Popen(
        [*argv, "--directory", str(www)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(f"service on {port}", lambda: _answers(f"http://127.0.0.1:{port}/"), 30)
    return proc


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    if not shutil.which("nginx"):
        pytest.skip("missing tool: nginx")
    srv = Server(tmp_path / "server-home", f"sqlite:///{tmp_path / 'server.db'}")
    yield srv
    srv.stop()
    for state in (tmp_path / "server-home").rglob("groups/web/nginx"):
        NginxRouter(state).stop()


def _run(api: httpx.Client, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = api.get(f"/api/v1/deployment-runs/{run_id}").json()
    return run


def test_patch_groups_blue_green_behind_nginx(
    server: Server, make_node: NodeFactory, tmp_path: Path
) -> None:
    router = free_port()
    api = server.api(server.admin_token)
    activation = api.post("/api/v1/activations", json={"registration_limit": 2}).json()
    hosts = {"a1": "web-a", "b1": "web-b"}
    roots = {name: make_node(name=name) for name in hosts}
    services: list[subprocess.Popen[bytes]] = []
    agents: list[AgentProcess] = []
    poller = Poller(f"http://127.0.0.1:{router}/")
    try:
        for name, group in hosts.items():
            port = free_port()
            services.append(_service(tmp_path / f"www-{name}", f"host {name}", port))
            agent = AgentProcess(tmp_path / f"agent-{name}", tmp_path / f"home-{name}")
            tags = (f"Patch Group={group}", f"ServiceAddress=127.0.0.1:{port}")
            agent.register(server.url, activation, roots[name].root, *tags)
            agents.append(agent)
            agent.start()
        document = {
            "apiVersion": "patchwarden/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "deploymentGroup": {
                    "hosts": {"blue": {"patchGroup": "web-a"}, "green": {"patchGroup": "web-b"}},
                    "trafficRouter": {"type": "nginx", "listen": f"127.0.0.1:{router}"},
                },
                "deploymentConfig": {"type": "BlueGreen"},
                "healthCheck": {
                    "http": {"path": "/", "expectBody": "host"},
                    "intervalSeconds": 0.3,
                    "readyTimeoutSeconds": 30,
                },
            },
        }
        applied = api.post("/api/v1/apply", json=[document])
        assert applied.status_code == 200, applied.text
        started = api.post("/api/v1/deployments/web/start")
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        assert started.json()["image"] == "patch groups web-a/web-b"

        # the client polls from the moment the router serves blue until the end
        wait_for(
            "traffic on blue",
            lambda: any(e["event"] == "TrafficShifted" for e in _run(api, run_id)["events"]),
            60,
        )
        thread = threading.Thread(target=poller.run, daemon=True)
        thread.start()
        run = wait_for("the run", lambda: (r := _run(api, run_id))["status"] in ENDED and r, 120)
        time.sleep(0.5)  # a few requests on the final weights
        poller.stop.set()
        thread.join(10)

        assert run["status"] == "Succeeded", run
        assert [e["event"] for e in run["events"]] == [
            "Created", "InProgress",
            "TrafficShifted", "InstallStarted", "Installed", "Healthy",  # green: web-b
            "TrafficShifted", "InstallStarted", "Installed", "Healthy",  # blue: web-a
            "TrafficShifted", "Succeeded",
        ]  # fmt: skip
        installs = [e["detail"] for e in run["events"] if e["event"] == "InstallStarted"]
        assert "patch group web-b (green)" in installs[0]
        assert "patch group web-a (blue)" in installs[1]
        shares = [e["green_percent"] for e in run["events"] if e["event"] == "TrafficShifted"]
        assert shares == [0, 100, 50]
        for name in hosts:
            versions = roots[name].dpkg_versions()
            for pkg, version in SECURITY_UPDATES.items():
                assert versions[pkg] == version, (name, pkg)
        assert poller.failures == [], poller.failures[:5]
        assert "host a1" in poller.bodies and "host b1" in poller.bodies
        assert set(poller.bodies) == {"host a1", "host b1"}

        # patches are not uninstalled: a finished host run has no rollback
        back = api.post("/api/v1/deployments/web/rollback")
        assert back.status_code == 400 and "not supported" in back.json()["error"]["message"]
    finally:
        poller.stop.set()
        for agent in agents:
            agent.stop()
        for proc in services:
            proc.terminate()
            proc.wait(10)
