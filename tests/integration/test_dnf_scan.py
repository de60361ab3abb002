"""Scan of rpm sandbox roots with real rpm and dnf: notices, dates, baselines, errors.

The oracle is dnf itself on the same root with the product's options: ``dnf check-update``
for what is upgradable and ``dnf updateinfo list`` for which notice covers which NEVRA.
The real CLI is driven with ``PATCHWARDEN_NOW`` placed relative to the notice dates.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from rpm_sandbox import (
    BAZ_11,
    RPM_NOW,
    RPM_NOW_ISO,
    STANDARD_NOTICES,
    NoticeSpec,
    RpmNode,
    RpmNodeFactory,
    RpmRepo,
    host_rpm_untouched_fixture,  # noqa: F401  (pytest fixtures)
    make_rpm_node_fixture,  # noqa: F401
    rpm_node_fixture,  # noqa: F401
    rpm_ready_fixture,  # noqa: F401
    rpm_repo_fixture,  # noqa: F401
    updateinfo_xml,
)
from sandbox import Cli, JsonReport, baseline_document, write_baseline

from patchwarden.core.model import PatchState
from patchwarden.pipeline.scan import scan

pytestmark = pytest.mark.integration

AL2023 = "AMAZON_LINUX_2023"
DEFAULT_STATES = {
    "app": "MISSING",  # Critical
    "bar": "MISSING",  # Bugfix
    "baz": "INSTALLED_OTHER",  # no notice
    "calm": "INSTALLED_OTHER",  # no update
    "epo": "INSTALLED_OTHER",  # enhancement
    "foo": "MISSING",  # Critical (1.1) and no notice (1.2)
    "kernel": "MISSING",  # Important
    "low": "INSTALLED_OTHER",  # security Low
    "qux": "INSTALLED_OTHER",  # Important, updated 2 days before now
}
"""Under the AL2023 default baseline at RPM_NOW: Security Critical/Important + Bugfix after
7 days."""


def scan_json(pw: Cli, node: RpmNode, *args: str | Path, now: str = RPM_NOW_ISO) -> JsonReport:
    result = pw("scan", "--root", node.root, "--format", "json", *args, now=now)
    assert result.returncode == 0, str(result)
    assert "Traceback" not in result.stderr
    return result.json()


def states(report: JsonReport) -> dict[str, str]:
    return {p["name"]: p["state"] for p in report["patches"]}


def patches(report: JsonReport) -> dict[str, dict]:  # type: ignore[type-arg]
    return {p["name"]: p for p in report["patches"]}


def baseline_file(
    tmp_path: Path,
    name: str,
    *,
    os: str = AL2023,
    product: str = "*",
    classifications: Sequence[str] = (),
    approve_after_days: int = 0,
    enable_non_security: bool = True,
    approved: Sequence[str] = (),
) -> Path:
    """One approval rule: PRODUCT (and CLASSIFICATION when given) after ``approve_after_days``."""
    filters: dict[str, Sequence[str]] = {"PRODUCT": [product]}
    if classifications:
        filters["CLASSIFICATION"] = classifications
    document = baseline_document(
        name,
        operating_system=os,
        filters=filters,
        approve_after_days=approve_after_days,
        enable_non_security=enable_non_security,
        approved=approved,
    )
    return write_baseline(tmp_path / f"{name}.yaml", document)


def test_default_baseline_al2023(rpm_node: RpmNode, pw: Cli) -> None:
    report = scan_json(pw, rpm_node)

    assert report["node"]["product"] == "AmazonLinux2023"
    assert report["node"]["os"]["operating_system"] == "AMAZON_LINUX_2023"
    assert report["baseline"]["name"] == "AWS-AmazonLinux2023DefaultPatchBaseline"
    assert states(report) == DEFAULT_STATES
    assert report["compliance"] == "NON_COMPLIANT"
    got = patches(report)
    foo = got["foo"]
    assert foo["installed_version"] == "1.0-1.amzn2023"
    assert foo["available_version"] == "1.1-1.amzn2023"  # the minimal fix, not 1.2
    assert (foo["classification"], foo["vendor_severity"]) == ("Security", "Critical")
    assert foo["cves"] == ["CVE-2025-0001", "CVE-2025-0002"]
    assert foo["release_date"] == "2025-01-12T12:00:00Z"  # <updated>, not <issued>
    assert foo["repository"] == "sandbox"
    bar = got["bar"]
    assert (bar["classification"], bar["release_date"]) == ("Bugfix", "2025-01-15T12:00:00Z")
    assert got["kernel"]["release_date"] == "2025-01-16T04:00:00Z"  # epoch seconds
    assert got["kernel"]["vendor_severity"] == "Important"
    assert got["app"]["cves"] == ["CVE-2025-0007"]
    assert "too recent" in got["qux"]["detail"]
    assert report["summary"]["MISSING"] == 4


def test_updates_agree_with_dnf(rpm_node: RpmNode) -> None:
    """Every newer version is reported, and the newest ones are what dnf check-update says;
    each NEVRA carries the notices ``dnf updateinfo list`` names for it."""
    inventory = rpm_node.pm().collect()
    newest: dict[str, str] = {}
    for u in inventory.updates:
        newest[u.name] = max(newest.get(u.name, u.version), u.version)
    check = rpm_node.dnf("-C", "check-update", check=False)
    assert check.returncode == 100, check.stdout + check.stderr
    oracle = {}
    for line in check.stdout.splitlines():
        m = re.match(r"^(\S+)\.noarch\s+(\S+)\s+sandbox$", line.strip())
        if m:
            oracle[m.group(1)] = m.group(2)
    assert newest == oracle
    assert sorted(u.version for u in inventory.updates if u.name == "foo") == [
        "1.1-1.amzn2023",
        "1.2-1.amzn2023",
    ]
    info = rpm_node.dnf("-C", "updateinfo", "list", "--available").stdout
    notices: dict[str, set[str]] = {}
    for line in info.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith("ALAS"):
            notices.setdefault(parts[2], set()).add(parts[0])
    ours = {
        f"{u.name}-{u.version}.noarch": set(u.advisory_ids)
        for u in inventory.updates
        if u.advisory_ids
    }
    assert ours == notices
    assert {u.name for u in inventory.updates if not u.update_notice} == {"foo", "baz"}


def test_seven_day_rule_dates_come_from_updateinfo(
    rpm_node: RpmNode, pw: Cli, tmp_path: Path
) -> None:
    """qux's notice was issued 2025-02-20 but updated 2025-02-27 12:00: updated counts."""
    week = baseline_file(
        tmp_path,
        "security-after-7-days",
        classifications=["Security"],
        approve_after_days=7,
        enable_non_security=False,
    )
    before = scan_json(pw, rpm_node, "--baseline", week, now="2025-03-06T11:59:59Z")
    assert states(before)["qux"] == "INSTALLED_OTHER"
    assert "released 2025-02-27, too recent" in patches(before)["qux"]["detail"]
    after = scan_json(pw, rpm_node, "--baseline", week, now="2025-03-06T12:00:00Z")
    assert states(after)["qux"] == "MISSING"
    assert patches(after)["qux"]["release_date"] == "2025-02-27T12:00:00Z"
    # security notices of any severity (low too), nothing without a notice
    assert {n for n, s in states(after).items() if s == "MISSING"} == {
        "app",
        "foo",
        "kernel",
        "low",
        "qux",
    }
    # a week before the oldest notice nothing is old enough
    early = scan_json(pw, rpm_node, "--baseline", week, now="2025-01-08T00:00:00Z")
    assert set(states(early).values()) == {"INSTALLED_OTHER"}


def test_no_notice_needs_enable_non_security(rpm_node: RpmNode, pw: Cli, tmp_path: Path) -> None:
    strict = baseline_file(tmp_path, "notices-only", enable_non_security=False)
    report = scan_json(pw, rpm_node, "--baseline", strict)
    got = patches(report)
    assert got["foo"]["available_version"] == "1.1-1.amzn2023"  # 1.2 has no notice
    assert got["baz"]["state"] == "INSTALLED_OTHER"
    assert "not a security update" in got["baz"]["detail"]
    assert got["epo"]["available_version"] == "1:0.9-1"  # an enhancement notice counts
    assert got["epo"]["classification"] == "Enhancement"

    everything = baseline_file(tmp_path, "everything", enable_non_security=True)
    report = scan_json(pw, rpm_node, "--baseline", everything)
    got = patches(report)
    assert got["foo"]["available_version"] == "1.2-1.amzn2023"  # the highest approved
    assert got["foo"]["cves"] == ["CVE-2025-0001", "CVE-2025-0002"]  # of the skipped 1.1
    assert got["baz"]["available_version"] == "1.1-1"
    assert got["baz"]["release_date"] is None  # no notice: 1970, passes every delay


def test_rocky_node_product_and_default_baseline(
    make_rpm_node: RpmNodeFactory, pw: Cli, tmp_path: Path
) -> None:
    node = make_rpm_node(os_id="rocky", name="rocky9")
    report = scan_json(pw, node)
    assert report["node"]["product"] == "RockyLinux9.3"
    assert report["baseline"]["name"] == "AWS-RockyLinuxDefaultPatchBaseline"
    assert states(report) == DEFAULT_STATES
    every = {"app", "bar", "baz", "epo", "foo", "kernel", "low", "qux"}
    for product, expected in (("RockyLinux9.2", set()), ("RockyLinux9.3", every)):
        doc = baseline_file(tmp_path, f"only-{product}", os="ROCKY_LINUX", product=product)
        report = scan_json(pw, node, "--baseline", doc)
        assert {n for n, s in states(report).items() if s == "MISSING"} == expected, product


def test_approved_list_takes_advisory_cve_and_bugzilla_ids(
    rpm_node: RpmNode, pw: Cli, tmp_path: Path
) -> None:
    doc = baseline_file(
        tmp_path,
        "by-id",
        classifications=["Newpackage"],  # the rule approves nothing here
        enable_non_security=False,
        approved=["ALAS2023-2025-003", "CVE-2025-0004", "2006", "baz-1.1-1.noarch"],
    )
    report = scan_json(pw, rpm_node, "--baseline", doc)
    missing = {
        p["name"]: p["available_version"] for p in report["patches"] if p["state"] == "MISSING"
    }
    # baz has no notice: the approved list needs ApprovedPatchesEnableNonSecurity for it
    assert missing == {"qux": "3.1-1", "low": "1.0-2", "kernel": "6.1.1-1.amzn2023"}


def test_pipeline_scan_reports_cves_per_missing_patch(rpm_node: RpmNode) -> None:
    report = scan(rpm_node.pm(), None, RPM_NOW)
    cves = {i.name: i.cves for i in report.items if i.state is PatchState.MISSING}
    assert cves == {
        "app": ("CVE-2025-0007",),
        "bar": (),
        "foo": ("CVE-2025-0001", "CVE-2025-0002"),
        "kernel": ("CVE-2025-0006",),
    }


def test_refresh_picks_up_a_new_notice(
    rpm_repo: RpmRepo, make_rpm_node: RpmNodeFactory, pw: Cli, tmp_path: Path
) -> None:
    repo = rpm_repo.clone(tmp_path / "repo")
    node = make_rpm_node(repo=repo)
    assert states(scan_json(pw, node))["baz"] == "INSTALLED_OTHER"
    late = NoticeSpec(
        "ALAS2023-2025-099",
        "security",
        "Critical",
        issued="2025-02-01 00:00:00",
        cves=("CVE-2025-0099",),
        packages=(BAZ_11,),
    )
    repo.publish([*STANDARD_NOTICES, late])
    assert states(scan_json(pw, node))["baz"] == "INSTALLED_OTHER"  # the cache is what counts
    report = scan_json(pw, node, "--refresh")
    assert states(report)["baz"] == "MISSING"
    assert patches(report)["baz"]["cves"] == ["CVE-2025-0099"]


def test_missing_metadata_cache_asks_for_a_refresh(rpm_node: RpmNode, pw: Cli) -> None:
    shutil.rmtree(rpm_node.root / "var/cache/dnf")
    result = pw("scan", "--root", rpm_node.root, now=RPM_NOW_ISO)
    assert result.returncode == 3, str(result)
    assert "no dnf metadata cached for repository sandbox" in result.stderr
    assert "Traceback" not in result.stderr
    assert states(scan_json(pw, rpm_node, "--refresh")) == DEFAULT_STATES


def test_corrupt_updateinfo_is_a_clear_error(
    rpm_repo: RpmRepo, make_rpm_node: RpmNodeFactory, pw: Cli, tmp_path: Path
) -> None:
    """dnf itself shrugs at a truncated updateinfo.xml (it keeps what it could read); a scan
    refuses it, since every notice lost would hide a missing security patch."""
    repo = rpm_repo.clone(tmp_path / "repo")
    repo.publish(updateinfo=updateinfo_xml(STANDARD_NOTICES)[:900])
    node = make_rpm_node(repo=repo)
    assert node.dnf("-C", "updateinfo", "list").returncode == 0
    result = pw("scan", "--root", node.root, now=RPM_NOW_ISO)
    assert result.returncode == 3, str(result)
    assert result.stderr.startswith("patchwarden: error: corrupt update metadata ")
    assert "updateinfo.xml.gz: unclosed token" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_root_without_rpm_database(tmp_path: Path, pw: Cli, rpm_ready: None) -> None:
    root = tmp_path / "empty"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID="rocky"\nVERSION_ID="9.3"\n')
    result = pw("scan", "--root", root)
    assert result.returncode == 3 and "no rpm database in root" in result.stderr, str(result)


def test_inventory_cache_is_used_and_invalidated(rpm_node: RpmNode, tmp_path: Path) -> None:
    cache = tmp_path / "pw-cache"
    first = rpm_node.pm(cache).collect()
    assert list(cache.glob("dnf-inventory-*.pickle"))
    assert rpm_node.pm(cache).collect() == first
    rpm_node.install("baz-1.1-1.noarch")
    again = rpm_node.pm(cache).collect()
    assert {p.package.name: p.package.version for p in again.installed}["baz"] == "1.1-1"
