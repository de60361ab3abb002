"""The node bundle: built deterministically, run by a node's old Python, served under
``/agent`` with its installer, and rolled out with ``AWS-UpdateSSMAgent`` (which the full,
pip-installed agent refuses)."""

from __future__ import annotations

import glob
import hashlib
import io
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import Api, FakeClock, error_of

import patchwarden
from patchwarden import wire
from patchwarden.adapters.bundle import (
    BundleStore,
    build_bundle,
    bundle_bytes,
    file_name,
    install_script,
    version_key,
)

VERSION = patchwarden.__version__
DASH = shutil.which("dash")


def node_sources() -> set[str]:
    """The archive names of ``patchwarden/node/**.py`` as installed."""
    found: set[str] = set()

    def walk(entry: Any, prefix: str) -> None:
        for child in entry.iterdir():
            if child.is_dir() and child.name != "__pycache__":
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(".py"):
                found.add(prefix + child.name)

    walk(resources.files("patchwarden") / "node", "patchwarden/node/")
    return found


# -- the bundle ------------------------------------------------------------------------


def test_the_same_sources_give_the_same_bundle(tmp_path: Path) -> None:
    first = build_bundle(tmp_path / "a")
    second = build_bundle(tmp_path / "b")
    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.version == VERSION
    assert first.path.name == f"patchwarden-node-{VERSION}.pyz"
    assert first.size == first.path.stat().st_size
    assert first.sha256 == hashlib.sha256(first.path.read_bytes()).hexdigest()
    assert first.path.stat().st_mode & 0o777 == 0o755
    sidecar = first.path.with_name(first.path.name + ".sha256")
    assert sidecar.read_text() == f"{first.sha256}  {first.path.name}\n"
    assert not list(tmp_path.glob("*/*.tmp"))  # written atomically: no temporary left


def test_the_bundle_holds_exactly_the_node_component(tmp_path: Path) -> None:
    content = build_bundle(tmp_path, "1.2.3").path.read_bytes()
    assert content.startswith(b"#!/usr/bin/env python3\n")
    archive = zipfile.ZipFile(io.BytesIO(content))
    names = archive.namelist()
    assert names == sorted(names)
    expected = {
        "__main__.py",
        "patchwarden/__init__.py",
        "patchwarden/wire.py",
        "patchwarden/aptcmd.py",
        "patchwarden/dnfcmd.py",
        "patchwarden/apkcmd.py",
        "patchwarden/zyppercmd.py",
        "patchwarden/osnames.py",
    } | node_sources()
    assert set(names) == expected
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]
    for info in archive.infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
    init = archive.read("patchwarden/__init__.py").decode()
    assert '__version__ = "1.2.3"' in init
    assert init.startswith('"""')
    assert "import" not in init  # the docstring and the version only
    wire_py = resources.files("patchwarden").joinpath("wire.py").read_bytes()
    assert archive.read("patchwarden/wire.py") == wire_py
    assert b"patchwarden.node.main import main" in archive.read("__main__.py")


def test_a_version_changes_the_bundle() -> None:
    assert bundle_bytes("1.0.0") != bundle_bytes("1.0.1")


@pytest.mark.parametrize("version", ["", "../x", ".1", "1/2", "1 2", "1\n2"])
def test_a_bundle_version_is_a_safe_name(tmp_path: Path, version: str) -> None:
    with pytest.raises(ValueError):
        build_bundle(tmp_path, version or "-")
    assert BundleStore(tmp_path).get(version) is None


def old_python() -> str:
    found = sorted(glob.glob("/root/.pyenv/versions/3.6.*/bin/python"))
    if not found:
        pytest.skip("no Python 3.6 under /root/.pyenv/versions")
    return found[-1]


def test_the_bundle_runs_on_python_3_6(tmp_path: Path) -> None:
    python = old_python()
    bundle = build_bundle(tmp_path, "7.8.9")
    out = subprocess.run(
        [python, str(bundle.path), "version"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "patchwarden-node 7.8.9"


# -- the store -------------------------------------------------------------------------


def test_versions_compare_numerically() -> None:
    order = ["0.2.0.dev1", "0.2.0rc1", "0.2.0", "0.2.0.post1", "0.2.0.1", "0.9.1", "0.10.0"]
    assert sorted(reversed(order), key=version_key) == order


def test_the_store_lists_every_bundle_newest_first(tmp_path: Path) -> None:
    for version in ("0.9.1", "0.10.0", "0.2.0"):
        build_bundle(tmp_path, version)
    (tmp_path / "patchwarden-node-notes.txt").write_text("not a bundle")
    (tmp_path / "patchwarden-node-.pyz").write_bytes(b"no version")
    dropped = tmp_path / file_name("0.3.0")  # an operator's copy: no sidecar yet
    dropped.write_bytes(b"PK any bytes")
    store = BundleStore(tmp_path, current_version="0.10.0")
    listed = store.list()
    assert [b.version for b in listed] == ["0.10.0", "0.9.1", "0.3.0", "0.2.0"]
    third = store.get("0.3.0")
    assert third is not None and third.sha256 == hashlib.sha256(b"PK any bytes").hexdigest()
    assert dropped.with_name(dropped.name + ".sha256").exists()  # cached for the next start
    assert store.get("4.0") is None
    current = store.current()
    assert current is not None and current.version == "0.10.0"


def test_a_replaced_bundle_is_hashed_again(tmp_path: Path) -> None:
    store = BundleStore(tmp_path)
    path = tmp_path / file_name("1.0")
    path.write_bytes(b"one")
    first = store.get("1.0")
    path.write_bytes(b"other content")
    second = store.get("1.0")
    assert first is not None and second is not None
    assert second.sha256 == hashlib.sha256(b"other content").hexdigest() != first.sha256


def test_ensure_current_builds_once_and_replaces_a_stale_copy(tmp_path: Path) -> None:
    store = BundleStore(tmp_path / "bundles")
    built = store.ensure_current()
    assert built.version == VERSION and built.path.exists()
    mtime = built.path.stat().st_mtime_ns
    assert store.ensure_current() == built
    assert built.path.stat().st_mtime_ns == mtime  # not rewritten
    built.path.write_bytes(b"built from other sources")
    again = store.ensure_current()
    assert again.sha256 == built.sha256
    assert built.path.read_bytes() == bundle_bytes(VERSION)


# -- the routes ------------------------------------------------------------------------


@pytest.fixture
def bundle_api(
    db_url: str, clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Api]:
    """A TestClient on an app whose data directory is the test's own (with an older
    bundle left in it); ``public_url`` from ``request.param`` when parametrised."""
    from fastapi.testclient import TestClient

    from patchwarden.server.app import bootstrap_admin, create_app
    from patchwarden.server.settings import ServerSettings

    build_bundle(tmp_path / "bundles", "0.0.9")
    settings = ServerSettings(
        database_url=db_url,
        clock=clock,
        migrate=False,
        replica_id="test-replica",
        poll_check_interval=0.05,
        data_dir=tmp_path,
        public_url=getattr(request, "param", None),
    )
    app = create_app(settings)
    admin = bootstrap_admin(app.state.db, settings)
    assert admin is not None
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, admin, clock)


def current_sha(api: Api) -> str:
    (found,) = [b for b in api.client.get("/agent/bundles").json() if b["version"] == VERSION]
    return str(found["sha256"])


def test_bundles_are_listed_without_credentials(bundle_api: Api) -> None:
    answer = bundle_api.client.get("/agent/bundles")
    assert answer.status_code == 200
    listed = answer.json()
    assert [b["version"] for b in listed] == sorted(
        [VERSION, "0.0.9"], key=version_key, reverse=True
    )
    assert all(set(b) == {"version", "sha256", "size"} for b in listed)


def test_a_bundle_and_its_checksum_are_downloaded(bundle_api: Api) -> None:
    answer = bundle_api.client.get(f"/agent/bundle/{VERSION}.pyz")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    assert hashlib.sha256(answer.content).hexdigest() == current_sha(bundle_api)
    assert answer.content == bundle_bytes(VERSION)
    line = bundle_api.client.get(f"/agent/bundle/{VERSION}.pyz.sha256")
    assert line.status_code == 200 and line.headers["content-type"].startswith("text/plain")
    assert line.text == f"{current_sha(bundle_api)}  patchwarden-node-{VERSION}.pyz\n"
    older = bundle_api.client.get("/agent/bundle/0.0.9.pyz")
    assert older.status_code == 200 and older.content == bundle_bytes("0.0.9")


def test_unknown_and_malformed_versions(bundle_api: Api) -> None:
    for path in ("/agent/bundle/9.9.9.pyz", "/agent/bundle/9.9.9.pyz.sha256"):
        answer = bundle_api.client.get(path)
        assert error_of(answer) == (404, "not_found")
        assert "\n" not in answer.json()["error"]["message"]
    for path in ("/agent/bundle/-1.pyz", "/agent/bundle/..pyz", "/agent/bundle/a%20b.pyz.sha256"):
        assert error_of(bundle_api.client.get(path)) == (400, "invalid_request"), path


def test_the_agent_routes_are_get_only(bundle_api: Api) -> None:
    for path in ("/agent/bundles", f"/agent/bundle/{VERSION}.pyz", "/agent/install.sh"):
        answer = bundle_api.client.post(path, content=b"x")
        assert answer.status_code == 405, path


def run_dash(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    if DASH is None:
        pytest.skip("dash is not installed")
    return subprocess.run(
        [DASH, *args], input=script, capture_output=True, text=True, timeout=60, check=False
    )


def test_install_sh_names_this_server_and_its_bundle(bundle_api: Api) -> None:
    answer = bundle_api.client.get("/agent/install.sh")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/x-shellscript")
    script = answer.text
    assert script.startswith("#!/bin/sh\n")
    assert "SERVER_URL='http://testserver'\n" in script
    assert f"VERSION='{VERSION}'\n" in script
    assert f"SHA256='{current_sha(bundle_api)}'\n" in script
    assert "@@" not in script
    checked = run_dash(script, "-n")
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("bundle_api", ["https://patch.example.com:8443/fleet"], indirect=True)
def test_install_sh_uses_the_public_url(bundle_api: Api) -> None:
    script = bundle_api.client.get("/agent/install.sh").text
    assert "SERVER_URL='https://patch.example.com:8443/fleet'\n" in script
    assert "testserver" not in script


def test_install_sh_quotes_the_url(tmp_path: Path) -> None:
    bundle = build_bundle(tmp_path)
    url = "http://host/it's;$(reboot)&x='"
    script = install_script(url, bundle)
    shown = run_dash(
        "\n".join(line for line in script.splitlines() if line.startswith("SERVER_URL="))
        + '\nprintf "%s" "$SERVER_URL"\n'
    )
    assert shown.returncode == 0 and shown.stdout == url
    for bad in ("http://host/a b", "http://host/\nrm -rf /", 'http://h/"', "ftp://h"):
        with pytest.raises(ValueError):
            install_script(bad, bundle)


def test_install_sh_usage_and_argument_errors(tmp_path: Path) -> None:
    script = install_script("http://127.0.0.1:9", build_bundle(tmp_path))
    usage = run_dash(script, "-s", "--", "--help")
    assert usage.returncode == 0 and "--activation-id" in usage.stdout
    for args, problem in (
        (["--bogus"], "unknown argument '--bogus'"),
        (["--tag"], "--tag needs a value"),
        (["--tag", "novalue"], "--tag 'novalue' is not KEY=VALUE"),
        (["--prefix", str(tmp_path / "p")], "--activation-id and --activation-code are required"),
    ):
        out = run_dash(script, "-s", "--", *args)
        assert out.returncode != 0
        lines = out.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("install.sh: "), out.stderr
        assert problem in lines[0] and "; " in lines[0]


# -- AWS-UpdateSSMAgent ----------------------------------------------------------------


def update_agent(api: Api, node_id: str, **params: Any) -> Any:
    return api.send(
        DocumentName=wire.UPDATE_AGENT_DOCUMENT, InstanceIds=[node_id], Parameters=params
    )


def test_update_agent_is_sent_with_a_held_version(bundle_api: Api) -> None:
    node = bundle_api.register()
    sent = update_agent(bundle_api, node.id, version="0.0.9", allowDowngrade="true")
    assert sent.status_code == 201, sent.text
    assert sent.json()["document_name"] == "AWS-UpdateSSMAgent"
    (delivery,) = node.poll()
    assert delivery["document_name"] == "AWS-UpdateSSMAgent"
    assert delivery["parameters"] == {"version": "0.0.9", "allowDowngrade": "true"}
    assert delivery["baseline"] is None and delivery["baseline_source"] == ""
    parsed = wire.Delivery.from_json(delivery)
    assert parsed.document_name == wire.UPDATE_AGENT_DOCUMENT
    reported = node.call(
        "POST",
        f"/api/v1/agent/invocations/{delivery['invocation_id']}",
        json={"status": "Success", "response_code": 0, "output": "updated"},
    )
    assert reported.status_code == 200, reported.text
    assert reported.json()["command_status"] == "Success"


def test_update_agent_defaults_to_the_servers_own_version(bundle_api: Api) -> None:
    node = bundle_api.register()
    sent = update_agent(bundle_api, node.id)
    assert sent.status_code == 201, sent.text
    assert sent.json()["parameters"] == {"version": VERSION, "allowDowngrade": "false"}
    (delivery,) = node.poll()
    assert delivery["parameters"] == {"version": VERSION, "allowDowngrade": "false"}


def test_update_agent_keeps_rate_control_and_targets(bundle_api: Api) -> None:
    nodes = [bundle_api.register(tags={"Env": "prod"}) for _ in range(3)]
    sent = bundle_api.send(
        DocumentName=wire.UPDATE_AGENT_DOCUMENT,
        Targets=[{"Key": "tag:Env", "Values": ["prod"]}],
        Parameters={"version": [VERSION]},  # AWS lists of strings
        MaxConcurrency="1",
        MaxErrors="0",
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["target_count"] == 3
    assert sum(len(n.poll()) for n in nodes) == 1  # one node at a time


def test_update_agent_refuses_an_unknown_version(bundle_api: Api) -> None:
    node = bundle_api.register()
    refused = update_agent(bundle_api, node.id, version="9.9.9")
    assert error_of(refused) == (400, "invalid_request")
    message = refused.json()["error"]["message"]
    assert "9.9.9" in message and VERSION in message and "0.0.9" in message
    assert "\n" not in message
    assert node.poll() == []


@pytest.mark.parametrize(
    "params",
    [
        {"version": "../../etc"},
        {"allowDowngrade": "maybe"},
        {"Operation": "Install"},  # RunPatchBaseline's parameters are not this document's
    ],
)
def test_update_agent_parameters_are_checked(bundle_api: Api, params: dict[str, Any]) -> None:
    node = bundle_api.register()
    assert error_of(update_agent(bundle_api, node.id, **params)) == (400, "invalid_request")


def test_run_patch_baseline_still_needs_its_operation(bundle_api: Api) -> None:
    node = bundle_api.register()
    refused = bundle_api.send(InstanceIds=[node.id], Parameters={"version": VERSION})
    assert error_of(refused) == (400, "invalid_request")


def test_the_openapi_document_lists_the_agent_routes(bundle_api: Api) -> None:
    paths = bundle_api.client.get("/openapi.json").json()["paths"]
    download = paths["/agent/bundle/{version}.pyz"]["get"]["responses"]
    assert {"200", "400", "404"} <= set(download)
    assert "application/zip" in download["200"]["content"]
    assert "text/x-shellscript" in paths["/agent/install.sh"]["get"]["responses"]["200"]["content"]


# -- the full agent --------------------------------------------------------------------


def test_the_pip_agent_refuses_update_agent(tmp_path: Path) -> None:
    from patchwarden.agent.execute import Executor, ended_line

    delivery = wire.Delivery(
        invocation_id="inv-1",
        command_id="cmd-1",
        document_name=wire.UPDATE_AGENT_DOCUMENT,
        parameters={"version": "0.2.0", "allowDowngrade": "false"},
    )
    outcome = Executor(str(tmp_path / "no-root"), tmp_path).run(delivery)
    assert outcome.result == wire.InvocationResult(
        "Failed",
        2,
        "AWS-UpdateSSMAgent: this agent is installed with pip; "
        "upgrade it with pip install --upgrade patchwarden",
    )
    assert outcome.inventory is None
    assert "AWS-UpdateSSMAgent Failed (response code 2)" in ended_line(delivery, outcome, 0.1)
