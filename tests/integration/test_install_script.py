"""The installer a real ``patchwarden server`` serves, run by ``dash`` into a ``--prefix``:
a download that does not match the checksum written into the script installs nothing; a
good one installs the bundle, the symlink, the registration and the systemd unit, and
running the script again upgrades in place without registering again."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fleet_processes import Server

import patchwarden

pytestmark = pytest.mark.integration
VERSION = patchwarden.__version__
BUNDLE = f"patchwarden-node-{VERSION}.pyz"
DASH = shutil.which("dash")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("install-server")
    running = Server(home, f"sqlite:///{home / 'server.db'}")
    try:
        yield running
    finally:
        running.stop()


def served_file(server: Server) -> Path:
    """The bundle in the server's data directory (its ``PATCHWARDEN_HOME``, where its log is)."""
    return server.log.parent / "bundles" / BUNDLE


def script_of(server: Server) -> str:
    answer = httpx.get(f"{server.url}/agent/install.sh", timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.text


def install(script: str, prefix: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``curl …/install.sh | sh -s -- --prefix PREFIX --no-start ARGS`` with dash."""
    if DASH is None:
        pytest.skip("dash is not installed")
    argv = [DASH, "-s", "--", "--prefix", str(prefix), "--no-start", *args]
    return subprocess.run(argv, input=script, capture_output=True, text=True, timeout=120)


def activation(server: Server) -> list[str]:
    with server.api(server.admin_token) as api:
        made = api.post("/api/v1/activations", json={"registration_limit": 1})
        assert made.status_code == 201, made.text
        body = made.json()
    return ["--activation-id", body["activation_id"], "--activation-code", body["activation_code"]]


def test_a_bundle_that_fails_its_checksum_installs_nothing(server: Server, tmp_path: Path) -> None:
    script = script_of(server)  # names the SHA-256 of the bundle as it is now
    bundle = served_file(server)
    original = bundle.read_bytes()
    try:
        bundle.write_bytes(original + b"tampered")  # what the server now sends differs
        out = install(script, tmp_path / "prefix", "--activation-id", "a", "--activation-code", "b")
    finally:
        bundle.write_bytes(original)
    assert out.returncode != 0
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"install.sh: the downloaded {BUNDLE} has SHA-256 ")
    assert "nothing was installed" in lines[0]
    opt = tmp_path / "prefix/opt/patchwarden-node"
    assert not (opt / "current.pyz").exists() and not (opt / "current.pyz").is_symlink()
    assert list((opt / "bundles").iterdir()) == []  # no bundle, no temporary file
    assert not (tmp_path / "prefix/var/lib/patchwarden-node").exists()
    assert not (tmp_path / "prefix/etc").exists()


def test_an_unreachable_server_is_one_line(server: Server, tmp_path: Path) -> None:
    script = script_of(server).replace(
        f"SERVER_URL='{server.url}'", "SERVER_URL='http://127.0.0.1:9'"
    )
    out = install(script, tmp_path, "--activation-id", "a", "--activation-code", "b")
    assert out.returncode != 0
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("install.sh: downloading http://127.0.0.1:9/agent/bundle/")


def test_install_registers_writes_the_unit_and_upgrades_in_place(
    server: Server, tmp_path: Path
) -> None:
    python = shutil.which("python3")
    assert python is not None
    prefix = tmp_path / "prefix"
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    shutil.copy("/etc/os-release", root / "etc/os-release")
    args = ("--tag", "Env=test", "--root", str(root), "--python", python)
    done = install(script_of(server), prefix, *activation(server), *args)
    assert done.returncode == 0, done.stderr + done.stdout
    opt = prefix / "opt/patchwarden-node"
    current = opt / "current.pyz"
    assert current.is_symlink() and os.readlink(current) == f"bundles/{BUNDLE}"
    assert (opt / "bundles" / BUNDLE).read_bytes() == served_file(server).read_bytes()
    state = prefix / "var/lib/patchwarden-node"
    node_id = json.loads((state / "node.json").read_text())["node_id"]
    unit = (prefix / "etc/systemd/system/patchwarden-node.service").read_text()
    (exec_start,) = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    interpreter = exec_start.removeprefix("ExecStart=").split()[0]
    assert exec_start == f"ExecStart={interpreter} {current} run --state-dir {state}"
    assert os.path.isabs(interpreter)
    for line in ("Restart=always", "RestartSec=10", "After=network-online.target"):
        assert line in unit.splitlines()
    assert "installed; the unit is" in done.stdout  # --no-start: it says how to start it
    with server.api(server.admin_token) as api:
        node = api.get(f"/api/v1/nodes/{node_id}")
        assert node.status_code == 200, node.text
        assert node.json()["tags"].get("Env") == "test"

    again = install(script_of(server), prefix)  # no activation needed: it is registered
    assert again.returncode == 0, again.stderr
    assert "already registered" in again.stdout and "already here and intact" in again.stdout
    assert json.loads((state / "node.json").read_text())["node_id"] == node_id
