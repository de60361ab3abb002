"""The findings table at scale: grouped by (package, arch) by default (``--by package``),
one row per finding with ``--by cve``; both fit 80 columns without breaking a package
name or a version, and the output ends with the counts and the one next command."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from patchwarden.core.compliance import summarize
from patchwarden.core.exploit import priority
from patchwarden.core.model import Operation, OsInfo, PatchItem, PatchState
from patchwarden.core.report import NodeFacts, Report
from patchwarden.core.vuln import (
    AdvisoryStatus,
    Finding,
    FindingStatus,
    FixAvailable,
    Severity,
)
from patchwarden.render import table

DEBIAN = OsInfo("debian", "12", "bookworm", "Debian 12", "debian", "DEBIAN", "Debian12")
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

# (name, arch, installed, [fixed versions, one per finding: None = no fix yet])
PACKAGES = (
    ("openjdk-17-jre-headless", "amd64", "17.0.15+6-1~deb12u1", ["17.0.21.1+2-1~deb12u1"] * 9),
    ("libgdk-pixbuf2.0-common", "all", "2.42.10+dfsg-1+deb12u2", ["2.42.10+dfsg-1+deb12u4"] * 3),
    ("libevent-core-2.1-7", "amd64", "2.1.12-stable-8", ["2.1.12-stable-8+deb12u1", None]),
    ("linux-image-6.1.0-37-amd64", "amd64", "6.1.140-1", ["6.1.153-1", "6.1.158-1", "6.1.9-1"]),
    ("openssl", "amd64", "3.0.16-1~deb12u1", ["3.0.17-1~deb12u2", "3.0.17-1~deb12u10"]),
    ("libssl3", "amd64", "3.0.16-1~deb12u1", ["3.0.17-1~deb12u2"]),
    ("libc6", "amd64", "2.36-9+deb12u10", [None, None]),
)
SEVERITIES = (Severity.HIGH, Severity.MEDIUM, Severity.CRITICAL, Severity.LOW, Severity.MEDIUM)
HIGHEST_FIX = {
    "openjdk-17-jre-headless": "17.0.21.1+2-1~deb12u1",
    "libgdk-pixbuf2.0-common": "2.42.10+dfsg-1+deb12u4",
    "libevent-core-2.1-7": "2.1.12-stable-8+deb12u1",
    "linux-image-6.1.0-37-amd64": "6.1.158-1",  # dpkg order: not 6.1.9-1 (text order)
    "openssl": "3.0.17-1~deb12u10",  # dpkg order: not 3.0.17-1~deb12u2
    "libssl3": "3.0.17-1~deb12u2",
    "libc6": "-",
}


def findings(
    *, sources: tuple[str, ...] = ("debian-tracker",), untriaged: bool = False
) -> tuple[Finding, ...]:
    out = []
    n = 0
    for p, (name, arch, installed, fixes) in enumerate(PACKAGES):
        for fixed in fixes:
            n += 1
            severity = Severity.UNTRIAGED if untriaged else SEVERITIES[(n + p) % len(SEVERITIES)]
            if untriaged:
                pass
            elif name == "libssl3":
                severity = Severity.HIGH
            elif name == "libc6":
                severity = Severity.MEDIUM
            elif name == "openssl":
                severity = Severity.LOW if fixed and fixed.endswith("u2") else Severity.MEDIUM
            out.append(
                Finding(
                    vulnerability_id=f"CVE-2025-{40000 + n}",
                    aliases=(),
                    package_name=name,
                    package_version=installed,
                    package_arch=arch,
                    source_name=name,
                    fixed_version=fixed,
                    fix_available=FixAvailable.YES if fixed else FixAvailable.NO,
                    severity=severity,
                    severity_source="none" if untriaged else "cvss",
                    advisory_status=AdvisoryStatus.FIXED if fixed else AdvisoryStatus.AFFECTED,
                    sources=sources,
                    title=f"{name}: a long description of vulnerability number {n} " * 2,
                )
            )
    return tuple(out)


FINDINGS = findings()
WORST = {
    name: max((f.severity for f in FINDINGS if f.package_name == name), key=lambda s: s.rank)
    for name, *_ in PACKAGES
}
ITEMS = (
    PatchItem(
        "openjdk-17-jre-headless",
        "amd64",
        "17.0.15+6-1~deb12u1",
        "17.0.21.1+2-1~deb12u1",
        PatchState.MISSING,
        classification="Security",
        repository="bookworm-security",
    ),
    PatchItem("zlib1g", "amd64", "1:1.2.13.dfsg-1", None, PatchState.INSTALLED),
)
VERSIONS = {v for _, _, installed, fixes in PACKAGES for v in (installed, *fixes) if v} - {
    "6.1.9-1",
    "6.1.153-1",
    "3.0.17-1~deb12u2",
}
"""Every version the grouped table shows (installed, and the highest fix of each package)."""


def report(
    vulns: tuple[Finding, ...] | None = FINDINGS, items: tuple[PatchItem, ...] = ITEMS
) -> Report:
    return Report(
        node=NodeFacts("web-1", "/", DEBIAN),
        baseline="AWS-DebianDefaultPatchBaseline",
        operation=Operation.SCAN,
        generated_at=NOW,
        items=items,
        summary=summarize(items),
        vulnerabilities=vulns,
    )


def table_rows(text: str, *headers: str) -> list[list[str]]:
    """The rows (cells) of the table with these headers first; a cell continued on the next
    line (stacked versions) starts a line with an empty first cell."""
    lines = text.splitlines()
    start = next(
        i
        for i, line in enumerate(lines)
        if [h.strip() for h in line.split("┃")][: len(headers)] == list(headers)
    )
    rows = []
    for line in lines[start + 2 :]:
        if "│" not in line:
            break
        cells = [c.strip() for c in line.split("│")]
        if cells[0]:
            rows.append(cells)
    return rows


def words(text: str) -> set[str]:
    return set(re.split(r"[\s│┃→]+", text))


def check_width(text: str, width: int) -> None:
    for line in text.splitlines():
        if line.startswith("web-1 (Debian12) against "):
            continue  # the verdict names the host and the baseline: prose, soft-wrapped
        assert len(line) <= width, line


@pytest.mark.parametrize("width", [80, 200])
def test_grouped_by_package_by_default(width: int) -> None:
    text = table.render(report(), width=width)
    check_width(text, width)
    grouped = table_rows(text, "Package", "CVEs", "Worst")
    assert len(grouped) == len(WORST) == len({(f.package_name, f.package_arch) for f in FINDINGS})
    by_name = {r[0].split(":")[0]: r for r in grouped}
    for name, worst in WORST.items():
        row = by_name[name]
        assert row[2] == worst.value, row
        count = sum(1 for f in FINDINGS if f.package_name == name)
        assert row[1] == str(count), row
        assert HIGHEST_FIX[name] in text
        if width == 200:
            assert row[4] == HIGHEST_FIX[name], row
            assert row[5] == {"libevent-core-2.1-7": "PARTIAL", "libc6": "NO"}.get(name, "YES")
    # the worst first
    ranks = [Severity(r[2]).rank for r in grouped]
    assert ranks == sorted(ranks, reverse=True)
    assert words(text) >= VERSIONS, VERSIONS - words(text)
    assert "CVE-2025-40001" not in text or width == 200  # ids: only when there is room
    assert "linux-image-6.1.0-37-amd64:amd64" in text and "libgdk-pixbuf2.0-common:all" in text
    lines = text.rstrip().splitlines()
    critical = sum(1 for f in FINDINGS if f.severity is Severity.CRITICAL)
    assert lines[-2].startswith(f"vulnerabilities: {critical} critical, ")
    assert lines[-2].endswith(
        f"; 19 of {len(FINDINGS)} active fixable" if width == 80 else "19 active with a fix)"
    )
    assert lines[-1] == "next: patchwarden install --dry-run"


@pytest.mark.parametrize("width", [80, 200])
def test_by_cve_has_one_row_per_finding(width: int) -> None:
    text = table.render(report(), width=width, by="cve")
    check_width(text, width)
    lines = [r for r in table_rows(text, "Vulnerability")]
    rows = [r for r in lines if r[0].startswith("CVE-")]
    assert len(rows) == len(FINDINGS)
    ranked = sorted(FINDINGS, key=priority)  # known exploited, high EPSS, severity, age
    assert [r[0] for r in rows] == [f.vulnerability_id for f in ranked]
    if width == 80:  # narrow: the severity under the id, the fixed under the installed
        assert [r[0] for r in lines if not r[0].startswith("CVE-")] == [
            f.severity.value for f in ranked
        ]
    else:
        assert [r[1] for r in rows] == [f.severity.value for f in ranked]
    every = {v for _, _, installed, fixes in PACKAGES for v in (installed, *fixes) if v}
    assert words(text) >= every, every - words(text)
    if width == 200:
        assert "Title" in text and "…" in text  # the titles are cut to the room left
    assert text.rstrip().splitlines()[-1] == "next: patchwarden install --dry-run"


def test_narrower_still_one_line_per_package() -> None:
    text = table.render(report(items=()), width=40)
    assert (
        "openjdk-17-jre-headless:amd64 9 CRITICAL 17.0.15+6-1~deb12u1 → 17.0.21.1+2-1~deb12u1 YES"
        in text
    )


def test_the_next_command_when_untriaged_for_lack_of_a_database() -> None:
    """``scan --changelogs`` without a database: every finding UNTRIAGED, fixes available."""
    vulns = findings(sources=("changelog",), untriaged=True)
    text = table.render(report(vulns), width=80)
    check_width(text, 80)
    lines = text.rstrip().splitlines()
    fixable = sum(1 for f in vulns if f.fixed_version)
    assert lines[-2] == (
        f"vulnerabilities: {len(vulns)} untriaged; {fixable} of {len(vulns)} active fixable"
    )
    assert (
        lines[-1]
        == f"next: patchwarden db update  (the severity of {len(vulns)} UNTRIAGED findings)"
    )
    # with a database, UNTRIAGED is what the database says: no update suggested
    rated = findings(sources=("changelog", "debian-tracker"), untriaged=True)
    assert table.next_line(report(rated)) == "next: patchwarden install --dry-run"


def test_the_next_command_when_nothing_is_found() -> None:
    text = table.render(report((), items=(ITEMS[1],)), width=80)
    lines = text.rstrip().splitlines()
    assert lines[-2] == "vulnerabilities: none"
    assert "CVEs" not in text and "Vulnerability" not in text
    assert lines[-1] == "next: nothing to do"
    wide = table.render(report((), items=(ITEMS[1],)), width=200).rstrip().splitlines()
    assert wide[-2] == (
        "vulnerabilities: 0 critical, 0 high, 0 medium, 0 low, 0 informational, 0 untriaged "
        "(0 active, 0 suppressed, 0 closed; 0 active with a fix)"
    )


def test_the_next_command_without_a_fix_is_the_flat_view() -> None:
    unfixed = tuple(replace(f, fixed_version=None, fix_available=FixAvailable.NO) for f in FINDINGS)
    compliant = (ITEMS[1],)
    assert table.next_line(report(unfixed, compliant)) == (
        "next: patchwarden scan --vulns --by cve  (every finding, one row each)"
    )
    rerun = ("patchwarden", "scan", "--vulns", "--changelogs", "--root", "/srv/n1")
    assert table.next_line(report(unfixed, compliant), ("--root", "/srv/n1"), rerun=rerun) == (
        "next: patchwarden scan --vulns --changelogs --root /srv/n1 --by cve  "
        "(every finding, one row each)"
    )
    assert table.next_line(report(unfixed, compliant), by="cve") == (
        f"next: nothing to do until fixes come out ({len(unfixed)} findings have none)"
    )
    suppressed = tuple(replace(f, status=FindingStatus.SUPPRESSED) for f in unfixed)
    assert table.next_line(report(suppressed, compliant)) == "next: nothing to do"


def test_all_shows_packages_whose_findings_are_suppressed() -> None:
    vulns = (*FINDINGS[:-2], *(replace(f, status=FindingStatus.SUPPRESSED) for f in FINDINGS[-2:]))
    shown = table.render(report(vulns), width=200)
    assert "libc6:amd64" not in shown
    every = table.render(report(vulns), width=200, show_all=True)
    row = next(r for r in table_rows(every, "Package", "CVEs") if r[0] == "libc6:amd64")
    assert row[1:6] == ["2", "MEDIUM", "2.36-9+deb12u10", "-", "-"]


def test_json_is_unchanged_by_the_table_options() -> None:
    from patchwarden.render import RENDERERS

    r = report()
    assert RENDERERS["json"](r) == RENDERERS["json"](r)  # no table option reaches it


@pytest.mark.parametrize("command", [["scan"], ["image", "scan", "oci:/nonexistent:v1"]])
def test_by_is_an_option_of_both_scans(command: list[str]) -> None:
    from patchwarden.cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args([*command, "--by", "cve"]).by == "cve"
    assert parser.parse_args([*command, "--by", "PACKAGE"]).by == "package"
    assert parser.parse_args(command).by is None  # package, and scan without --vulns


@pytest.mark.parametrize("command", [["scan"], ["image", "scan", "oci:/nonexistent:v1"]])
def test_a_bad_by_is_one_line_and_exit_2(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from patchwarden.cli.main import main

    with pytest.raises(SystemExit) as exited:
        main([*command, "--by", "severity"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err == "patchwarden: error: --by: expected one of package, cve, got 'severity'\n"
