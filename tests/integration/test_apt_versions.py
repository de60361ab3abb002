"""Every available version is judged, not only apt's candidate (real apt in sandbox roots).

The defect: a security-pocket version older than apt's candidate (a Debian point release,
Ubuntu ``-updates``) was not seen, so a node missing a security fix looked compliant.  The
oracles are real apt on the same root: ``apt-get -s dist-upgrade`` for what a baseline
approving everything must report (phasing included), and apt restricted to
its security pocket alone for what a security-only baseline must report.
"""

from __future__ import annotations

import os
import re
import subprocess
from functools import cmp_to_key
from pathlib import Path

import pytest
from sandbox import (
    DEBIAN_SUITES,
    UBUNTU_SUITES,
    Cli,
    DebSpec,
    JsonReport,
    Repo,
    SandboxNode,
    Suite,
    baseline_document,
    build_deb,
    build_repo,
    write_baseline,
)

from patchwarden.adapters.os.apt.phasing import phase_draw
from patchwarden.versions import compare

pytestmark = pytest.mark.integration

APPROVE_ALL = baseline_document("approve-all")

# -- Debian: the security pocket is older than the point release -----------------------------

DEBIAN = {
    **{k: v for k, v in DEBIAN_SUITES.items() if k != "experimental"},
    "bookworm-updates": Suite("Debian", "Debian", "bookworm-updates", "12-updates"),
}
SSH = "1:9.2p1-2+deb12u"
DEBIAN_PACKAGES = (
    # openssh-client's history on a real Debian 12 host: u6 installed, u7 in -updates,
    # u9 in -security, u10 in the newest point release
    DebSpec("bookworm", "openssh-client", f"{SSH}6", source="openssh"),
    DebSpec("bookworm", "openssh-client", f"{SSH}10", source="openssh"),
    DebSpec("bookworm-updates", "openssh-client", f"{SSH}7", source="openssh"),
    DebSpec("bookworm-security", "openssh-client", f"{SSH}9", source="openssh"),
    DebSpec("bookworm-backports", "openssh-client", "1:9.7p1-4~bpo12+1", source="openssh"),
    # only a security update: the usual case
    DebSpec("bookworm", "libplain1", "1.0-1"),
    DebSpec("bookworm-security", "libplain1", "1.0-1+deb12u1"),
    # only a point-release update: no security fix to report
    DebSpec("bookworm", "tzdata", "2024a-1"),
    DebSpec("bookworm", "tzdata", "2025b-0+deb12u1"),
)
DEBIAN_STATE = {"openssh-client": f"{SSH}6", "libplain1": "1.0-1", "tzdata": "2024a-1"}


@pytest.fixture(scope="module")
def debian_repo(sandbox_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Repo:
    base = tmp_path_factory.mktemp("debian-versions")
    return build_repo(base / "repo", base / "work", DEBIAN_PACKAGES, DEBIAN)


def debian_node(repo: Repo, path: Path, suites: tuple[str, ...] = tuple(DEBIAN)) -> SandboxNode:
    node = SandboxNode(path, os_id="debian")
    node.add_source(repo, suites)
    node.apt_update()
    node.apt_install(*(f"{n}={v}" for n, v in sorted(DEBIAN_STATE.items())))
    return node


def dist_upgrade(node: SandboxNode) -> dict[str, str]:
    """{name: version} that ``apt-get -s dist-upgrade`` installs on the root."""
    out = node.apt("-s", "-o", "Debug::NoLocking=1", "dist-upgrade").stdout
    return dict(re.findall(r"^Inst (\S+) \[\S+\] \((\S+) ", out, re.M))


def restricted_dist_upgrade(
    node: SandboxNode, repo: Repo, suites: tuple[str, ...]
) -> dict[str, str]:
    """What apt installs when only ``suites`` are in the sources (then restores them)."""
    sources = node.root / "etc/apt/sources.list"
    saved = sources.read_text()
    node.set_sources(repo, suites)
    node.apt_update()
    try:
        return dist_upgrade(node)
    finally:
        sources.write_text(saved)
        node.apt_update()


def scan(pw: Cli, node: SandboxNode, *args: str | Path) -> JsonReport:
    result = pw("scan", "--root", node.root, "--format", "json", *args)
    assert result.returncode == 0, str(result)
    return result.json()


def missing(report: JsonReport) -> dict[str, str]:
    return {p["name"]: p["available_version"] for p in report["patches"] if p["state"] == "MISSING"}


def patch(report: JsonReport, name: str) -> dict[str, str]:
    (found,) = [p for p in report["patches"] if p["name"] == name]
    return found


def test_debian_default_baseline_reports_the_security_version_below_the_candidate(
    debian_repo: Repo, tmp_path: Path, pw: Cli
) -> None:
    node = debian_node(debian_repo, tmp_path / "node")
    assert node.policy_candidate("openssh-client") == f"{SSH}10"  # apt's candidate

    report = scan(pw, node)
    assert report["baseline"]["name"] == "AWS-DebianDefaultPatchBaseline"
    security_only = restricted_dist_upgrade(node, debian_repo, ("bookworm-security",))
    assert security_only == {"openssh-client": f"{SSH}9", "libplain1": "1.0-1+deb12u1"}
    assert missing(report) == security_only
    ssh = patch(report, "openssh-client")
    assert ssh["classification"] == "Security" and ssh["repository"] == "bookworm-security"
    assert ssh["candidate_version"] == f"{SSH}10"
    assert f"newer version {SSH}10 (bookworm) not approved" in ssh["detail"]
    assert patch(report, "tzdata")["state"] == "INSTALLED_OTHER"
    assert report["compliance"] == "NON_COMPLIANT"

    table = pw("scan", "--root", node.root)
    assert f"{SSH}9" in table.stdout and "candidate_version" in table.stdout


def test_debian_approve_all_reports_what_dist_upgrade_installs(
    debian_repo: Repo, tmp_path: Path, pw: Cli
) -> None:
    node = debian_node(debian_repo, tmp_path / "node")
    baseline = write_baseline(tmp_path / "all.yaml", APPROVE_ALL)
    expected = dist_upgrade(node)
    assert expected["openssh-client"] == f"{SSH}10"  # not the backport (priority 100)
    assert missing(scan(pw, node, "--baseline", baseline)) == expected


def test_debian_install_puts_exactly_the_security_version_on_the_node(
    debian_repo: Repo, tmp_path: Path, pw: Cli
) -> None:
    node = debian_node(debian_repo, tmp_path / "node")
    result = pw("install", "--root", node.root, "--format", "json", "--reboot-option", "NoReboot")
    assert result.returncode == 0, str(result)
    versions = node.dpkg_versions()
    assert versions["openssh-client"] == f"{SSH}9"  # older than apt's candidate, on purpose
    assert versions["libplain1"] == "1.0-1+deb12u1"
    assert versions["tzdata"] == "2024a-1"

    after = scan(pw, node)
    assert missing(after) == {}
    ssh = patch(after, "openssh-client")
    assert ssh["state"] == "INSTALLED_PENDING_REBOOT"
    assert ssh["candidate_version"] == f"{SSH}10"


def test_debian_newest_in_release_installs_the_point_release_with_the_fix(
    debian_repo: Repo, tmp_path: Path, pw: Cli
) -> None:
    node = debian_node(debian_repo, tmp_path / "node")
    doc = baseline_document("newest-in-release", enable_non_security=False)
    doc["spec"]["Patchwarden"] = {"SecurityUpdates": "NEWEST_IN_RELEASE"}  # type: ignore[index]
    baseline = write_baseline(tmp_path / "newest.yaml", doc)

    report = scan(pw, node, "--baseline", baseline)
    assert missing(report) == {"openssh-client": f"{SSH}10", "libplain1": "1.0-1+deb12u1"}
    ssh = patch(report, "openssh-client")
    assert ssh["classification"] == "Security"
    assert f"security fix {SSH}9" in ssh["detail"]

    result = pw("install", "--root", node.root, "--baseline", baseline, "--format", "json")
    assert result.returncode == 0, str(result)
    assert node.dpkg_versions()["openssh-client"] == f"{SSH}10"  # never the backport


# -- Ubuntu: -security below -updates, and phased updates ------------------------------------

UBUNTU_PACKAGES = (
    DebSpec("jammy", "libx", "7.0-1ubuntu0"),
    DebSpec("jammy-security", "libx", "7.0-1ubuntu0.1"),
    DebSpec("jammy", "libr", "2.0-1"),
    DebSpec("jammy-security", "libr", "2.0-1ubuntu0.1"),
    DebSpec("jammy-updates", "libr", "2.0-1ubuntu0.2"),
    DebSpec("jammy", "q", "1.0-1"),
    DebSpec("jammy", "h", "1.0-1"),
)
PHASED = {"libx": ("7.0-1ubuntu0.2", "0"), "q": ("1.1-1", "0"), "h": ("1.1-1", "50")}
"""Phased versions in -updates: (version, Phased-Update-Percentage)."""
UBUNTU_STATE = {"libx": "7.0-1ubuntu0", "libr": "2.0-1", "q": "1.0-1", "h": "1.0-1"}


@pytest.fixture(scope="module")
def ubuntu_repo(sandbox_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Repo:
    base = tmp_path_factory.mktemp("ubuntu-versions")
    repo = build_repo(base / "repo", base / "work", UBUNTU_PACKAGES, UBUNTU_SUITES)
    for name, (version, pct) in PHASED.items():
        deb = build_deb(
            base / "work", name, version, extra_control={"Phased-Update-Percentage": pct}
        )
        repo.add("jammy-updates", deb)
    repo.publish()
    return repo


def machine_ids() -> tuple[str, str]:
    """Two machine ids: one outside the 50 % phase of h 1.1-1, one inside it; both outside
    the 0 % phases (apt includes a 0 % update only on a draw of exactly 0)."""
    outside = inside = None
    for i in range(1, 200):
        mid = f"{i:032x}"
        draws = {n: phase_draw(n, v, mid) for n, (v, _) in PHASED.items()}
        if draws["libx"] == 0 or draws["q"] == 0:
            continue
        if draws["h"] > 50 and outside is None:
            outside = mid
        if draws["h"] <= 50 and inside is None:
            inside = mid
    assert outside and inside
    return outside, inside


def ubuntu_node(repo: Repo, path: Path, machine_id: str) -> SandboxNode:
    node = SandboxNode(path, os_id="ubuntu", machine_id=machine_id)
    node.add_source(repo, ["jammy", "jammy-updates", "jammy-security"])
    node.apt_update()
    node.apt_install(*(f"{n}={v}" for n, v in sorted(UBUNTU_STATE.items())))
    return node


def test_ubuntu_security_baseline_sees_security_below_updates(
    ubuntu_repo: Repo, tmp_path: Path, pw: Cli
) -> None:
    outside, _ = machine_ids()
    node = ubuntu_node(ubuntu_repo, tmp_path / "node", outside)
    report = scan(pw, node)
    assert report["baseline"]["name"] == "AWS-UbuntuDefaultPatchBaseline"
    expected = restricted_dist_upgrade(node, ubuntu_repo, ("jammy-security",))
    assert expected == {"libx": "7.0-1ubuntu0.1", "libr": "2.0-1ubuntu0.1"}
    assert missing(report) == expected
    assert patch(report, "libr")["candidate_version"] == "2.0-1ubuntu0.2"
    assert patch(report, "libx")["candidate_version"] == "7.0-1ubuntu0.2"


@pytest.mark.parametrize("inside_h", [False, True], ids=["outside-h", "inside-h"])
def test_ubuntu_approve_all_matches_dist_upgrade_with_phasing(
    ubuntu_repo: Repo, tmp_path: Path, pw: Cli, inside_h: bool
) -> None:
    outside, inside = machine_ids()
    node = ubuntu_node(ubuntu_repo, tmp_path / "node", inside if inside_h else outside)
    baseline = write_baseline(tmp_path / "all.yaml", APPROVE_ALL)
    expected = dist_upgrade(node)
    # q (0 %) is held back; libx 0.2 (0 %) is not: a -security version lies below it
    assert "q" not in expected and expected["libx"] == "7.0-1ubuntu0.2"
    assert ("h" in expected) is inside_h
    report = scan(pw, node, "--baseline", baseline)
    assert missing(report) == expected
    q = patch(report, "q")
    assert (q["state"], q["deferred_version"]) == ("INSTALLED", "1.1-1")
    assert "phased update 1.1-1 deferred" in q["detail"]
    assert report["compliance"] == "NON_COMPLIANT"  # libx and libr are missing

    table = pw("scan", "--root", node.root, "--baseline", baseline).stdout
    assert "deferred:" in table and "q 1.1-1" in table

    result = pw("install", "--root", node.root, "--baseline", baseline, "--format", "json")
    assert result.returncode == 0, str(result)
    versions = node.dpkg_versions()
    assert {n: versions[n] for n in expected} == expected
    assert versions["q"] == "1.0-1"  # deferred, not installed
    assert missing(scan(pw, node, "--baseline", baseline)) == {}


def test_phasing_settings_of_the_root_agree_with_apt(
    ubuntu_repo: Repo, tmp_path: Path, pw: Cli
) -> None:
    outside, inside = machine_ids()
    node = ubuntu_node(ubuntu_repo, tmp_path / "node", outside)
    baseline = write_baseline(tmp_path / "all.yaml", APPROVE_ALL)
    conf = node.root / "etc/apt/apt.conf.d/90phasing"
    for setting, expect_h, expect_q in (
        (f'APT::Machine-ID "{inside}";\n', True, False),  # overrides etc/machine-id
        ('APT::Get::Always-Include-Phased-Updates "true";\n', True, True),
        ('Update-Manager::Always-Include-Phased-Updates "true";\n', True, True),
        (
            f'APT::Machine-ID "{inside}";\nAPT::Get::Never-Include-Phased-Updates "1";\n',
            False,
            False,
        ),
    ):
        conf.write_text(setting)
        expected = dist_upgrade(node)
        assert ("h" in expected, "q" in expected) == (expect_h, expect_q), setting
        assert missing(scan(pw, node, "--baseline", baseline)) == expected, setting


# -- this host: the issue's own acceptance check, read-only ----------------------------------


def _host_policy() -> dict[tuple[str, str], tuple[str, list[tuple[str, str]]]]:
    """{(name, arch): (installed, [(version, archive)])} from ``apt-cache policy``."""
    query = ["dpkg-query", "-W", "-f", "${Package}:${Architecture} ${db:Status-Abbrev}\n"]
    listed = subprocess.run(query, capture_output=True, text=True, check=True).stdout
    names = [line.split()[0] for line in listed.splitlines() if line.split()[1:2] == ["ii"]]
    env = {**os.environ, "LC_ALL": "C"}
    out = subprocess.run(
        ["apt-cache", "policy", *names], capture_output=True, text=True, env=env, check=True
    ).stdout
    found: dict[tuple[str, str], tuple[str, list[tuple[str, str]]]] = {}
    for block, name in zip(re.split(r"^\S+:\n", out, flags=re.M)[1:], names, strict=True):
        installed = re.search(r"Installed: (\S+)", block)
        versions: list[tuple[str, str]] = []
        version = None
        for line in block.splitlines():
            if m := re.match(r"^ (?:\*\*\*|   ) (\S+) -?\d+$", line):
                version = m.group(1)
            elif (m := re.match(r"^\s+-?\d+ \S+ (\S+)/", line)) and version:
                versions.append((version, m.group(1)))
        pkg, _, arch = name.rpartition(":")
        found[(pkg, arch)] = (installed.group(1) if installed else "", versions)
    return found


@pytest.mark.skipif(not Path("/var/lib/dpkg/status").is_file(), reason="not a dpkg host")
def test_this_host_default_baseline_misses_every_newer_security_version(
    sandbox_ready: None, pw: Cli
) -> None:
    """On ``/``: every installed package for which a ``-security`` suite offers a newer
    version is MISSING at the highest such version (apt-cache policy is the oracle)."""
    report = pw("scan", "--format", "json", now=None)
    if report.returncode == 3:
        pytest.skip(f"this host cannot be scanned: {report.stderr.strip()}")
    expected: dict[tuple[str, str], str] = {}
    for key, (installed, versions) in _host_policy().items():
        newer = [v for v, suite in versions if suite.endswith("-security")]
        newer = [v for v in newer if compare("deb", v, installed) > 0]
        if newer:
            expected[key] = max(newer, key=cmp_to_key(lambda a, b: compare("deb", a, b)))
    patches = report.json()["patches"]
    got = {
        (p["name"], p["arch"]): p["available_version"] for p in patches if p["state"] == "MISSING"
    }
    assert {k: got.get(k) for k in expected} == expected
    assert set(got) == set(expected)


@pytest.mark.skipif(not Path("/var/lib/dpkg/status").is_file(), reason="not a dpkg host")
def test_this_host_approve_all_is_apt_get_dist_upgrade(
    sandbox_ready: None, pw: Cli, tmp_path: Path
) -> None:
    baseline = write_baseline(tmp_path / "all.yaml", APPROVE_ALL)
    result = pw("scan", "--format", "json", "--baseline", baseline, now=None)
    if result.returncode == 3:
        pytest.skip(f"this host cannot be scanned: {result.stderr.strip()}")
    out = subprocess.run(
        ["apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade"],
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
        check=True,
    ).stdout
    assert missing(result.json()) == dict(re.findall(r"^Inst (\S+) \[\S+\] \((\S+) ", out, re.M))
