"""The node component end to end, on the fleet's own Pythons: a real server process, the
install script it serves run by ``dash``, the bundle running on a pyenv interpreter (3.6 …
3.10) against a sandbox root driven by real apt/dpkg (or real rpm/dnf): register, Scan,
Install, and an agent upgrade and rollback rolled out as ``AWS-UpdateSSMAgent`` commands."""

from __future__ import annotations

import glob
import os
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from fleet_processes import PATIENCE, Server, pg_schema, wait_for
from fleet_processes import exe as patchwarden_exe
from rpm_sandbox import (
    STANDARD_STATE as RPM_STANDARD_STATE,
)
from rpm_sandbox import (
    RpmNodeFactory,
    host_rpm_untouched_fixture,  # noqa: F401 (autouse: the host's rpm state never changes)
    make_rpm_node_fixture,  # noqa: F401
    rpm_ready_fixture,  # noqa: F401
    rpm_repo_fixture,  # noqa: F401
)
from sandbox import SECURITY_UPDATES, STANDARD_STATE, NodeFactory

import patchwarden

pytestmark = [pytest.mark.slow, pytest.mark.integration]
TERMINAL = {"Success", "Failed", "Incomplete", "TimedOut", "Cancelled"}
PYENV = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv"))
OSV_FIXTURE = Path(__file__).parents[1] / "data/feeds/osv/ALSA-2023_4520.json"
"""Any feed: the server assesses inventories only once it has a vulnerability database."""


def interpreter(version: str) -> str:
    """The newest pyenv build of ``version`` (skip when this machine has none)."""
    found = sorted(glob.glob(str(PYENV / "versions" / f"{version}.*" / "bin" / "python")))
    if not found:
        pytest.skip(f"no Python {version} under {PYENV}/versions (pyenv install {version})")
    return found[-1]


class InstalledNode:
    """A node installed by the server's install script into ``prefix``, run as a process."""

    def __init__(self, server: Server, python: str, prefix: Path, root: Path) -> None:
        self.server = server
        self.python = python
        self.prefix = prefix
        self.root = root
        self.state_dir = prefix / "var/lib/patchwarden-node"
        self.current = prefix / "opt/patchwarden-node/current.pyz"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = prefix / "node.log"

    def install(self, activation: dict[str, Any], *tags: str) -> subprocess.CompletedProcess[str]:
        script = httpx.get(f"{self.server.url}/agent/install.sh", timeout=30)
        assert script.status_code == 200, script.text
        argv = [
            "dash",
            "-s",
            "--",
            "--activation-id",
            activation["activation_id"],
            "--activation-code",
            activation["activation_code"],
            "--root",
            str(self.root),
            "--python",
            self.python,
            "--prefix",
            str(self.prefix),
            "--no-start",
        ]
        for tag in tags:
            argv += ["--tag", tag]
        return subprocess.run(
            argv, input=script.text, capture_output=True, text=True, timeout=PATIENCE
        )

    def node_id(self) -> str:
        import json

        return str(json.loads((self.state_dir / "node.json").read_text())["node_id"])

    def start(self) -> None:
        """The unit's command line (systemd does not run in this sandbox)."""
        unit = (self.prefix / "etc/systemd/system/patchwarden-node.service").read_text()
        (exec_start,) = [ln for ln in unit.splitlines() if ln.startswith("ExecStart=")]
        argv = [*exec_start.removeprefix("ExecStart=").split(), "--poll-wait", "1"]
        self.proc = subprocess.Popen(
            argv, stdout=self.log.open("a"), stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def finished(api: httpx.Client, command_id: str) -> dict[str, Any] | None:
    cmd: dict[str, Any] = api.get(f"/api/v1/commands/{command_id}").json()
    return cmd if cmd["status"] in TERMINAL else None


def send(api: httpx.Client, **body: Any) -> str:
    r = api.post("/api/v1/commands", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["command_id"])


def run_to_end(api: httpx.Client, node: InstalledNode, **body: Any) -> dict[str, Any]:
    command = send(api, **body)
    done: dict[str, Any] = wait_for(
        f"command {command} (node log: {node.log})", lambda: finished(api, command)
    )
    return done


def states(api: httpx.Client, node_id: str) -> dict[str, str]:
    view = api.get(f"/api/v1/compliance/{node_id}").json()
    return {p["name"]: p["state"] for p in view["patches"]}


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as s:
        yield s


@pytest.mark.parametrize(
    ("python", "database"),
    [("3.6", "sqlite"), ("3.8", "sqlite"), ("3.10", "postgresql")],
    ids=["py3.6-sqlite", "py3.8-sqlite", "py3.10-postgresql"],
)
def test_node_installed_by_the_script_scans_and_installs(
    python: str, database: str, make_node: NodeFactory, tmp_path: Path, stack: ExitStack
) -> None:
    exe = interpreter(python)
    db_url = (
        f"sqlite:///{tmp_path / 'server.db'}"
        if database == "sqlite"
        else stack.enter_context(pg_schema())
    )
    server = Server(tmp_path / "server-home", db_url)
    stack.callback(server.stop)
    api = server.api(server.admin_token)
    activation = api.post("/api/v1/activations", json={"registration_limit": 1}).json()
    node_root = make_node(name="old-python")
    node = InstalledNode(server, exe, tmp_path / "prefix", node_root.root)
    stack.callback(node.stop)

    installed = node.install(activation, "Role=web")
    assert installed.returncode == 0, installed.stderr
    bundle = os.path.realpath(node.current)
    assert Path(bundle).name == f"patchwarden-node-{patchwarden.__version__}.pyz"
    node_id = node.node_id()
    node.start()
    # the node uploads its facts at start: the server rebuilt its inventory
    wait_for("the node's inventory", lambda: api.get(f"/api/v1/nodes/{node_id}/inventory").json())
    facts = api.get(f"/api/v1/nodes/{node_id}").json()
    assert facts["agent_version"] == patchwarden.__version__

    scan = run_to_end(
        api,
        node,
        Parameters={"Operation": "Scan"},
        Targets=[{"Key": "tag:Role", "Values": ["web"]}],
    )
    assert scan["status"] == "Success", scan
    found = states(api, node_id)
    assert {n for n, s in found.items() if s == "MISSING"} == set(SECURITY_UPDATES), found

    install = run_to_end(
        api,
        node,
        Parameters={"Operation": "Install", "RebootOption": "NoReboot"},
        Targets=[{"Key": "InstanceIds", "Values": [node_id]}],
    )
    assert install["status"] == "Success", install
    versions = node_root.dpkg_versions()
    for pkg, version in SECURITY_UPDATES.items():
        assert versions[pkg] == version, pkg
    assert versions["bar"] == STANDARD_STATE["bar"]  # the default baseline does not approve it
    after = states(api, node_id)
    assert "MISSING" not in after.values(), after
    assert {after[p] for p in SECURITY_UPDATES} == {"INSTALLED_PENDING_REBOOT"}, after


def test_agent_upgrade_and_rollback_are_commands(
    make_node: NodeFactory, tmp_path: Path, stack: ExitStack
) -> None:
    from patchwarden.adapters.bundle import build_bundle

    exe = interpreter("3.9")
    home = tmp_path / "server-home"
    server = Server(home, f"sqlite:///{tmp_path / 'server.db'}")
    stack.callback(server.stop)
    api = server.api(server.admin_token)
    activation = api.post("/api/v1/activations", json={"registration_limit": 1}).json()
    node = InstalledNode(server, exe, tmp_path / "prefix", make_node(name="upgraded").root)
    stack.callback(node.stop)
    assert node.install(activation).returncode == 0
    node_id = node.node_id()
    node.start()
    version = patchwarden.__version__
    reported = lambda: api.get(f"/api/v1/nodes/{node_id}").json()["agent_version"]  # noqa: E731
    wait_for("the node's first facts", lambda: reported() == version)

    newer = f"{version}.post1"
    build_bundle(home / "bundles", version=newer)  # an operator drops a newer bundle in
    listed = [b["version"] for b in httpx.get(f"{server.url}/agent/bundles").json()]
    assert listed[0] == newer, listed

    target = [{"Key": "InstanceIds", "Values": [node_id]}]
    up = run_to_end(
        api,
        node,
        DocumentName="AWS-UpdateSSMAgent",
        Parameters={"version": newer},
        Targets=target,
        MaxConcurrency="1",
        MaxErrors="0",
    )
    assert up["status"] == "Success", up
    assert Path(os.path.realpath(node.current)).name == f"patchwarden-node-{newer}.pyz"
    wait_for("the upgraded node's facts", lambda: reported() == newer)

    refused = run_to_end(
        api,
        node,
        DocumentName="AWS-UpdateSSMAgent",
        Parameters={"version": version},
        Targets=target,
    )
    assert refused["status"] == "Failed", refused  # a downgrade needs allowDowngrade

    back = run_to_end(
        api,
        node,
        DocumentName="AWS-UpdateSSMAgent",
        Parameters={"version": version, "allowDowngrade": "true"},
        Targets=target,
    )
    assert back["status"] == "Success", back
    assert Path(os.path.realpath(node.current)).name == f"patchwarden-node-{version}.pyz"
    wait_for("the rolled-back node's facts", lambda: reported() == version)
    # the rolled-back node still works
    scan = run_to_end(api, node, Parameters={"Operation": "Scan"}, Targets=target)
    assert scan["status"] == "Success", scan


def test_rpm_node_on_python_3_6_scans_and_installs_with_dnf(
    make_rpm_node: RpmNodeFactory, tmp_path: Path, stack: ExitStack
) -> None:
    """RHEL 8's Python on an Amazon Linux 2023 sandbox root: the server judges the dnf
    facts, the node runs the exact NEVRAs with real dnf."""
    exe = interpreter("3.6")
    server = Server(tmp_path / "server-home", f"sqlite:///{tmp_path / 'server.db'}")
    stack.callback(server.stop)
    api = server.api(server.admin_token)
    activation = api.post("/api/v1/activations", json={"registration_limit": 1}).json()
    node_root = make_rpm_node(name="rhel-like")
    node = InstalledNode(server, exe, tmp_path / "prefix", node_root.root)
    stack.callback(node.stop)
    installed = node.install(activation)
    assert installed.returncode == 0, installed.stderr
    node_id = node.node_id()
    node.start()
    wait_for("the node's inventory", lambda: api.get(f"/api/v1/nodes/{node_id}/inventory").json())
    about = api.get(f"/api/v1/nodes/{node_id}").json()
    assert "Amazon" in str(about), about
    target = [{"Key": "InstanceIds", "Values": [node_id]}]

    scan = run_to_end(api, node, Parameters={"Operation": "Scan"}, Targets=target)
    assert scan["status"] == "Success", scan
    found = states(api, node_id)
    missing = {n for n, s in found.items() if s == "MISSING"}
    assert missing, found
    # the update notices' CVEs (updateinfo) become the node's findings on the server, with
    # the notice's severity, once the server has a vulnerability database to assess with
    imported = subprocess.run(
        [patchwarden_exe(), "db", "import", str(OSV_FIXTURE)],
        env={**os.environ, "PATCHWARDEN_HOME": str(server.home)},
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
    try:
        findings = wait_for(
            "the node's findings",
            lambda: (f := api.get(f"/api/v1/nodes/{node_id}/findings").json())["findings"] and f,
        )
    except AssertionError:  # say what the server had, and what it logged
        held = api.get(f"/api/v1/nodes/{node_id}/inventory").json()
        seen = api.get(f"/api/v1/nodes/{node_id}/findings").json()
        raise AssertionError(f"no findings: {seen}\n{held}\n{server.log.read_text()}") from None
    by_cve = {f["vulnerability_id"]: f for f in findings["findings"]}
    assert {"CVE-2025-0001", "CVE-2025-0003", "CVE-2025-0007"} <= set(by_cve), sorted(by_cve)
    foo = by_cve["CVE-2025-0001"]
    assert (foo["package_name"], foo["fixed_version"], foo["severity"]) == (
        "foo",
        "1.1-1.amzn2023",
        "CRITICAL",
    )
    assert "ALAS2023-2025-001" in foo["aliases"]

    install = run_to_end(
        api,
        node,
        Parameters={"Operation": "Install", "RebootOption": "NoReboot"},
        Targets=target,
    )
    assert install["status"] == "Success", (install, node.log.read_text())
    after = states(api, node_id)
    assert "MISSING" not in after.values(), after
    versions = node_root.rpm_versions()
    old = {s.name: s.evr for s in RPM_STANDARD_STATE}
    for name in missing:
        assert max(versions[name]) != old[name] or len(versions[name]) > 1, (name, versions)
