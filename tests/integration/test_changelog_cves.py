"""Changelog CVEs of pending updates with REAL apt in sandbox roots (Vuls' deep mode).

The candidate .debs are not in apt's cache at first: the adapter downloads them into
``<root>/var/cache/apt/archives`` with ``apt-get download`` (the product's ``APT_CONFIG``),
reads the changelog in-process and names the CVEs of the entries newer than the installed
version.  The .debs here carry several changelog entries (``sandbox.build_deb`` writes one),
so this module builds its own with ``dpkg-deb``.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from sandbox import (
    MAINTAINER,
    NOW,
    Cli,
    NodeFactory,
    Repo,
    SandboxNode,
    apt_cache_filename,
    deb_filename,
    host_arch,
    run,
)

from patchwarden.adapters.os.apt.manager import AptPackageManager
from patchwarden.adapters.runner import LocalRunner
from patchwarden.adapters.state import LocalState
from patchwarden.core.vuln import AdvisoryStatus
from patchwarden.pipeline.scan import scan
from patchwarden.ports import RunResult
from patchwarden.render.cyclonedx import render as cdx
from patchwarden.render.sarif import SCHEMA_PATH, sarif_dict

pytestmark = pytest.mark.integration

CVES = ("CVE-2026-0001", "CVE-2026-0002", "CVE-2026-0003")
ENTRIES = (
    ("1.0-1+deb12u2", "bookworm-security", ["Fix CVE-2026-0002 and CVE-2026-0003."]),
    ("1.0-1+deb12u1", "bookworm-security", ["Fix heap overflow (CVE-2026-0001)."]),
    ("1.0-1", "unstable", ["Initial release.", "Already fixes CVE-2025-9999 upstream."]),
)


def changelog(source: str, entries: Sequence[tuple[str, str, Sequence[str]]]) -> str:
    """A Debian changelog with these (version, distribution, change lines), newest first."""
    blocks = []
    for i, (version, dist, lines) in enumerate(entries):
        body = "\n".join(f"  * {line}" for line in lines)
        date = f"Mon, {10 - i:02d} Aug 2026 12:00:00 +0000"
        blocks.append(
            f"{source} ({version}) {dist}; urgency=high\n\n{body}\n\n -- {MAINTAINER}  {date}\n"
        )
    return "\n".join(blocks)


def build_cve_deb(
    workdir: Path,
    name: str,
    version: str,
    *,
    source: str | None = None,
    arch: str = "all",
    entries: Sequence[tuple[str, str, Sequence[str]]] = (),
    doc_link: str | None = None,
    binnmu_entry: bool = False,
) -> Path:
    """A .deb whose doc dir holds a multi-entry changelog, or is a symlink to ``doc_link``."""
    tree = workdir / "build" / f"{name}_{version}_{arch}"
    shutil.rmtree(tree, ignore_errors=True)
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "usr/share" / name).mkdir(parents=True)
    (tree / "usr/share" / name / "VERSION").write_text(version + "\n")
    doc = tree / "usr/share/doc" / name
    src = (source or name).split(" ", 1)[0]
    if doc_link:
        doc.parent.mkdir(parents=True)
        doc.symlink_to(doc_link)
    else:
        doc.mkdir(parents=True)
        text = changelog(src, entries or [(version, "bookworm", ["Sandbox build."])])
        (doc / "changelog.Debian.gz").write_bytes(gzip.compress(text.encode(), mtime=0))
        if binnmu_entry:  # what a binNMU ships beside the source changelog
            nmu = changelog(src, [(version, "bookworm", ["Rebuild against libc6 2.36."])])
            arch_file = doc / f"changelog.Debian.{arch}.gz"
            arch_file.write_bytes(gzip.compress(nmu.encode(), mtime=0))
    control = {
        "Package": name,
        "Version": version,
        "Architecture": arch,
        "Maintainer": MAINTAINER,
        **({"Source": source} if source else {}),
        "Section": "libs",
        "Priority": "optional",
        "Description": f"sandbox package {name}\n With a changelog naming CVEs.",
    }
    (tree / "DEBIAN/control").write_text("".join(f"{k}: {v}\n" for k, v in control.items()))
    out = workdir / "debs"
    out.mkdir(parents=True, exist_ok=True)
    deb = out / deb_filename(name, version, arch)
    run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(tree), str(deb)])
    return deb


@pytest.fixture(scope="module")
def cve_repo(sandbox_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """bookworm: the installed versions; bookworm-security: candidates naming CVEs.

    ``cvefoo`` (plain), ``cvebin`` (installed as binNMU ``1.0-1+b1``), ``libcve-dev`` (its
    doc dir a symlink to ``libcve1``, which is not installed but carries the changelog).
    """
    base = tmp_path_factory.mktemp("cve-repo")
    work, arch = base / "work", host_arch()
    repo = Repo(base / "repo")
    old = [
        build_cve_deb(work, "cvefoo", "1.0-1"),
        build_cve_deb(
            work, "cvebin", "1.0-1+b1", source="cvebin (1.0-1)", arch=arch, binnmu_entry=True
        ),
        build_cve_deb(work, "libcve-dev", "1.0-1", source="libcve", doc_link="libcve1"),
        build_cve_deb(work, "libcve1", "1.0-1", source="libcve"),
    ]
    new = [
        build_cve_deb(work, "cvefoo", "1.0-1+deb12u2", entries=ENTRIES),
        build_cve_deb(work, "cvebin", "1.0-1+deb12u2", arch=arch, entries=ENTRIES),
        build_cve_deb(work, "libcve-dev", "1.0-1+deb12u2", source="libcve", doc_link="libcve1"),
        build_cve_deb(work, "libcve1", "1.0-1+deb12u2", source="libcve", entries=ENTRIES),
    ]
    repo.add("bookworm", *old)
    repo.add("bookworm-security", *new)
    repo.publish()
    return repo


INSTALLED = {"cvefoo": "1.0-1", "cvebin": "1.0-1+b1", "libcve-dev": "1.0-1"}


@pytest.fixture
def node(cve_repo: Repo, tmp_path: Path) -> SandboxNode:
    factory = NodeFactory(
        tmp_path / "nodes", cve_repo, suites=("bookworm", "bookworm-security"), state=INSTALLED
    )
    return factory(name="cvenode")


class CountingRunner(LocalRunner):
    """The real runner, recording every argv."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: bool = False,
    ) -> RunResult:
        self.calls.append(tuple(argv))
        return super().run(argv, env=env, timeout=timeout, check=check)

    def downloads(self) -> list[tuple[str, ...]]:
        return [c for c in self.calls if "download" in c]


def adapter(node: SandboxNode, runner: CountingRunner | None = None) -> AptPackageManager:
    cache = node.root.parent / f"{node.root.name}.pw-cache"
    return AptPackageManager(str(node.root), runner=runner, cache_dir=str(cache))


def cached(node: SandboxNode, name: str, version: str, arch: str = "all") -> Path:
    return node.archives / apt_cache_filename(name, version, arch)


def test_candidate_debs_are_downloaded_into_apt_cache_and_cves_named(
    node: SandboxNode, state: LocalState
) -> None:
    assert not cached(node, "cvefoo", "1.0-1+deb12u2").exists()
    runner = CountingRunner()
    pm = adapter(node, runner)
    inventory = pm.collect()
    results = {r.name: r for r in pm.changelog_cves(inventory, cache=state)}

    foo = results["cvefoo"]
    assert foo.found and foo.installed_version == "1.0-1" and foo.version == "1.0-1+deb12u2"
    assert foo.cves == CVES  # CVE-2025-9999 of the installed 1.0-1 is not listed
    assert foo.entries == (
        ("1.0-1+deb12u2", ("CVE-2026-0002", "CVE-2026-0003")),
        ("1.0-1+deb12u1", ("CVE-2026-0001",)),
    )
    assert cached(node, "cvefoo", "1.0-1+deb12u2").is_file()  # apt's own cache and file name
    (batch,) = runner.downloads()[:1]
    assert batch[:2] == ("env", f"--chdir={node.archives}")
    assert pm.update_cves(inventory, cache=state)[("cvefoo", "all", "1.0-1+deb12u2")] == CVES


def test_a_second_call_reads_the_state_and_downloads_nothing(
    node: SandboxNode, state: LocalState
) -> None:
    first = adapter(node).changelog_cves(adapter(node).collect(), cache=state)
    assert state.changelog_cves(str(node.root))[("cvefoo", "1.0-1+deb12u2", "1.0-1")] == (
        ("1.0-1+deb12u2", ("CVE-2026-0002", "CVE-2026-0003")),
        ("1.0-1+deb12u1", ("CVE-2026-0001",)),
    )
    runner = CountingRunner()
    pm = adapter(node, runner)
    second = pm.changelog_cves(pm.collect(), cache=state)
    assert second == first
    assert runner.calls == []  # no apt-get, no dpkg-deb: everything came from the state


def test_binnmu_installed_version_compares_without_its_suffix(
    node: SandboxNode, state: LocalState
) -> None:
    pm = adapter(node)
    (result,) = [r for r in pm.changelog_cves(pm.collect(), cache=state) if r.name == "cvebin"]
    assert result.installed_version == "1.0-1+b1"
    assert result.cves == CVES
    assert cached(node, "cvebin", "1.0-1+deb12u2", host_arch()).is_file()


def test_symlinked_doc_dir_falls_back_to_the_sources_main_binary(
    node: SandboxNode, state: LocalState
) -> None:
    pm = adapter(node)
    (result,) = [r for r in pm.changelog_cves(pm.collect(), cache=state) if r.name == "libcve-dev"]
    assert result.found and result.cves == CVES
    assert result.source == "libcve"
    # libcve1 is not installed: it was fetched only for its changelog
    assert cached(node, "libcve1", "1.0-1+deb12u2").is_file()
    assert "libcve1" not in node.dpkg_versions()


def test_changelog_advisories_for_the_matcher(node: SandboxNode, state: LocalState) -> None:
    pm = adapter(node)
    advisories = pm.changelog_advisories(pm.collect(), cache=state)
    foo = {a.id: a for a in advisories if a.package == "cvefoo"}
    assert sorted(foo) == list(CVES)
    assert {a.fixed_version for a in foo.values()} == {"1.0-1+deb12u1", "1.0-1+deb12u2"}
    assert foo["CVE-2026-0001"].fixed_version == "1.0-1+deb12u1"
    assert foo["CVE-2026-0002"].fixed_version == "1.0-1+deb12u2"
    assert all(
        a.source == "changelog" and a.ecosystem == "Debian:12" and a.status is AdvisoryStatus.FIXED
        for a in advisories
    )
    assert {a.package for a in advisories} == {"cvefoo", "cvebin", "libcve"}


def test_without_download_nothing_is_fetched_or_remembered(
    node: SandboxNode, state: LocalState
) -> None:
    runner = CountingRunner()
    pm = adapter(node, runner)
    results = pm.changelog_cves(pm.collect(), cache=state, download=False)
    assert all(not r.found and r.cves == () for r in results)
    assert runner.downloads() == []
    assert state.changelog_cves(str(node.root)) == {}  # a later download may still find them
    again = pm.changelog_cves(pm.collect(), cache=state)
    assert {r.name: r.cves for r in again}["cvefoo"] == CVES


def test_scan_report_with_changelog_cves_renders_valid_sarif_and_cyclonedx(
    node: SandboxNode, state: LocalState
) -> None:
    """What ``scan --changelogs --format sarif|cyclonedx`` prints, without a vulnerability DB."""
    pm = adapter(node)
    report = scan(pm, None, NOW, state=state)
    cves = pm.update_cves(pm.collect(), cache=state)
    items = tuple(
        replace(i, cves=cves.get((i.name, i.arch, i.available_version or ""), i.cves))
        for i in report.items
    )
    report = replace(report, items=items)
    assert {i.name: i.cves for i in report.items if i.cves} == {
        "cvefoo": CVES,
        "cvebin": CVES,
        "libcve-dev": CVES,
    }
    document = sarif_dict(report)
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert not list(jsonschema.Draft4Validator(schema).iter_errors(document))
    messages = [r["message"]["text"] for r in document["runs"][0]["results"]]
    assert any("cvefoo 1.0-1" in m and "CVE-2026-0003" in m for m in messages)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(cdx(report)) is None
    assert json.loads(cdx(report))["metadata"]["component"]["name"] == "cvenode"


FEEDS = Path(__file__).parents[1] / "data" / "feeds"


def test_changelog_cves_get_nvd_severity_and_the_known_exploited_one_leads(
    node: SandboxNode, pw: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No distribution feed, only NVD's scores and the KEV catalogue: the CVEs the pending
    updates' changelogs name are rated from NVD (a v3.1 and a v4.0 vector), a REJECTED one
    stays UNTRIAGED, and the known-exploited one is ranked first and fails the KEV gate."""
    for feed in ("nvd/nvdcve-2.0-excerpt.json", "cisa-kev/known_exploited_vulnerabilities.json"):
        imported = pw("db", "import", FEEDS / feed)
        assert imported.returncode == 0, str(imported)
    report = pw("scan", "--root", node.root, "--vulns", "--changelogs", "-f", "json")
    assert report.returncode == 0, str(report)
    found = {
        (f["vulnerability_id"], f["package_name"]): f for f in report.json()["vulnerabilities"]
    }
    one, two, three = (found[cve, "cvefoo"] for cve in CVES)
    assert (one["severity"], one["severity_source"], one["cvss_score"]) == ("HIGH", "nvd", 7.8)
    assert (two["severity"], two["severity_source"], two["cvss_score"]) == ("MEDIUM", "nvd", 6.9)
    assert two["known_exploited"] is True and two["kev_due_date"] == "2026-12-16"
    assert (three["severity"], three["severity_source"]) == ("UNTRIAGED", "none")  # rejected

    monkeypatch.setenv("COLUMNS", "80")
    table = pw("scan", "--root", node.root, "--vulns", "--changelogs", "--by", "cve")
    assert table.returncode == 0, str(table)
    rows = [line for line in table.stdout.splitlines() if line.startswith("CVE-")]
    assert rows[0].split()[0] == "CVE-2026-0002" and "KEV" in rows[0], table.stdout
    assert max(len(line) for line in table.stdout.splitlines() if "│" in line) <= 80
    gate = pw("scan", "--root", node.root, "--changelogs", "--fail-on", "kev", "-f", "json")
    assert gate.returncode == 1, str(gate)
    assert "known exploited (CISA KEV)" in gate.stderr
