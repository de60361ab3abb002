"""The assessment use case and ``scan`` with vulnerabilities, over a list-backed advisory
store (a test double of the AdvisoryStore port), a scripted package manager and a real
local state file; and the JSON/table renderings of findings."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from patchwarden.adapters.state import LocalState, finding_from_json, finding_to_json
from patchwarden.core.model import InstalledPackage, Inventory, OsInfo, Package, PatchState
from patchwarden.core.suppression import Suppression
from patchwarden.core.vuln import Advisory, AdvisoryStatus, FindingStatus, Severity
from patchwarden.pipeline.assess import assess
from patchwarden.pipeline.scan import scan
from patchwarden.ports import FeedStatus
from patchwarden.render.json import render as render_json
from patchwarden.render.table import render as render_table

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEBIAN = OsInfo("debian", "12", "bookworm", "Debian 12", "debian", "DEBIAN", "Debian12")
ALPINE = OsInfo("alpine", "3.19.1", "", "Alpine 3.19", "alpine", "ALPINE", "Alpine3.19")
S = AdvisoryStatus


class ListStore:
    """An AdvisoryStore over a list (what the sqlite database answers, minus the disk)."""

    def __init__(self, advisories: Iterable[Advisory], updated: datetime = NOW) -> None:
        self.items = list(advisories)
        self.updated = updated
        self.asked: list[tuple[str, list[str]]] = []

    def advisories(self, ecosystem: str, packages: Iterable[str]) -> list[Advisory]:
        names = set(packages)
        self.asked.append((ecosystem, sorted(names)))
        return [a for a in self.items if a.ecosystem == ecosystem and a.package in names]

    def feeds(self) -> list[FeedStatus]:
        return [FeedStatus("debian-tracker", self.updated, len(self.items))]


def sec(name: str, version: str, source: str = "") -> Package:
    return Package(
        name,
        "amd64",
        version,
        source_name=source or name,
        source_version=version,
        repository="bookworm-security",
        classification="Security",
        update_notice=True,
        priority="optional",
    )


class FakeApt:
    """Installed versions and security updates; no installs."""

    root = "/sbx"

    def __init__(self, installed: dict[str, tuple[str, str]], updates: Sequence[Package]) -> None:
        self.installed = installed
        self.updates = tuple(updates)
        self.os = DEBIAN

    def collect(self) -> Inventory:
        packages = tuple(
            InstalledPackage(
                Package(n, "amd64", v, source_name=src, source_version=v, priority="optional")
            )
            for n, (v, src) in sorted(self.installed.items())
        )
        return Inventory(self.os, "web-1", self.root, "deb", packages, self.updates)

    def refresh(self) -> None:
        pass

    def plan(self, packages: object) -> object:
        raise AssertionError("scan never plans")

    def install(self, packages: object) -> object:
        raise AssertionError("scan never installs")


ADVISORIES = [
    Advisory(
        "CVE-2026-0001",
        "debian-tracker",
        "Debian:12",
        "foo",
        S.FIXED,
        "1.0-1+deb12u1",
        vendor_severity="high",
        summary="foo overflow",
    ),
    Advisory(
        "DSA-6001-1",
        "osv",
        "Debian:12",
        "foo",
        S.FIXED,
        "1.0-1+deb12u1",
        events=(("introduced", "0"), ("fixed", "1.0-1+deb12u1")),
        aliases=("CVE-2026-0001",),
        cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    ),
    Advisory(
        "CVE-2026-0002", "debian-tracker", "Debian:12", "bar", S.AFFECTED, vendor_severity="low"
    ),
    Advisory("CVE-2026-0003", "debian-tracker", "Debian:12", "bar", S.NOT_AFFECTED),
    Advisory("CVE-2026-0004", "debian-tracker", "Debian:11", "bar", S.AFFECTED),
]


def pm() -> FakeApt:
    return FakeApt(
        {"libfoo1": ("1.0-1", "foo"), "foo-utils": ("1.0-1", "foo"), "bar": ("2.0-1", "bar")},
        [sec("libfoo1", "1.0-1+deb12u1", "foo"), sec("foo-utils", "1.0-1+deb12u1", "foo")],
    )


@pytest.fixture
def state(tmp_path: Path) -> LocalState:
    return LocalState(tmp_path / "state.db")


def keys(findings: Iterable[object]) -> set[tuple[str, str, str]]:
    return {(f.vulnerability_id, f.package_name, f.status.value) for f in findings}  # type: ignore[attr-defined]


# -- the use case ----------------------------------------------------------------------------


def test_assess_asks_the_store_for_source_packages_of_the_release(state: LocalState) -> None:
    store = ListStore(ADVISORIES)
    result = assess(pm().collect(), NOW, store=store, state=state)
    assert store.asked == [("Debian:12", ["bar", "foo"])]
    assert keys(result.findings) == {
        ("CVE-2026-0001", "foo-utils", "ACTIVE"),
        ("CVE-2026-0001", "libfoo1", "ACTIVE"),
        ("CVE-2026-0002", "bar", "ACTIVE"),
    }
    assert [f.severity for f in result.findings] == [Severity.CRITICAL] * 2 + [Severity.LOW]
    assert result.patch_cves == {
        ("foo-utils", "amd64", "1.0-1+deb12u1"): ("CVE-2026-0001",),
        ("libfoo1", "amd64", "1.0-1+deb12u1"): ("CVE-2026-0001",),
    }
    assert result.warnings == ()


def test_ignore_unfixed_and_suppressions(state: LocalState) -> None:
    rule = Suppression("accept-bar", "internal only", packages=("bar",))
    result = assess(
        pm().collect(), NOW, store=ListStore(ADVISORIES), state=state, suppressions=[rule]
    )
    assert ("CVE-2026-0002", "bar", "SUPPRESSED") in keys(result.findings)
    result = assess(pm().collect(), NOW, store=ListStore(ADVISORIES), ignore_unfixed=True)
    assert {f.vulnerability_id for f in result.findings} == {"CVE-2026-0001"}


def test_suppression_by_node_name(state: LocalState) -> None:
    rule = Suppression("fleet-b", "other team", nodes=("fleet-b-*",))
    inventory = pm().collect()
    plain = assess(inventory, NOW, store=ListStore(ADVISORIES), suppressions=[rule])
    assert all(f.status is FindingStatus.ACTIVE for f in plain.findings)
    named = assess(
        inventory, NOW, store=ListStore(ADVISORIES), suppressions=[rule], node_names=["fleet-b-7"]
    )
    assert all(f.status is FindingStatus.SUPPRESSED for f in named.findings)


def test_extra_advisory_sources_plug_in() -> None:
    def changelog(inventory: Inventory) -> list[Advisory]:
        return [
            Advisory("CVE-2026-0009", "changelog", "Debian:12", "foo", S.FIXED, "1.0-1+deb12u1"),
            Advisory("CVE-2026-0010", "changelog", "Debian:11", "foo", S.FIXED, "1.0-1+deb11u1"),
        ]

    result = assess(pm().collect(), NOW, store=None, sources=[changelog])
    assert keys(result.findings) == {
        ("CVE-2026-0009", "foo-utils", "ACTIVE"),
        ("CVE-2026-0009", "libfoo1", "ACTIVE"),
    }
    assert result.findings[0].sources == ("changelog",)


def test_no_data_for_the_release_is_a_warning_not_silence(state: LocalState) -> None:
    old = ListStore([a for a in ADVISORIES if a.ecosystem == "Debian:11"])
    result = assess(pm().collect(), NOW, store=old, state=state)
    assert result.findings == ()
    (warning,) = result.warnings
    assert "no advisories for Debian:12" in warning and "end-of-life" in warning


def test_without_data_for_the_release_other_sources_are_recorded_and_nothing_closes(
    state: LocalState,
) -> None:
    """A node whose release the database lacks still gets (and keeps) the findings other
    sources give (rpm update notices, changelogs); the earlier ones stay open."""
    before = keys(assess(pm().collect(), NOW, store=ListStore(ADVISORIES), state=state).findings)

    def changelog(inventory: Inventory) -> list[Advisory]:
        return [
            Advisory("CVE-2026-0009", "changelog", "Debian:12", "foo", S.FIXED, "1.0-1+deb12u1")
        ]

    old = ListStore([a for a in ADVISORIES if a.ecosystem == "Debian:11"])
    later = NOW + timedelta(days=1)
    result = assess(pm().collect(), later, store=old, state=state, sources=[changelog])
    assert ("CVE-2026-0009", "libfoo1", "ACTIVE") in keys(result.findings)
    assert not any(f.status is FindingStatus.CLOSED for f in result.findings)
    assert before and before <= keys(result.findings)  # the database's earlier ones: open
    # recorded: the next scan with the data back knows when the changelog one was first seen
    again = assess(
        pm().collect(),
        later + timedelta(days=1),
        store=ListStore(ADVISORIES),
        state=state,
        sources=[changelog],
    )
    seen = {f.vulnerability_id: f for f in again.findings if f.package_name == "libfoo1"}
    assert seen["CVE-2026-0009"].first_observed == later


def test_a_store_that_lists_its_ecosystems_is_believed() -> None:
    store = ListStore([])
    store.ecosystems = lambda: ["Debian:12"]  # type: ignore[attr-defined]
    assert assess(pm().collect(), NOW, store=store).warnings == ()


def test_unsupported_releases_are_reported() -> None:
    apk = replace(pm().collect(), os=ALPINE, scheme="apk")
    result = assess(apk, NOW, store=ListStore(ADVISORIES))
    assert result.assessed  # Alpine is assessed since the apk scheme exists
    unknown = replace(pm().collect(), os=replace(DEBIAN, id="plan9", pretty_name="Plan 9"))
    (warning,) = assess(unknown, NOW, store=ListStore(ADVISORIES)).warnings
    assert warning == "vulnerabilities not assessed: no vulnerability data mapping for Plan 9"


def test_a_stale_database_is_reported() -> None:
    store = ListStore(ADVISORIES, updated=NOW - timedelta(days=4))
    (warning,) = assess(pm().collect(), NOW, store=store, max_age=timedelta(days=3)).warnings
    assert "stale" in warning and "debian-tracker" in warning and "db update" in warning
    assert assess(pm().collect(), NOW, store=store, max_age=timedelta(days=5)).warnings == ()


def test_lifecycle_through_the_state_file(state: LocalState) -> None:
    apt = pm()
    assess(apt.collect(), NOW, store=ListStore(ADVISORIES), state=state)
    apt.installed["bar"] = ("2.0-2", "bar")
    later = NOW + timedelta(days=2)
    fixed_bar = [a for a in ADVISORIES if a.package != "bar"]
    result = assess(apt.collect(), later, store=ListStore(fixed_bar), state=state)
    by_key = {(f.vulnerability_id, f.package_name): f for f in result.findings}
    assert by_key["CVE-2026-0002", "bar"].status is FindingStatus.CLOSED
    assert by_key["CVE-2026-0001", "libfoo1"].first_observed == NOW
    assert by_key["CVE-2026-0001", "libfoo1"].last_observed == later
    assert result.findings[-1].status is FindingStatus.CLOSED  # closed ones last
    # --ignore-unfixed must not close the unfixed ones in the history
    assess(apt.collect(), later, store=ListStore(ADVISORIES), state=state, ignore_unfixed=True)
    again = assess(apt.collect(), later, store=ListStore(ADVISORIES), state=state)
    assert ("CVE-2026-0002", "bar", "ACTIVE") in keys(again.findings)
    bar = next(f for f in again.findings if f.package_name == "bar")
    assert bar.first_observed == NOW  # reopened within 7 days


def test_state_round_trips_findings(state: LocalState) -> None:
    result = assess(pm().collect(), NOW, store=ListStore(ADVISORIES), state=state)
    for f in result.findings:
        assert finding_from_json(finding_to_json(f)) == f
    assert sorted(r.finding.key for r in state.finding_history("/sbx")) == sorted(
        f.key for f in result.findings
    )
    assert state.finding_history("/other") == []


# -- scan ------------------------------------------------------------------------------------


def test_scan_without_a_store_does_not_assess(state: LocalState) -> None:
    report = scan(pm(), None, NOW, state=state)
    assert report.vulnerabilities is None
    assert "vulnerabilities" not in json.loads(render_json(report))


def test_scan_with_a_store_fills_findings_and_patch_cves(state: LocalState) -> None:
    report = scan(pm(), None, NOW, state=state, store=ListStore(ADVISORIES))
    assert report.vulnerabilities is not None and len(report.vulnerabilities) == 3
    cves = {i.name: i.cves for i in report.items if i.state is PatchState.MISSING}
    assert cves == {"foo-utils": ("CVE-2026-0001",), "libfoo1": ("CVE-2026-0001",)}
    assert {i.name: i.cves for i in report.items}["bar"] == ()


def test_json_report_lists_findings_and_counts(state: LocalState) -> None:
    rule = Suppression("accept-bar", "internal only", packages=("bar",))
    report = scan(pm(), None, NOW, state=state, store=ListStore(ADVISORIES), suppressions=[rule])
    data = json.loads(render_json(report))
    assert data["vulnerability_summary"] == {
        "ACTIVE": 2,
        "SUPPRESSED": 1,
        "CLOSED": 0,
        "severity": {
            "CRITICAL": 2,
            "HIGH": 0,
            "MEDIUM": 0,
            "LOW": 0,
            "INFORMATIONAL": 0,
            "UNTRIAGED": 0,
        },
        "fix_available": 2,
    }
    first = data["vulnerabilities"][0]
    assert first == {
        "vulnerability_id": "CVE-2026-0001",
        "aliases": ["DSA-6001-1"],
        "status": "ACTIVE",
        "severity": "CRITICAL",
        "severity_source": "cvss",
        "cvss_score": 9.8,
        "cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "vendor_severity": "high",
        "package_name": "foo-utils",
        "package_version": "1.0-1",
        "package_arch": "amd64",
        "source_name": "foo",
        "fixed_version": "1.0-1+deb12u1",
        "fix_available": "YES",
        "advisory_status": "fixed",
        "sources": ["debian-tracker", "osv"],
        "title": "foo overflow",
        "first_observed": "2026-03-01T12:00:00Z",
        "last_observed": "2026-03-01T12:00:00Z",
        "suppressed_by": None,
        "suppression_reason": None,
        "known_exploited": False,
        "kev_due_date": None,
        "epss": None,
        "epss_percentile": None,
    }
    assert data["vulnerabilities"][2]["suppressed_by"] == "accept-bar"
    assert [p["cves"] for p in data["patches"] if p["state"] == "MISSING"] == [
        ["CVE-2026-0001"],
        ["CVE-2026-0001"],
    ]


def test_table_shows_active_findings_and_the_severity_line(state: LocalState) -> None:
    rule = Suppression("accept-bar", "internal only", packages=("bar",))
    report = scan(pm(), None, NOW, state=state, store=ListStore(ADVISORIES), suppressions=[rule])
    text = render_table(report, width=200)
    assert "CVE-2026-0001" in text and "libfoo1:amd64" in text
    assert "CVE-2026-0002" not in text and "bar:amd64" not in text  # suppressed: with --all
    assert "bar:amd64" in render_table(report, show_all=True, width=200)
    assert "CVE-2026-0002" in render_table(report, show_all=True, by="cve")
    assert "CVE-2026-0002" not in render_table(report, by="cve")
    assert text.rstrip().splitlines()[-2:] == [
        "vulnerabilities: 2 critical, 0 high, 0 medium, 0 low, 0 informational, 0 untriaged "
        "(2 active, 1 suppressed, 0 closed; 2 active with a fix)",
        "next: patchwarden install --dry-run --root /sbx",
    ]
    # at 80 columns the same counts, without the zeros
    assert render_table(report, width=80).rstrip().splitlines()[-2] == (
        "vulnerabilities: 2 critical; 2 of 2 active fixable; 1 suppressed"
    )
    assert "Fixes" in text
    plain = render_table(scan(pm(), None, NOW, state=state))
    assert "vulnerabilities:" not in plain and "Fixes" not in plain
