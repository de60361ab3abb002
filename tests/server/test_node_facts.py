"""The node component's server side: blobs by content, facts as the node's inventory, and
RunPatchBaseline evaluated on the server from a sandbox root's files (real apt/dpkg), as
``patchwarden scan`` / ``install`` evaluate it locally."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import Api, Node, error_of

sys.path.insert(0, str(Path(__file__).parent.parent / "integration"))

from sandbox import (
    SECURITY_UPDATES,
    NodeFactory,
    Repo,
    SandboxNode,
    build_repo,
    host_arch,
    missing_tools,
)

from patchwarden import aptcmd, wire
from patchwarden.adapters import blobs
from patchwarden.adapters.state import LocalState
from patchwarden.pipeline import install as installing
from patchwarden.pipeline.scan import scan

SNAPSHOT = "8b1c6c5e-3f0a-4d52-9a6e-2f4d5b8e7c10"
FACT_PATHS = ("var/lib/dpkg", "var/lib/apt/lists", "etc/apt", "etc", "run")
FACT_FILES = ("os-release", "machine-id", "hostname", "reboot-required", "reboot-required.pkgs")


@pytest.fixture(autouse=True)
def server_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The server's data directory (blobs, rebuilt roots) inside the test's directory."""
    home = tmp_path / "server-home"
    monkeypatch.setenv("PATCHWARDEN_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    missing = missing_tools()
    if missing:
        pytest.skip(f"missing tools for apt sandboxes: {', '.join(missing)}")
    if os.geteuid() != 0:
        pytest.skip("dpkg --root installs need root")
    base = tmp_path_factory.mktemp("node-facts-repo")
    return build_repo(base / "repo", base / "work")


@pytest.fixture
def make_node(repo: Repo, tmp_path: Path) -> NodeFactory:
    return NodeFactory(tmp_path / "nodes", repo)


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(node: Node, data: bytes, digest: str | None = None, raw: bytes | None = None) -> Any:
    return node.call(
        "PUT",
        f"/api/v1/agent/blobs/{digest or sha(data)}",
        content=gz(data) if raw is None else raw,
        headers={"Content-Type": "application/gzip"},
    )


def stored_files(home: Path) -> list[Path]:
    return sorted(p for p in (home / "blobs").rglob("*") if p.is_file())


def root_facts(root: Path, hostname: str) -> tuple[wire.RootFacts, dict[str, bytes]]:
    """What the node component lists of a sandbox root, and the bodies by hash."""
    files: list[wire.FactFile] = []
    bodies: dict[str, bytes] = {}
    for top in FACT_PATHS:
        base = root / top
        found = [base / f for f in FACT_FILES] if top in ("etc", "run") else base.rglob("*")
        for path in sorted(found):
            rel = path.relative_to(root).as_posix()
            if not path.is_file() or "/partial/" in rel or path.name == "lock":
                continue
            if top == "var/lib/dpkg" and "/" in rel.removeprefix("var/lib/dpkg/"):
                continue  # info/, updates/, triggers/: not read
            data = path.read_bytes()
            bodies[sha(data)] = data
            files.append(wire.FactFile(rel, sha(data), len(data)))
    facts = wire.RootFacts(
        "apt", str(root), hostname, files, None, False, host_arch(), "node-0.1", None
    )
    return facts, bodies


def upload(node: Node, root: SandboxNode, hostname: str = "box") -> wire.RootFacts:
    facts, bodies = root_facts(root.root, hostname)
    r = node.call("POST", "/api/v1/agent/blobs/missing", json={"hashes": facts.hashes()})
    assert r.status_code == 200, r.text
    for h in r.json()["missing"]:
        assert put(node, bodies[h]).status_code == 201
    return facts


def invocation(api: Api, node: Node, **params: str) -> dict[str, Any]:
    r = api.send(InstanceIds=[node.id], Parameters=params)
    assert r.status_code in (200, 201), r.text
    (found,) = node.poll()
    return found


def evaluate(node: Node, inv: str, phase: str, facts: wire.RootFacts, **more: Any) -> Any:
    body = wire.EvaluateRequest(phase, facts, **more).to_json()
    return node.call("POST", f"/api/v1/agent/invocations/{inv}/evaluate", json=body)


def states(report: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["state"] for p in report["patches"]}


@pytest.fixture
def local_state(tmp_path: Path) -> Iterator[LocalState]:
    state = LocalState(tmp_path / "local-state" / "state.db")
    yield state
    state.close()


# -- blobs -----------------------------------------------------------------------------------


def test_missing_blobs_are_named_and_an_upload_is_stored_once(api: Api, server_home: Path) -> None:
    node = api.register()
    data = b"Package: x\n"
    other = sha(b"something else")
    r = node.call("POST", "/api/v1/agent/blobs/missing", json={"hashes": [sha(data), other]})
    assert r.status_code == 200 and r.json() == {"missing": [sha(data), other]}
    first = put(node, data)
    assert first.status_code == 201 and first.json() == {"sha256": sha(data), "size": len(data)}
    assert put(node, data).status_code == 200  # already held
    r = node.call("POST", "/api/v1/agent/blobs/missing", json={"hashes": [sha(data), other]})
    assert r.json() == {"missing": [other]}
    (only,) = stored_files(server_home)
    assert only.read_bytes() == data and only.name == sha(data)
    bad = node.call("POST", "/api/v1/agent/blobs/missing", json={"hashes": ["xyz"]})
    assert error_of(bad) == (400, "invalid_request")
    # operators are not nodes
    assert api.call("POST", "/api/v1/agent/blobs/missing", json={"hashes": []}).status_code == 403


def test_blob_uploads_that_are_not_what_they_claim_store_nothing(
    api: Api, server_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = api.register()
    data = b"\x00binary\x00 content with NUL\n" * 10
    assert error_of(put(node, data, digest=sha(b"other"))) == (400, "invalid_request")
    assert error_of(put(node, data, raw=data)) == (400, "invalid_request")  # not gzip
    assert error_of(put(node, data, raw=gz(data)[:-6])) == (400, "invalid_request")  # cut
    assert error_of(put(node, data, digest="ABC")) == (400, "invalid_request")
    monkeypatch.setattr(blobs, "MAX_BLOB", 100)
    assert error_of(put(node, data)) == (413, "too_large")
    assert stored_files(server_home) == []
    monkeypatch.setattr(blobs, "MAX_BLOB", 10_000)
    ok = put(node, data)  # binary content with NUL bytes is fine: no JSON checks here
    assert ok.status_code == 201, ok.text
    several = gz(data[:50]) + gz(data[50:])  # concatenated gzip members, like gzip -d reads
    assert put(node, data + b"x", digest=sha(data), raw=several).status_code == 200
    assert [p.name for p in stored_files(server_home)] == [sha(data)]


def test_the_blob_route_has_its_own_body_limit() -> None:
    from patchwarden.server.limits import BLOB_LIMIT, is_binary, limit_for

    digest = "0" * 64
    assert limit_for("PUT", f"/api/v1/agent/blobs/{digest}") == BLOB_LIMIT
    assert is_binary("PUT", f"/api/v1/agent/blobs/{digest}")
    assert not is_binary("POST", "/api/v1/agent/blobs/missing")
    assert limit_for("POST", "/api/v1/agent/invocations/i-1/evaluate") > 8 * 1024 * 1024


# -- facts and evaluation on sandbox roots --------------------------------------------------


def test_facts_become_the_node_inventory(
    api: Api, make_node: NodeFactory, server_home: Path
) -> None:
    node = api.register()
    sandbox = make_node(name="box")
    facts = upload(node, sandbox)
    r = node.call("POST", "/api/v1/agent/facts", json=facts.to_json())
    assert r.status_code == 200, r.text
    ack = wire.InventoryAck.from_json(r.json())
    assert ack.installed_count == len(sandbox.dpkg_versions())
    shown = api.ok("GET", f"/api/v1/nodes/{node.id}/inventory")
    installed = {i["name"]: i["version"] for i in shown if i["kind"] == "installed"}
    assert installed == sandbox.dpkg_versions()
    updates = {(i["name"], i["version"]) for i in shown if i["kind"] == "update"}
    assert set(SECURITY_UPDATES.items()) <= updates
    about = api.ok("GET", f"/api/v1/nodes/{node.id}")
    assert about["hostname"] == "box" and about["agent_version"] == "node-0.1"
    root = server_home / "nodes" / node.id / "root"
    assert (root / "etc/hostname").read_text() == "box\n"
    assert os.path.islink(root / "var/lib/dpkg/status")
    # a file no longer listed goes away from the rebuilt root
    fewer = facts._replace(files=[f for f in facts.files if f.path != "etc/machine-id"])
    assert node.call("POST", "/api/v1/agent/facts", json=fewer.to_json()).status_code == 200
    assert not os.path.lexists(root / "etc/machine-id")


def test_pruning_drops_what_only_deregistered_nodes_used(
    api: Api, make_node: NodeFactory, server_home: Path
) -> None:
    from patchwarden.server.fleet import node_files

    kept, gone = api.register(), api.register()
    facts = upload(kept, make_node(name="kept"))
    assert kept.call("POST", "/api/v1/agent/facts", json=facts.to_json()).status_code == 200
    sandbox = make_node(name="gone")
    (sandbox.root / "etc/machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    facts_gone = upload(gone, sandbox)
    assert gone.call("POST", "/api/v1/agent/facts", json=facts_gone.to_json()).status_code == 200
    only_gone = set(facts_gone.hashes()) - set(facts.hashes())
    assert only_gone  # its own machine-id at least
    api.ok("DELETE", f"/api/v1/nodes/{gone.id}")
    app = api.client.app
    assert node_files.prune(app.state.db, app.state.settings).blobs == 0  # all younger than a day
    done = node_files.prune(app.state.db, app.state.settings, grace=0)
    assert done.roots == 1 and done.blobs == len(only_gone)
    assert not (server_home / "nodes" / gone.id).exists()
    store = blobs.BlobStore(server_home / "blobs")
    assert store.missing(facts.hashes()) == []
    assert sorted(store.missing(sorted(only_gone))) == sorted(only_gone)


def test_facts_naming_a_blob_the_server_lacks_are_refused_with_the_list(
    api: Api, make_node: NodeFactory
) -> None:
    node = api.register()
    facts, _ = root_facts(make_node(name="box", update=False).root, "box")
    r = node.call("POST", "/api/v1/agent/facts", json=facts.to_json())
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "missing_blobs"
    assert sorted(r.json()["error"]["missing"]) == facts.hashes()
    inv = invocation(api, node, Operation="Scan")
    r = evaluate(node, inv["invocation_id"], "scan", facts)
    assert r.status_code == 409 and r.json()["error"]["code"] == "missing_blobs"


def test_malformed_facts_are_one_line_400s(api: Api) -> None:
    node = api.register()
    file = {"path": "../etc/passwd", "sha256": "0" * 64, "size": 1}
    body = {"manager": "apt", "root": "/", "files": [file]}
    r = node.call("POST", "/api/v1/agent/facts", json=body)
    assert error_of(r) == (400, "invalid_request")
    assert "\n" not in r.json()["error"]["message"]
    twice = {**body, "files": [{**file, "path": "etc/a"}, {**file, "path": "etc/a/b"}]}
    assert error_of(node.call("POST", "/api/v1/agent/facts", json=twice)) == (
        400,
        "invalid_request",
    )
    empty = {"manager": "apt", "root": "/", "files": []}  # no dpkg database
    assert error_of(node.call("POST", "/api/v1/agent/facts", json=empty))[0] == 400


def test_scan_on_the_server_judges_as_a_local_scan(
    api: Api, make_node: NodeFactory, local_state: LocalState
) -> None:
    node = api.register()
    sandbox = make_node(name="box")
    facts = upload(node, sandbox)
    inv = invocation(api, node, Operation="Scan", SnapshotId=SNAPSHOT)
    r = evaluate(node, inv["invocation_id"], "scan", facts)
    assert r.status_code == 200, r.text
    answer = wire.Evaluation.from_json(r.json())
    assert answer.report is not None and answer.order is None
    local = scan(sandbox.pm(), None, api.clock.now(), state=local_state)
    assert states(answer.report) == {i.name: i.state.value for i in local.items}
    assert answer.report["node"]["root"] == str(sandbox.root)
    assert answer.report["node"]["hostname"] == "box"
    assert answer.report["snapshot_id"] == SNAPSHOT
    assert {n for n, s in states(answer.report).items() if s == "MISSING"} == set(SECURITY_UPDATES)
    # the report goes back with the result, as a full agent's does
    assert node.report(inv["invocation_id"], "Success", answer.report).status_code == 200
    shown = api.ok("GET", f"/api/v1/compliance/{node.id}")
    assert shown["compliance"] == "NON_COMPLIANT"


def test_install_plan_then_conclude_after_the_node_installed(
    api: Api, make_node: NodeFactory, local_state: LocalState
) -> None:
    node = api.register()
    sandbox = make_node(name="box")
    twin = make_node(name="twin")  # the same packages, judged locally
    facts = upload(node, sandbox)
    inv = invocation(api, node, Operation="Install", RebootOption="RebootIfNeeded")
    r = evaluate(node, inv["invocation_id"], "plan", facts)
    assert r.status_code == 200, r.text
    order = wire.Evaluation.from_json(r.json()).order
    assert order is not None and order.blocked == []
    prepared = installing.prepare(twin.pm(), None, api.clock.now(), state=local_state)
    expected = [
        aptcmd.spec(p.name, p.arch, p.version, host_arch()) for p in prepared.decision.install
    ]
    assert [p.spec for p in order.packages] == expected
    assert {p.name: p.version for p in order.packages} == SECURITY_UPDATES

    sandbox.apt_install(*(p.spec for p in order.packages))  # what the node carries out
    after = upload(node, sandbox)
    results = [wire.PackageResult(p.name, p.arch, 0) for p in order.packages]
    r = evaluate(node, inv["invocation_id"], "conclude", after, order=order, results=results)
    assert r.status_code == 200, r.text
    answer = wire.Evaluation.from_json(r.json())
    assert answer.reboot is True and answer.report is not None
    got = states(answer.report)
    assert {n: got[n] for n in SECURITY_UPDATES} == {n: "INSTALLED" for n in SECURITY_UPDATES}
    assert answer.report["operation"] == "Install" and answer.report["rebooted"] is True
    assert node.report(inv["invocation_id"], "Success", answer.report).status_code == 200
    shown = api.ok("GET", f"/api/v1/compliance/{node.id}")
    assert shown["operation"] == "Install" and shown["compliance"] == "COMPLIANT"
    # the invocation has ended: no more evaluation
    r = evaluate(node, inv["invocation_id"], "scan", after)
    assert r.status_code == 409, r.text


def test_conclude_counts_only_what_the_new_facts_show_installed(
    api: Api, make_node: NodeFactory
) -> None:
    node = api.register()
    sandbox = make_node(name="box")
    facts = upload(node, sandbox)
    inv = invocation(api, node, Operation="Install", RebootOption="NoReboot")
    order = wire.Evaluation.from_json(evaluate(node, inv["invocation_id"], "plan", facts).json())
    assert order.order is not None
    planned = order.order.packages
    done = [p for p in planned if p.name != "needs-evil"]
    sandbox.apt_install(*(p.spec for p in done))
    after = upload(node, sandbox)
    results = [
        wire.PackageResult(p.name, p.arch, 0 if p in done else 100, "" if p in done else "E: boom")
        for p in planned
    ]
    # the node claims success for libfoo1 too, but the conclusion trusts only the facts
    r = evaluate(node, inv["invocation_id"], "conclude", after, order=order.order, results=results)
    assert r.status_code == 200, r.text
    report = wire.Evaluation.from_json(r.json()).report
    assert report is not None
    got = states(report)
    assert got["needs-evil"] == "FAILED"
    assert got["libfoo1"] == got["foo-utils"] == "INSTALLED_PENDING_REBOOT"
    assert report["rebooted"] is False
    assert wire.Evaluation.from_json(r.json()).reboot is False


def test_evaluation_is_only_for_the_callers_open_runpatchbaseline_invocation(
    api: Api, make_node: NodeFactory
) -> None:
    node, other = api.register(), api.register()
    facts = upload(node, make_node(name="box", update=False))
    inv = invocation(api, node, Operation="Scan")
    r = evaluate(other, inv["invocation_id"], "scan", facts)
    assert error_of(r) == (403, "forbidden")
    assert error_of(evaluate(node, "nope", "scan", facts))[0] == 404
    r = evaluate(node, inv["invocation_id"], "plan", facts)  # a Scan has no plan
    assert error_of(r) == (400, "invalid_request")
    r = node.call(
        "POST",
        f"/api/v1/agent/invocations/{inv['invocation_id']}/evaluate",
        json={"phase": "conclude", "facts": facts.to_json()},  # no order, no results
    )
    assert error_of(r) == (400, "invalid_request")
    assert node.report(inv["invocation_id"], "Failed").status_code == 200
    assert error_of(evaluate(node, inv["invocation_id"], "scan", facts))[0] == 409


# -- rpm/dnf nodes (real rpm and dnf in sandbox roots) ---------------------------------------

from rpm_sandbox import (  # noqa: E402
    RpmNode,
    RpmNodeFactory,
    host_rpm_untouched_fixture,  # noqa: F401 (autouse: the host's rpm state never changes)
    make_rpm_node_fixture,  # noqa: F401
    rpm_ready_fixture,  # noqa: F401
    rpm_repo_fixture,  # noqa: F401
)

from patchwarden.node import facts as node_facts  # noqa: E402


def upload_rpm(node: Node, sandbox: RpmNode, hostname: str = "rpmbox") -> wire.RootFacts:
    """What the node component collects of the root (its own code), uploaded."""
    facts, paths = node_facts.collect(str(sandbox.root))
    facts = facts._replace(hostname=hostname)
    r = node.call("POST", "/api/v1/agent/blobs/missing", json={"hashes": facts.hashes()})
    assert r.status_code == 200, r.text
    for h in r.json()["missing"]:
        assert put(node, Path(paths[h]).read_bytes()).status_code == 201
    r = node.call("POST", "/api/v1/agent/facts", json=facts.to_json())  # as the node does
    assert r.status_code == 200, r.text  # at start: the node's OS picks its baseline
    return facts


def test_dnf_facts_are_the_files_dnf_reads(make_rpm_node: RpmNodeFactory) -> None:
    sandbox = make_rpm_node(name="al2023")
    sandbox.makecache()
    facts, _ = node_facts.collect(str(sandbox.root))
    assert facts.manager == "dnf" and facts.arch and not facts.in_chroot
    listed = {f.path for f in facts.files}
    assert {"etc/dnf/dnf.conf", "etc/yum.repos.d/local.repo", "etc/os-release"} <= listed
    assert "var/lib/rpm/rpmdb.sqlite" in listed
    assert not [p for p in listed if p.endswith(("-shm", ".lock", ".solv", ".solvx"))]
    repodata = [p for p in listed if p.startswith("var/cache/dnf/")]
    assert repodata and all("/repodata/" in p for p in repodata)
    assert any(p.endswith("repomd.xml") for p in repodata)
    assert any(p.endswith("updateinfo.xml.gz") for p in repodata)


def test_dnf_scan_on_the_server_judges_as_a_local_scan(
    api: Api, make_rpm_node: RpmNodeFactory, local_state: LocalState, server_home: Path
) -> None:
    node = api.register()
    sandbox = make_rpm_node(name="al2023")
    sandbox.makecache()
    facts = upload_rpm(node, sandbox)
    shown = api.ok("GET", f"/api/v1/nodes/{node.id}/inventory")
    installed = {i["name"]: i["version"] for i in shown if i["kind"] == "installed"}
    assert installed == {n: v[-1] for n, v in sandbox.rpm_versions().items()}
    inv = invocation(api, node, Operation="Scan", SnapshotId=SNAPSHOT)
    r = evaluate(node, inv["invocation_id"], "scan", facts)
    assert r.status_code == 200, r.text
    answer = wire.Evaluation.from_json(r.json())
    assert answer.report is not None
    local = scan(sandbox.pm(), None, api.clock.now(), state=local_state)
    assert states(answer.report) == {i.name: i.state.value for i in local.items}
    assert "MISSING" in states(answer.report).values()
    assert answer.report["node"]["root"] == str(sandbox.root)
    # the rpm database is a copy (sqlite writes beside it), the rest links to blobs
    root = server_home / "nodes" / node.id / "root"
    db = root / "var/lib/rpm/rpmdb.sqlite"
    assert db.is_file() and not db.is_symlink()
    assert (root / "etc/os-release").is_symlink()
    assert not [p for p in (server_home / "blobs").rglob("*") if not p.name[:1].isalnum()]
    assert all(len(p.name) == 64 for p in (server_home / "blobs").rglob("*") if p.is_file())


def test_dnf_install_plan_then_conclude_after_the_node_installed(
    api: Api, make_rpm_node: RpmNodeFactory, local_state: LocalState
) -> None:
    node = api.register()
    sandbox = make_rpm_node(name="box")
    twin = make_rpm_node(name="twin")  # the same packages, judged locally
    for n in (sandbox, twin):
        n.makecache()
    facts = upload_rpm(node, sandbox)
    inv = invocation(api, node, Operation="Install", RebootOption="RebootIfNeeded")
    r = evaluate(node, inv["invocation_id"], "plan", facts)
    assert r.status_code == 200, r.text
    order = wire.Evaluation.from_json(r.json()).order
    assert order is not None
    pm = twin.pm()
    prepared = installing.prepare(pm, None, api.clock.now(), state=local_state)
    assert prepared.decision.install, "the default baseline approves something"
    assert [p.spec for p in order.packages] == [pm.spec(p) for p in prepared.decision.install]
    assert all(p.spec == f"{p.name}-{p.version}.noarch" for p in order.packages)

    sandbox.install(*(p.spec for p in order.packages))  # what the node carries out (real dnf)
    after = upload_rpm(node, sandbox)
    results = [wire.PackageResult(p.name, p.arch, 0) for p in order.packages]
    r = evaluate(node, inv["invocation_id"], "conclude", after, order=order, results=results)
    assert r.status_code == 200, r.text
    answer = wire.Evaluation.from_json(r.json())
    assert answer.report is not None
    got = states(answer.report)
    assert {p.name: got[p.name] for p in order.packages} == {
        p.name: "INSTALLED" for p in order.packages
    }
    assert answer.report["operation"] == "Install"
    for p in order.packages:  # install-only kernel: the old version stays installed too
        assert p.version in sandbox.rpm_versions()[p.name]


EVIL_PLUGIN = """\
import pathlib
pathlib.Path({marker!r}).write_text("loaded")
import dnf
class Evil(dnf.Plugin):
    name = "evil"
"""


def test_the_nodes_dnf_configuration_never_runs_a_program_on_the_server(
    api: Api, make_rpm_node: RpmNodeFactory, tmp_path: Path, server_home: Path
) -> None:
    node = api.register()
    sandbox = make_rpm_node(name="hostile")
    sandbox.makecache()
    plugins = tmp_path / "evil-plugins"
    plugins.mkdir()
    marker = tmp_path / "plugin-ran"
    (plugins / "evil.py").write_text(EVIL_PLUGIN.format(marker=str(marker)))
    (sandbox.root / "etc/dnf/dnf.conf").write_text(
        f"[main]\nplugins=1\npluginpath={plugins}\npluginconfpath={plugins}\n"
        f"include={tmp_path}/other.conf\nvarsdir=/etc\nexclude=calm\ninstallonly_limit=3\n"
    )
    repo_file = sandbox.root / "etc/yum.repos.d/local.repo"
    repo_file.write_text(
        repo_file.read_text()
        + "sslclientkey=/etc/shadow\ngpgkey=file:///etc/shadow\n"
        + "\n[bad id/../x]\nbaseurl=file:///\n"
    )
    # the node's own dnf loads the plugin: the configuration really is hostile
    sandbox.dnf("-C", "repoquery", "--upgrades")
    assert marker.exists()
    marker.unlink()

    facts = upload_rpm(node, sandbox)
    inv = invocation(api, node, Operation="Install", RebootOption="NoReboot")
    r = evaluate(node, inv["invocation_id"], "plan", facts)
    assert r.status_code == 200, r.text
    assert not marker.exists(), "the node's dnf plugin ran on the server"
    root = server_home / "nodes" / node.id / "root"
    assert (root / "etc/dnf/dnf.conf").read_text() == (
        "[main]\nexclude=calm\ninstallonly_limit=3\nplugins=0\n"
    )
    repo = (root / "etc/yum.repos.d/local.repo").read_text()
    assert "sslclientkey" not in repo and "gpgkey" not in repo and "bad id" not in repo
    assert f"baseurl={sandbox.repo.url}" in repo
    assert not (root / "etc/dnf/dnf.conf").is_symlink()


# -- apk nodes (an Alpine root written by hand in apk's formats: no apk-tools needed) -------

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data" / "alpine"))

import alpine_root  # noqa: E402

ALPINE_MISSING = {name: version for name, (version, _repo) in alpine_root.UPDATES.items()}


def upload_apk(node: Node, root: Path) -> wire.RootFacts:
    """What the node component collects of the Alpine root (its own code), uploaded."""
    facts, paths = node_facts.collect(str(root))
    r = node.call("POST", "/api/v1/agent/blobs/missing", json={"hashes": facts.hashes()})
    assert r.status_code == 200, r.text
    for h in r.json()["missing"]:
        assert put(node, Path(paths[h]).read_bytes()).status_code == 201
    r = node.call("POST", "/api/v1/agent/facts", json=facts.to_json())  # as the node does
    assert r.status_code == 200, r.text
    return facts


def test_apk_facts_scan_and_install_plan_on_the_server(
    api: Api, tmp_path: Path, server_home: Path
) -> None:
    node = api.register()
    alpine = alpine_root.write_alpine_root(tmp_path / "alpine")
    facts = upload_apk(node, alpine)
    assert facts.manager == "apk" and facts.arch == alpine_root.ARCH
    shown = api.ok("GET", f"/api/v1/nodes/{node.id}/inventory")
    installed = {i["name"]: i["version"] for i in shown if i["kind"] == "installed"}
    assert installed == {p.name: p.version for p in alpine_root.INSTALLED}
    about = api.ok("GET", f"/api/v1/nodes/{node.id}")
    assert about["hostname"] == "alpine-node"
    root = server_home / "nodes" / node.id / "root"
    assert (root / "lib/apk/db/installed").is_symlink()
    assert not (root / "etc/apt").exists()  # nothing of apt's is written for an apk root

    inv = invocation(api, node, Operation="Scan", SnapshotId=SNAPSHOT)
    r = evaluate(node, inv["invocation_id"], "scan", facts)
    assert r.status_code == 200, r.text
    report = wire.Evaluation.from_json(r.json()).report
    assert report is not None
    assert report["node"]["os"]["operating_system"] == "ALPINE"
    assert report["node"]["root"] == str(alpine)
    missing = {
        p["name"]: p["available_version"] for p in report["patches"] if p["state"] == "MISSING"
    }
    assert missing == ALPINE_MISSING
    assert node.report(inv["invocation_id"], "Success", report).status_code == 200
    shown = api.ok("GET", f"/api/v1/compliance/{node.id}")
    assert shown["compliance"] == "NON_COMPLIANT"
    assert {p["name"] for p in shown["patches"] if p["state"] == "MISSING"} == set(ALPINE_MISSING)

    inv = invocation(api, node, Operation="Install", RebootOption="NoReboot")
    r = evaluate(node, inv["invocation_id"], "plan", facts)
    assert r.status_code == 200, r.text
    order = wire.Evaluation.from_json(r.json()).order
    assert order is not None and order.blocked == []
    assert {p.name: p.version for p in order.packages} == ALPINE_MISSING
    assert all(p.spec == f"{p.name}={p.version}" for p in order.packages)
    assert {p.arch for p in order.packages} == {alpine_root.ARCH}

    # the node ran `apk add name=version …`: its installed database has the new versions,
    # except libssl3's (the node's apk refused it; the conclusion trusts only the database)
    done = {p.name: p.version for p in order.packages if p.name != "libssl3"}
    upgraded = tuple(
        dataclasses.replace(p, version=done.get(p.name, p.version)) for p in alpine_root.INSTALLED
    )
    (alpine / "lib/apk/db/installed").write_text(alpine_root.installed_db(upgraded))
    after = upload_apk(node, alpine)
    results = [
        wire.PackageResult(
            p.name, p.arch, 0 if p.name in done else 1, "" if p.name in done else "x"
        )
        for p in order.packages
    ]
    r = evaluate(node, inv["invocation_id"], "conclude", after, order=order, results=results)
    assert r.status_code == 200, r.text
    answer = wire.Evaluation.from_json(r.json())
    assert answer.report is not None and answer.reboot is False
    got = states(answer.report)
    assert {n: got[n] for n in done} == {n: "INSTALLED_PENDING_REBOOT" for n in done}
    assert got["libssl3"] == "FAILED"
    assert answer.report["operation"] == "Install"


def test_apk_index_cache_moves_between_the_two_cache_directories(
    api: Api, tmp_path: Path, server_home: Path
) -> None:
    node = api.register()
    alpine = alpine_root.write_alpine_root(tmp_path / "alpine")
    (alpine / "etc/apk/cache").mkdir()
    for index in (alpine / "var/cache/apk").glob("APKINDEX.*"):
        index.rename(alpine / "etc/apk/cache" / index.name)
    facts = upload_apk(node, alpine)
    indexes = [f.path for f in facts.files if "APKINDEX" in f.path]
    assert len(indexes) == 2 and all(p.startswith("etc/apk/cache/") for p in indexes)
    shown = api.ok("GET", f"/api/v1/nodes/{node.id}/inventory")
    assert {i["name"] for i in shown if i["kind"] == "update"} == set(ALPINE_MISSING)
    # back to var/cache/apk, linked from etc/apk/cache as Alpine sets it up
    for index in (alpine / "etc/apk/cache").glob("APKINDEX.*"):
        index.rename(alpine / "var/cache/apk" / index.name)
    (alpine / "etc/apk/cache").rmdir()
    (alpine / "etc/apk/cache").symlink_to("/var/cache/apk")
    facts = upload_apk(node, alpine)
    indexes = [f.path for f in facts.files if "APKINDEX" in f.path]
    assert len(indexes) == 2 and all(p.startswith("var/cache/apk/") for p in indexes)
    assert not (server_home / "nodes" / node.id / "root/etc/apk/cache").exists()
    shown = api.ok("GET", f"/api/v1/nodes/{node.id}/inventory")
    assert {i["name"] for i in shown if i["kind"] == "update"} == set(ALPINE_MISSING)
