"""Release dates on Debian (docs/release-dates.md): first-seen records and changelog dates.

The CLI clock is pinned with ``PATCHWARDEN_NOW``; nothing here depends on the wall clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from sandbox import (
    APPROVE_ALL_UPDATES,
    NOW,
    STANDARD_STATE,
    Cli,
    JsonReport,
    NodeFactory,
    Repo,
    SandboxNode,
    baseline_document,
    build_deb,
    deb_filename,
    load_baseline,
    write_baseline,
)

from patchwarden.adapters.state import LocalState
from patchwarden.core.model import PatchState
from patchwarden.pipeline.scan import scan

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WEEK_LATE = baseline_document("week-late", approve_after_days=7)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def scan_at(pw: Cli, node: SandboxNode, baseline: Path, moment: datetime) -> JsonReport:
    result = pw(
        "scan", "--root", node.root, "--baseline", baseline, "--format", "json", now=iso(moment)
    )
    assert result.returncode == 0, str(result)
    return result.json()


def missing(report: JsonReport) -> dict[str, str]:
    return {p["name"]: p["available_version"] for p in report["patches"] if p["state"] == "MISSING"}


def patch(report: JsonReport, name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [p for p in report["patches"] if p["name"] == name]
    assert len(found) == 1, f"{name}: {len(found)} items"
    return found[0]


@pytest.fixture
def week_late(tmp_path: Path) -> Path:
    return write_baseline(tmp_path / "week-late.yaml", WEEK_LATE)


def test_first_seen_starts_the_clock(sandbox_node: SandboxNode, pw: Cli, week_late: Path) -> None:
    first = scan_at(pw, sandbox_node, week_late, T0)
    assert missing(first) == {}
    for name in APPROVE_ALL_UPDATES:
        item = patch(first, name)
        # the installed version is approved (it has no release date); its update is not yet
        assert item["state"] == "INSTALLED"
        assert item["available_version"] is None
        assert "released 2026-03-01, too recent" in item["detail"], item

    assert missing(scan_at(pw, sandbox_node, week_late, T0 + timedelta(days=6))) == {}
    # ApproveAfterDays is inclusive: exactly 7 days after first seen is approved
    assert missing(scan_at(pw, sandbox_node, week_late, T0 + timedelta(days=7))) == (
        APPROVE_ALL_UPDATES
    )
    later = scan_at(pw, sandbox_node, week_late, T0 + timedelta(days=8))
    assert missing(later) == APPROVE_ALL_UPDATES
    for name in APPROVE_ALL_UPDATES:
        assert patch(later, name)["release_date"] == iso(T0)  # first seen, not the scan time


def test_first_seen_is_per_root(make_node: NodeFactory, pw: Cli, week_late: Path) -> None:
    old, new = make_node(name="old"), make_node(name="new")
    scan_at(pw, old, week_late, T0)
    later = T0 + timedelta(days=8)
    assert missing(scan_at(pw, old, week_late, later)) == APPROVE_ALL_UPDATES
    assert missing(scan_at(pw, new, week_late, later)) == {}  # new to this root today


def test_a_new_version_restarts_the_clock(
    deb_repo: Repo, tmp_path: Path, pw: Cli, week_late: Path
) -> None:
    repo = deb_repo.clone(tmp_path / "repo")
    node = NodeFactory(tmp_path / "nodes", repo)(name="moving")
    scan_at(pw, node, week_late, T0)
    repo.add("bookworm", build_deb(tmp_path / "debs", "bar", "2.2-1", section="net"))
    repo.publish()
    node.apt_update()
    assert node.upgradable()["bar"].version == "2.2-1"

    report = scan_at(pw, node, week_late, T0 + timedelta(days=8))
    # bar 2.2-1 was first seen just now; 2.1-1 (still published) has waited long enough:
    # the highest version the baseline approves is the one missing, 2.2-1 stays visible
    assert missing(report) == APPROVE_ALL_UPDATES
    assert patch(report, "bar")["candidate_version"] == "2.2-1"
    report = scan_at(pw, node, week_late, T0 + timedelta(days=15))
    assert missing(report) == {**APPROVE_ALL_UPDATES, "bar": "2.2-1"}


def test_changelog_date_of_a_cached_deb_counts_when_earlier(
    sandbox_node: SandboxNode, deb_repo: Repo, pw: Cli, week_late: Path
) -> None:
    # the candidate .debs as `apt-get --download-only` leaves them (epoch as %3a)
    for name, suite in (("libfoo1", "bookworm-security"), ("baz", "bookworm")):
        version = APPROVE_ALL_UPDATES[name]
        published = deb_repo.file(suite, deb_filename(name, version, "all"))
        cached = sandbox_node.cache_deb(published, name, version)
        assert (
            cached.name
            == {"libfoo1": "libfoo1_1.0-1+deb12u1_all.deb", "baz": "baz_1%3a0.9-1_all.deb"}[name]
        )

    report = scan_at(pw, sandbox_node, week_late, T0)
    # their changelog entries are dated 2024-01-01: long enough ago
    assert missing(report) == {"libfoo1": "1.0-1+deb12u1", "baz": "1:0.9-1"}
    assert patch(report, "libfoo1")["release_date"] == "2024-01-01T12:00:00Z"
    assert patch(report, "baz")["release_date"] == "2024-01-01T12:00:00Z"
    assert patch(report, "bar")["state"] == "INSTALLED"
    assert "too recent" in patch(report, "bar")["detail"]


def test_changelog_date_only_when_earlier_than_first_seen(
    sandbox_node: SandboxNode, pw: Cli, week_late: Path, tmp_path: Path
) -> None:
    # libfoo1's candidate carries a changelog entry dated 3 days before the first scan;
    # bar's is dated after it (a rebuilt .deb): first seen wins for bar
    dated = {"libfoo1": T0 - timedelta(days=3), "bar": T0 + timedelta(days=2)}
    for name, when in dated.items():
        version = APPROVE_ALL_UPDATES[name]
        deb = build_deb(
            tmp_path / "debs",
            name,
            version,
            source="foo" if name == "libfoo1" else None,
            changelog_date=format_datetime(when),
        )
        sandbox_node.cache_deb(deb, name, version)

    assert missing(scan_at(pw, sandbox_node, week_late, T0)) == {}
    at_4 = scan_at(pw, sandbox_node, week_late, T0 + timedelta(days=4))
    assert missing(at_4) == {"libfoo1": "1.0-1+deb12u1"}  # 7 days after its changelog date
    assert patch(at_4, "libfoo1")["release_date"] == iso(T0 - timedelta(days=3))
    at_7 = scan_at(pw, sandbox_node, week_late, T0 + timedelta(days=7))
    assert missing(at_7) == APPROVE_ALL_UPDATES
    assert patch(at_7, "bar")["release_date"] == iso(T0)


def test_pipeline_release_dates_with_an_explicit_state(
    sandbox_node: SandboxNode, state: LocalState
) -> None:
    baseline = load_baseline(WEEK_LATE)
    first = scan(sandbox_node.pm(), baseline, NOW, state=state)
    assert not [i for i in first.items if i.state is PatchState.MISSING]
    seen = state.first_seen(
        str(sandbox_node.root), [("libfoo1", "1.0-1+deb12u1", "bookworm-security")], NOW
    )
    assert set(seen.values()) == {NOW}

    later = scan(sandbox_node.pm(), baseline, NOW + timedelta(days=8), state=state)
    got = {i.name: i for i in later.items if i.state is PatchState.MISSING}
    assert {n: i.available_version for n, i in got.items()} == APPROVE_ALL_UPDATES
    assert {i.release_date for i in got.values()} == {NOW}
    assert sandbox_node.dpkg_versions() == STANDARD_STATE  # a scan never installs


@pytest.mark.parametrize(
    ("until", "approved"),
    [("2026-02-28", False), ("2026-03-01", True)],
    ids=["day-before", "same-day"],
)
def test_approve_until_date_uses_first_seen(
    sandbox_node: SandboxNode, pw: Cli, tmp_path: Path, until: str, approved: bool
) -> None:
    doc = baseline_document("until", approve_after_days=None, approve_until_date=until)
    baseline = write_baseline(tmp_path / "until.yaml", doc)
    report = scan_at(pw, sandbox_node, baseline, T0)  # first seen 2026-03-01 12:00 UTC
    assert missing(report) == (APPROVE_ALL_UPDATES if approved else {})
    # still true later: the date recorded is the first sighting, not the latest scan
    later = scan_at(pw, sandbox_node, baseline, T0 + timedelta(days=30))
    assert missing(later) == (APPROVE_ALL_UPDATES if approved else {})
