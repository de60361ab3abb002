"""SUSE roots with REAL zypper and rpm: scan, the SUSE default baseline, install.

A SLES 15 SP5 root (its rpm database in ``usr/lib/sysimage/rpm``, ``var/lib/rpm`` a
symlink to it, as on SLES) gets a local rpm-md repository whose updateinfo.xml is shaped
like SUSE's (``<update from=… status="stable" type="security|recommended|optional">``).
The oracle is zypper itself on the same root, run with the product's own options
(``list-updates``, ``list-patches``, ``rpm --root R -q``).  The clock is pinned with
``PATCHWARDEN_NOW`` relative to the patch dates.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest
from rpm_sandbox import RpmRepo, RpmSpec, build_rpm
from sandbox import Cli, JsonReport, baseline_document, run, write_baseline

from patchwarden import wire, zyppercmd
from patchwarden.adapters.os import detect
from patchwarden.adapters.os.remote import RemoteRoots
from patchwarden.adapters.os.zypper.execute import ZypperTarget, zypper_command
from patchwarden.adapters.os.zypper.manager import ZypperPackageManager
from patchwarden.core.baseline.defaults import default_baseline
from patchwarden.node import facts as node_facts
from patchwarden.pipeline.fleet import remote

pytestmark = pytest.mark.integration

NOW_ISO = "2025-03-01T12:00:00Z"
DBPATH = "/usr/lib/sysimage/rpm"
OS_RELEASE = (
    'NAME="SLES"\nVERSION="15-SP5"\nVERSION_ID="15.5"\n'
    'PRETTY_NAME="SUSE Linux Enterprise Server 15 SP5"\nID="sles"\nID_LIKE="suse"\n'
    'ANSI_COLOR="0;32"\nCPE_NAME="cpe:/o:suse:sles:15:sp5"\n'
)

FOO_10, FOO_11 = RpmSpec("foo", "1.0", "1.1"), RpmSpec("foo", "1.1", "1.1")
FOO_12 = RpmSpec("foo", "1.2", "1.1")  # newer, in no patch
BAR_20, BAR_21 = RpmSpec("bar", "2.0", "1"), RpmSpec("bar", "2.1", "1")  # recommended
BAZ_10, BAZ_11 = RpmSpec("baz", "1.0", "1"), RpmSpec("baz", "1.1", "1")  # optional
QUX_30, QUX_31 = RpmSpec("qux", "3.0", "1"), RpmSpec("qux", "3.1", "1")  # security, recent
LOW_10, LOW_11 = RpmSpec("low", "1.0", "1"), RpmSpec("low", "1.0", "2")  # security, low
CALM = RpmSpec("calm", "1.0", "1")  # no update at all

ALL_RPMS = (FOO_10, FOO_11, FOO_12, BAR_20, BAR_21, BAZ_10, BAZ_11, QUX_30, QUX_31)
ALL_RPMS += (LOW_10, LOW_11, CALM)
OLD_STATE = (FOO_10, BAR_20, BAZ_10, QUX_30, LOW_10, CALM)

SLE = "SUSE-SLE-Module-Basesystem-15-SP5-2025"


@dataclass(frozen=True)
class SusePatch:
    id: str
    category: str
    severity: str
    issued: int
    """Epoch seconds, as SUSE publishes them."""
    package: RpmSpec
    cves: tuple[str, ...] = ()


PATCHES = (
    SusePatch(f"{SLE}-101", "security", "critical", 1736510400, FOO_11, ("CVE-2025-1111",)),
    SusePatch(f"{SLE}-102", "recommended", "important", 1736942400, BAR_21),
    SusePatch(f"{SLE}-103", "optional", "low", 1737000000, BAZ_11),
    # issued 2025-02-27 12:00: 2 days before NOW, approved by a 7-day rule from 2025-03-06 12:00
    SusePatch(f"{SLE}-104", "security", "important", 1740657600, QUX_31, ("CVE-2025-4444",)),
    SusePatch(f"{SLE}-105", "security", "low", 1736078400, LOW_11, ("CVE-2025-5555",)),
)
"""The SUSE patches of the test repository (dates: 2025-01-10, -15, -16, 02-27, 01-05)."""

DEFAULT_STATES = {
    "foo": "MISSING",  # security critical, old enough
    "bar": "INSTALLED_OTHER",  # recommended: not in AWS's SUSE default
    "baz": "INSTALLED_OTHER",  # optional
    "qux": "INSTALLED_OTHER",  # security important, 2 days old
    "low": "INSTALLED_OTHER",  # security low
    "calm": "INSTALLED_OTHER",  # no update
}


def suse_updateinfo(patches: tuple[SusePatch, ...]) -> str:
    """An updateinfo.xml shaped like the ones SUSE's update repositories publish."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<updates>"]
    for p in patches:
        s = p.package
        out += [
            f'  <update from="maint-coord@suse.de" status="stable" type="{p.category}" '
            'version="1">',
            f"    <id>{p.id}</id>",
            f"    <title>{p.category.capitalize()} update for {s.name}</title>",
            f"    <severity>{p.severity}</severity>",
            "    <release>SUSE Updates SLE-Module-Basesystem 15-SP5 x86_64</release>",
            f'    <issued date="{p.issued}"/>',
            "    <references>",
            *(
                f'      <reference href="https://www.suse.com/security/cve/{c}/" id="{c}" '
                f'title="{c}" type="cve"/>'
                for c in p.cves
            ),
            "    </references>",
            f"    <description>Fixes {s.name}.</description>",
            "    <pkglist><collection>",
            f'      <package name="{s.name}" epoch="0" version="{s.version}" '
            f'release="{s.release}" arch="noarch" src="{s.name}-{s.version}-{s.release}.src.rpm">'
            f"<filename>{s.filename}</filename></package>",
            "    </collection></pkglist>",
            "  </update>",
        ]
    out.append("</updates>")
    return "\n".join(out) + "\n"


# -- the SUSE sandbox ------------------------------------------------------------------------


def missing_tools() -> list[str]:
    tools = ("zypper", "rpm", "rpmbuild", "createrepo_c", "modifyrepo_c")
    return [t for t in tools if shutil.which(t) is None]


class SuseNode:
    """A SLES 15 SP5 root with one zypper repository."""

    def __init__(self, root: Path, repo: RpmRepo) -> None:
        self.root = Path(root)
        (self.root / "etc/zypp/repos.d").mkdir(parents=True)
        (self.root / DBPATH.lstrip("/")).mkdir(parents=True)
        (self.root / "var/lib").mkdir(parents=True)
        (self.root / "var/lib/rpm").symlink_to("../../usr/lib/sysimage/rpm")
        (self.root / "etc/os-release").write_text(OS_RELEASE)
        (self.root / "etc/hostname").write_text(f"{self.root.name}\n")
        (self.root / "etc/zypp/repos.d/sandbox.repo").write_text(
            f"[sandbox]\nname=Sandbox updates\nenabled=1\nautorefresh=1\n"
            f"baseurl={repo.url}\ntype=rpm-md\ngpgcheck=0\n"
        )
        self.target = ZypperTarget(str(self.root), DBPATH)

    def zypper(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """zypper on this root with the product's own options."""
        with zypper_command(self.target) as (argv, env):
            return run([*argv, *args], env=env, check=check)

    def rpm(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run(["rpm", "--root", str(self.root), "--dbpath", DBPATH, *args], check=False)

    def versions(self) -> dict[str, list[str]]:
        """{name: [version-release…]} of the root's rpm database."""
        out = self.rpm("-qa", "--qf", "%{NAME} %{VERSION}-%{RELEASE}\\n").stdout
        found: dict[str, list[str]] = {}
        for line in out.splitlines():
            name, vr = line.split()
            found.setdefault(name, []).append(vr)
        return {n: sorted(v) for n, v in sorted(found.items())}

    def list_updates(self) -> dict[str, str]:
        """{name: edition} of ``zypper list-updates``."""
        out = self.zypper("--xmlout", "--no-refresh", "list-updates").stdout
        doc = ElementTree.fromstring(out[out.index("<stream") :])
        return {u.get("name", ""): u.get("edition", "") for u in doc.iter("update")}

    def list_patches(self) -> dict[str, tuple[str, str]]:
        """{patch: (category, severity)} of ``zypper list-patches --all``."""
        out = self.zypper("--xmlout", "--no-refresh", "list-patches", "--all").stdout
        doc = ElementTree.fromstring(out[out.index("<stream") :])
        return {
            u.get("name", ""): (u.get("category", ""), u.get("severity", ""))
            for u in doc.iter("update")
        }

    def patch_status(self) -> dict[str, str]:
        """{patch: status} of ``zypper list-patches --all`` (``needed``, ``applied``…)."""
        out = self.zypper("--xmlout", "--no-refresh", "list-patches", "--all").stdout
        doc = ElementTree.fromstring(out[out.index("<stream") :])
        return {u.get("name", ""): u.get("status", "") for u in doc.iter("update")}


def spec_arg(s: RpmSpec) -> str:
    return f"{s.name}={s.version}-{s.release}"


@pytest.fixture(scope="module", autouse=True)
def host_untouched() -> Iterator[None]:
    """Nothing appears in the host's rpm database or zypper state."""
    places = [
        Path("/var/lib/rpm"),
        Path("/usr/lib/sysimage/rpm"),
        Path("/var/cache/zypp"),
        Path("/var/lib/zypp"),
        Path("/etc/zypp/repos.d"),
        Path("/etc/zypp/services.d"),
        Path.home() / ".rpmdb",
    ]

    def snapshot() -> dict[str, object]:
        found: dict[str, object] = {}
        for p in places:
            found[str(p)] = sorted(os.listdir(p)) if p.is_dir() else None
        log = Path("/var/log/zypper.log")
        found[str(log)] = log.stat().st_size if log.exists() else None
        found["/run/zypp.pid"] = Path("/run/zypp.pid").exists()
        return found

    before = snapshot()
    yield
    assert snapshot() == before, "a test touched the host's rpm database or zypper state"


@pytest.fixture(scope="session")
def suse_ready() -> None:
    missing = missing_tools()
    if missing:
        message = f"missing tools for SUSE sandboxes: {', '.join(missing)} (run `make test`)"
        if "CI" in os.environ:
            pytest.fail(message)
        pytest.skip(message)
    if os.geteuid() != 0:
        if "CI" in os.environ:
            pytest.fail("zypper --root installs need root")
        pytest.skip("zypper --root installs need root (run the integration tests as root)")


@pytest.fixture(scope="session")
def suse_repo(suse_ready: None, tmp_path_factory: pytest.TempPathFactory) -> RpmRepo:
    """The SUSE test repository (read-only)."""
    base = tmp_path_factory.mktemp("suse-repo")
    repo = RpmRepo(base / "repo")
    repo.add(*(build_rpm(base / "work", s) for s in ALL_RPMS))
    repo.publish(updateinfo=suse_updateinfo(PATCHES))
    return repo


@pytest.fixture
def node(suse_repo: RpmRepo, tmp_path: Path) -> SuseNode:
    """A fresh SLES root with the old versions installed (by real zypper) and metadata
    cached."""
    n = SuseNode(tmp_path / "sles15", suse_repo)
    n.zypper("refresh")
    n.zypper("install", "--no-recommends", *(spec_arg(s) for s in OLD_STATE))
    return n


def scan_json(pw: Cli, node: SuseNode, *args: str | Path, now: str = NOW_ISO) -> JsonReport:
    result = pw("scan", "--root", node.root, "--format", "json", *args, now=now)
    assert result.returncode == 0, str(result)
    assert "Traceback" not in result.stderr
    return result.json()


def install_json(pw: Cli, node: SuseNode, *args: str | Path, now: str = NOW_ISO) -> JsonReport:
    result = pw("install", "--root", node.root, "--format", "json", *args, now=now)
    assert result.returncode == 0, str(result)
    return result.json()


def states(report: JsonReport) -> dict[str, str]:
    return {p["name"]: p["state"] for p in report["patches"]}


def patches(report: JsonReport) -> dict[str, dict]:  # type: ignore[type-arg]
    return {p["name"]: p for p in report["patches"]}


def baseline(tmp_path: Path, name: str, **kwargs: object) -> Path:
    document = baseline_document(name, operating_system="SUSE", **kwargs)  # type: ignore[arg-type]
    return write_baseline(tmp_path / f"{name}.yaml", document)


# -- scan ------------------------------------------------------------------------------------


def test_detect_picks_zypper_and_names_the_product(node: SuseNode) -> None:
    pm = detect(str(node.root))
    assert isinstance(pm, ZypperPackageManager)
    inventory = pm.collect()
    assert inventory.os.operating_system == "SUSE"
    assert inventory.os.product == "Suse15.5"
    assert inventory.os.family == "suse"
    assert {p.package.name for p in inventory.installed} == {s.name for s in OLD_STATE}
    assert not list((node.root / "root").glob(".rpmdb*"))  # the database is where SLES has it


def test_updates_are_what_zypper_lists(node: SuseNode) -> None:
    inventory = ZypperPackageManager(str(node.root)).collect()
    listed = node.list_updates()
    assert listed == {
        "foo": "1.2-1.1",
        "bar": "2.1-1",
        "baz": "1.1-1",
        "qux": "3.1-1",
        "low": "1.0-2",
    }
    newest: dict[str, str] = {}
    every: dict[str, set[str]] = {}
    for u in inventory.updates:
        every.setdefault(u.name, set()).add(u.version)
        newest[u.name] = max(newest.get(u.name, u.version), u.version)
    assert newest == listed
    assert every["foo"] == {"1.1-1.1", "1.2-1.1"}  # every newer version, exactly


def test_classification_and_severity_follow_list_patches(node: SuseNode) -> None:
    listed = node.list_patches()
    assert listed == {p.id: (p.category, p.severity) for p in PATCHES}
    inventory = ZypperPackageManager(str(node.root)).collect()
    got = {(u.name, u.version): u for u in inventory.updates}
    ssm = {"security": "Security", "recommended": "Recommended", "optional": "Optional"}
    for p in PATCHES:
        u = got[(p.package.name, f"{p.package.version}-{p.package.release}")]
        category, severity = listed[p.id]
        assert u.classification == ssm[category], p.id
        assert u.severity == severity.capitalize(), p.id
        assert u.update_notice and u.advisory_ids == (p.id,)
        assert u.release_date is not None and int(u.release_date.timestamp()) == p.issued
        assert u.cve_ids == p.cves
    foo_12 = got[("foo", "1.2-1.1")]  # in no patch
    assert (foo_12.classification, foo_12.update_notice, foo_12.release_date) == ("", False, None)


def test_default_baseline_is_security_critical_important_after_7_days(
    node: SuseNode, pw: Cli
) -> None:
    report = scan_json(pw, node)
    assert report["node"]["product"] == "Suse15.5"
    assert report["baseline"]["name"] == "AWS-SuseDefaultPatchBaseline"
    assert states(report) == DEFAULT_STATES
    foo = patches(report)["foo"]
    assert foo["available_version"] == "1.1-1.1"  # the patch's version, not 1.2
    assert foo["classification"] == "Security" and foo["cves"] == ["CVE-2025-1111"]
    assert foo["release_date"] == "2025-01-10T12:00:00Z"
    assert report["compliance"] == "NON_COMPLIANT"
    assert "too recent" in patches(report)["qux"]["detail"]
    # 7 days after qux's patch was created it is approved too
    later = scan_json(pw, node, now="2025-03-06T12:00:00Z")
    assert {n for n, s in states(later).items() if s == "MISSING"} == {"foo", "qux"}
    # the predefined baseline itself, as `patchwarden baseline default SUSE` prints it
    rule = default_baseline("SUSE").approval_rules[0]
    assert {f.key: f.values for f in rule.filters}["CLASSIFICATION"] == ("Security",)
    assert rule.approve_after_days == 7


def test_baseline_default_command_prints_the_suse_baseline(pw: Cli, suse_ready: None) -> None:
    result = pw("baseline", "default", "SUSE")
    assert result.returncode == 0, str(result)
    assert "AWS-SuseDefaultPatchBaseline" in result.stdout
    assert "Critical" in result.stdout and "Important" in result.stdout


def test_custom_baseline_on_recommended_and_suse_non_security(
    node: SuseNode, pw: Cli, tmp_path: Path
) -> None:
    rec = baseline(
        tmp_path,
        "recommended",
        filters={"CLASSIFICATION": ["Recommended"], "SEVERITY": ["Important"]},
        enable_non_security=False,
    )
    report = scan_json(pw, node, "--baseline", rec)
    assert {n for n, s in states(report).items() if s == "MISSING"} == {"bar"}
    # SUSE skips the non-security check (§1.9): a rule without filters approves every
    # version, a version in no patch too: foo goes to 1.2
    everything = baseline(tmp_path, "everything", enable_non_security=False)
    report = scan_json(pw, node, "--baseline", everything)
    got = patches(report)
    assert got["foo"]["available_version"] == "1.2-1.1"
    assert {n for n, s in states(report).items() if s == "MISSING"} == {
        "foo",
        "bar",
        "baz",
        "qux",
        "low",
    }


def test_missing_metadata_cache_asks_for_a_refresh(node: SuseNode, pw: Cli) -> None:
    shutil.rmtree(node.root / "var/cache/zypp")
    result = pw("scan", "--root", node.root, now=NOW_ISO)
    assert result.returncode == 3, str(result)
    assert "no zypper metadata cached for repository sandbox" in result.stderr
    assert states(scan_json(pw, node, "--refresh")) == DEFAULT_STATES


# -- install ---------------------------------------------------------------------------------


def test_install_leaves_exactly_the_approved_versions(node: SuseNode, pw: Cli) -> None:
    before = node.versions()
    report = install_json(pw, node, "--reboot-option", "RebootIfNeeded")
    assert report["operation"] == "Install"
    after = node.versions()
    assert after == {**before, "foo": ["1.1-1.1"]}
    assert node.rpm("-q", "foo-1.1-1.1.noarch").returncode == 0
    assert node.rpm("-q", "foo-1.2-1.1.noarch").returncode != 0
    assert states(report)["foo"] in {"INSTALLED", "INSTALLED_PENDING_REBOOT"}
    assert report["compliance"] == "COMPLIANT"
    assert scan_json(pw, node)["compliance"] == "COMPLIANT"
    # zypper agrees: the security patch is applied; foo 1.2 (in no patch) is still offered
    assert node.patch_status()[f"{SLE}-101"] == "applied"
    assert node.patch_status()[f"{SLE}-104"] == "needed"
    assert node.list_updates()["foo"] == "1.2-1.1"


def test_install_with_a_custom_baseline_takes_exact_versions(
    node: SuseNode, pw: Cli, tmp_path: Path
) -> None:
    doc = baseline(
        tmp_path,
        "sec-and-rec",
        filters={"CLASSIFICATION": ["Security", "Recommended"]},
        enable_non_security=False,
    )
    report = install_json(pw, node, "--baseline", doc, "--reboot-option", "NoReboot")
    assert node.versions() == {
        "bar": ["2.1-1"],
        "baz": ["1.0-1"],
        "calm": ["1.0-1"],
        "foo": ["1.1-1.1"],
        "low": ["1.0-2"],
        "qux": ["3.1-1"],
    }
    assert {n for n, s in states(report).items() if s.startswith("INSTALLED_PENDING")} == {
        "bar",
        "foo",
        "low",
        "qux",
    }


def test_dry_run_changes_nothing(node: SuseNode, pw: Cli) -> None:
    before = node.versions()
    result = pw("install", "--root", node.root, "--dry-run", now=NOW_ISO)
    assert result.returncode == 0, str(result)
    assert "upgrade foo.noarch 1.0-1.1 -> 1.1-1.1" in result.stdout, result.stdout
    assert node.versions() == before


def test_a_patch_that_cannot_be_installed_fails_alone(
    suse_repo: RpmRepo, pw: Cli, tmp_path: Path
) -> None:
    repo = suse_repo.clone(tmp_path / "repo")
    node = SuseNode(tmp_path / "broken", repo)
    node.zypper("refresh")
    node.zypper("install", "--no-recommends", *(spec_arg(s) for s in OLD_STATE))
    (repo.path / FOO_11.filename).unlink()  # still in the metadata: the download fails
    doc = baseline(tmp_path, "sec-rec", filters={"CLASSIFICATION": ["Security", "Recommended"]})
    result = pw("install", "--root", node.root, "--baseline", doc, "--format", "json", now=NOW_ISO)
    assert result.returncode == 1, str(result)  # a patch FAILED
    got = patches(result.json())
    assert got["foo"]["state"] == "FAILED"
    assert "zypper install: File './foo-1.1-1.1.noarch.rpm' not found" in got["foo"]["detail"]
    versions = node.versions()
    assert versions["foo"] == ["1.0-1.1"]
    assert versions["bar"] == ["2.1-1"] and versions["qux"] == ["3.1-1"]


def _osv(record_id: str, ecosystem: str, name: str, fixed: str, cve: str) -> dict[str, object]:
    """An OSV record as SUSE publishes them (one affected package per product)."""
    return {
        "schema_version": "1.6.0",
        "id": record_id,
        "modified": "2025-01-20T10:00:00Z",
        "published": "2025-01-20T10:00:00Z",
        "aliases": [],
        "related": [cve],
        "summary": f"Security update for {name}",
        "details": f"This update for {name} fixes {cve}.",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name, "purl": f"pkg:rpm/suse/{name}"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    }


def test_findings_from_every_module_of_the_service_pack(
    node: SuseNode, pw: Cli, tmp_path: Path
) -> None:
    """SUSE files advisories per module and support phase of a service pack, which
    os-release does not name: a SLES 15 SP5 node reads them all, and no other SP's."""
    import json

    feed = tmp_path / "osv-suse"
    feed.mkdir()
    records = [
        _osv("SUSE-SU-2025:0101-1", "SUSE:Linux Enterprise Module for Basesystem 15 SP5",
             "foo", "1.1-1.1", "CVE-2099-1001"),
        _osv("SUSE-SU-2025:0102-1", "SUSE:Linux Enterprise Server 15 SP5-LTSS",
             "bar", "2.1-1", "CVE-2099-1002"),
        _osv("SUSE-SU-2025:0103-1", "SUSE:Linux Enterprise Module for Basesystem 15 SP4",
             "baz", "1.1-1", "CVE-2099-1003"),
        _osv("openSUSE-SU-2025:0104-1", "openSUSE:Leap 15.5", "qux", "3.1-1", "CVE-2099-1004"),
    ]  # fmt: skip
    for record in records:
        (feed / f"{record['id']}.json").write_text(json.dumps(record))
    imported = pw("db", "import", feed)
    assert imported.returncode == 0, str(imported)
    report = scan_json(pw, node, "--vulns")
    found = {(f["vulnerability_id"], f["package_name"]): f for f in report["vulnerabilities"]}
    from_osv = {key for key in found if key[0].startswith(("SUSE-", "openSUSE-"))}
    assert from_osv == {("SUSE-SU-2025:0101-1", "foo"), ("SUSE-SU-2025:0102-1", "bar")}
    assert ("CVE-2025-1111", "foo") in found  # the patch's own CVE (zypper's updateinfo)
    assert found["SUSE-SU-2025:0101-1", "foo"]["fixed_version"] == "1.1-1.1"
    assert found["SUSE-SU-2025:0102-1", "bar"]["severity"] == "CRITICAL"
    assert not [w for w in report.get("warnings", []) if "not assessed" in w]


# -- the node component: facts judged on the server ------------------------------------------


def _upload(roots: RemoteRoots, root: Path) -> wire.RootFacts:
    """What the node component collects of the root (its own code), stored as blobs."""
    facts, paths = node_facts.collect(str(root))
    for digest in roots.missing(facts.hashes()):
        data = Path(paths[digest]).read_bytes()
        roots.blobs.put_gzip(digest, [gzip.compress(data)])
    return facts


def _delivery(invocation: str, **params: str) -> wire.Delivery:
    return wire.Delivery(invocation, "cmd-1", "AWS-RunPatchBaseline", dict(params))


def test_node_facts_are_judged_on_the_server_as_the_root_itself(
    node: SuseNode, pw: Cli, tmp_path: Path
) -> None:
    direct = scan_json(pw, node)
    roots = RemoteRoots(tmp_path / "server")
    facts = _upload(roots, node.root)
    assert facts.manager == "zypper"
    listed = {f.path for f in facts.files}
    assert "etc/zypp/repos.d/sandbox.repo" in listed
    assert "var/cache/zypp/solv/sandbox/solv" in listed
    assert any(p.startswith("var/cache/zypp/raw/sandbox/repodata/") for p in listed)
    assert any(p.startswith("usr/lib/sysimage/rpm/") for p in listed)
    assert not [p for p in listed if "@System" in p or p.startswith("var/lib/rpm/")]

    now = datetime.fromisoformat(NOW_ISO.replace("Z", "+00:00"))
    scan = remote.evaluate(
        roots, "mi-suse", _delivery("inv-scan"), wire.EvaluateRequest("scan", facts), now
    )
    assert scan.report is not None
    got = {i.name: i.state.value for i in scan.report.items}
    assert got == states(direct) == DEFAULT_STATES
    assert {n for n, s in got.items() if s == "MISSING"} == {
        p["name"] for p in direct["patches"] if p["state"] == "MISSING"
    }
    assert scan.report.node.root == str(node.root)
    rebuilt = roots.node_dir("mi-suse") / "root"
    assert (rebuilt / "usr/lib/sysimage/rpm").is_dir()
    assert not (rebuilt / "var/cache/zypp/solv/sandbox/solv").is_symlink()  # a copy
    for f in facts.files:  # zypper wrote nothing through a link into the blob store
        assert hashlib.sha256(roots.blobs.path(f.sha256).read_bytes()).hexdigest() == f.sha256
    assert "arch=" in (rebuilt / "etc/zypp/zypp.conf").read_text()

    install = _delivery("inv-install", Operation="Install", RebootOption="NoReboot")
    plan = remote.evaluate(roots, "mi-suse", install, wire.EvaluateRequest("plan", facts), now)
    order = plan.order
    assert order is not None and order.blocked == []
    assert [(p.name, p.arch, p.version, p.spec) for p in order.packages] == [
        ("foo", "noarch", "1.1-1.1", "foo.noarch=1.1-1.1")
    ]
    # the node runs exactly the order (zyppercmd's argv), uploads again, the server concludes
    node.zypper(*zyppercmd.install_args([p.spec for p in order.packages]))
    assert node.versions()["foo"] == ["1.1-1.1"]
    after = _upload(roots, node.root)
    results = [wire.PackageResult(p.name, p.arch, 0) for p in order.packages]
    ask = wire.EvaluateRequest("conclude", after, order, results)
    done = remote.evaluate(roots, "mi-suse", install, ask, now)
    assert done.report is not None
    concluded = {i.name: i.state.value for i in done.report.items}
    assert concluded == {**DEFAULT_STATES, "foo": "INSTALLED_PENDING_REBOOT"}, concluded
    assert done.reboot is False  # NoReboot
