"""``patchwarden scan --vulns`` on sandbox nodes with real apt/dpkg.

The standard sandbox node (see :mod:`sandbox`) has the tricky cases installed: a binNMU
(``calm 1.0-1+b1``, source ``calm 1.0-1``), binaries whose source has another name
(``libfoo1``/``foo-utils`` ← ``foo``), an epoch bump (``baz`` 1.0-1 → 1:0.9-1) and a
``~bpo`` backport.  The fixture feeds below (a Debian tracker JSON and two OSV records)
say things about each; :data:`EXPECTED` is the hand-checked list of findings.

Two ways in: the CLI in-process over a list-backed store holding the same advisories
(exercises the CLI and the pipeline without the database), and the real ``patchwarden``
command after ``patchwarden db import`` of the fixture files (the whole path).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from sandbox import Cli, JsonReport, NodeFactory, SandboxNode, baseline_document, write_baseline

from patchwarden.core.vuln import Advisory, AdvisoryStatus
from patchwarden.ports import FeedStatus

pytestmark = pytest.mark.integration

S = AdvisoryStatus
CVSS_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def _release(status: str, urgency: str, fixed: str | None = None, **kw: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"status": status, "repositories": {}, "urgency": urgency, **kw}
    if fixed is not None:
        entry["fixed_version"] = fixed
    return {"releases": {"bookworm": entry}, "description": "", "scope": "local"}


TRACKER: dict[str, dict[str, Any]] = {
    "foo": {
        "CVE-2026-1001": _release("resolved", "high", "1.0-1+deb12u1"),
        "CVE-2026-1002": _release("resolved", "unimportant", "0"),  # never affected
    },
    "bar": {
        "CVE-2026-1003": _release("open", "low**"),  # no fix yet
        "CVE-2026-1004": _release("open", "medium", nodsa="", nodsa_reason="ignored"),
    },
    "baz": {"CVE-2026-1005": _release("resolved", "medium", "1:0.9-1")},  # epoch bump
    "calm": {
        "CVE-2026-1006": _release("resolved", "high", "1.0-1"),  # binNMU of 1.0-1: fixed
        "CVE-2026-1007": _release("resolved", "low", "1.0-2"),
    },
    "bpo-tool": {"CVE-2026-1008": _release("resolved", "medium", "1.0-1")},  # ~bpo < 1.0-1
    "needs-evil": {"CVE-2026-1009": _release("undetermined", "not yet assigned")},
    "qux": {"CVE-2026-1010": _release("open", "high")},  # not installed
}
TRACKER["foo"]["CVE-2026-1001"]["description"] = "foo: heap overflow in the parser"

OSV_RECORDS: dict[str, dict[str, Any]] = {
    "DSA-6100-1.json": {
        "id": "DSA-6100-1",
        "modified": "2026-02-01T00:00:00Z",
        "published": "2026-02-01T00:00:00Z",
        "aliases": ["CVE-2026-1001"],
        "summary": "foo - security update",
        "severity": [{"type": "CVSS_V3", "score": CVSS_CRITICAL}],
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": "foo"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "0"}, {"fixed": "1.0-1+deb12u1"}],
                    }
                ],
            }
        ],
    },
    "DEBIAN-CVE-2026-1006.json": {  # generic range the tracker overrules (backport)
        "id": "DEBIAN-CVE-2026-1006",
        "modified": "2026-02-01T00:00:00Z",
        "upstream": ["CVE-2026-1006"],
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": "calm"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0-3"}]}
                ],
            }
        ],
    },
}


def _tracker(
    vid: str,
    pkg: str,
    status: AdvisoryStatus,
    urgency: str,
    fixed: str | None = None,
    summary: str = "",
) -> Advisory:
    return Advisory(
        vid,
        "debian-tracker",
        "Debian:12",
        pkg,
        status,
        fixed,
        vendor_severity=urgency,
        summary=summary,
    )


ADVISORIES = [
    _tracker(
        "CVE-2026-1001", "foo", S.FIXED, "high", "1.0-1+deb12u1", "foo: heap overflow in the parser"
    ),
    _tracker("CVE-2026-1002", "foo", S.NOT_AFFECTED, "unimportant"),
    _tracker("CVE-2026-1003", "bar", S.AFFECTED, "low"),
    _tracker("CVE-2026-1004", "bar", S.WONT_FIX, "medium"),
    _tracker("CVE-2026-1005", "baz", S.FIXED, "medium", "1:0.9-1"),
    _tracker("CVE-2026-1006", "calm", S.FIXED, "high", "1.0-1"),
    _tracker("CVE-2026-1007", "calm", S.FIXED, "low", "1.0-2"),
    _tracker("CVE-2026-1008", "bpo-tool", S.FIXED, "medium", "1.0-1"),
    _tracker("CVE-2026-1009", "needs-evil", S.UNDETERMINED, "not yet assigned"),
    _tracker("CVE-2026-1010", "qux", S.AFFECTED, "high"),
    Advisory(
        "DSA-6100-1",
        "osv",
        "Debian:12",
        "foo",
        S.FIXED,
        "1.0-1+deb12u1",
        events=(("introduced", "0"), ("fixed", "1.0-1+deb12u1")),
        aliases=("CVE-2026-1001",),
        cvss_vector=CVSS_CRITICAL,
    ),
    Advisory(
        "DEBIAN-CVE-2026-1006",
        "osv",
        "Debian:12",
        "calm",
        S.FIXED,
        "1.0-3",
        events=(("introduced", "0"), ("fixed", "1.0-3")),
        aliases=("CVE-2026-1006",),
    ),
]
"""What the database holds after importing :data:`TRACKER` and :data:`OSV_RECORDS`."""

Row = tuple[str, str, str, str | None, str, str]
EXPECTED: dict[tuple[str, str], Row] = {
    # (id, package): (status, severity, severity_source, fixed_version, fix, advisory_status)
    ("CVE-2026-1001", "foo-utils"): ("ACTIVE", "CRITICAL", "cvss", "1.0-1+deb12u1", "YES", "fixed"),
    ("CVE-2026-1001", "libfoo1"): ("ACTIVE", "CRITICAL", "cvss", "1.0-1+deb12u1", "YES", "fixed"),
    ("CVE-2026-1003", "bar"): ("ACTIVE", "LOW", "vendor", None, "NO", "affected"),
    ("CVE-2026-1004", "bar"): ("ACTIVE", "MEDIUM", "vendor", None, "NO", "wont-fix"),
    ("CVE-2026-1005", "baz"): ("ACTIVE", "MEDIUM", "vendor", "1:0.9-1", "YES", "fixed"),
    ("CVE-2026-1007", "calm"): ("ACTIVE", "LOW", "vendor", "1.0-2", "YES", "fixed"),
    ("CVE-2026-1008", "bpo-tool"): ("ACTIVE", "MEDIUM", "vendor", "1.0-1", "YES", "fixed"),
    ("CVE-2026-1009", "needs-evil"): (
        "SUPPRESSED", "UNTRIAGED", "none", None, "NO", "undetermined",
    ),
}  # fmt: skip
"""Hand-checked: CVE-2026-1002 (never affected), -1006 (the binNMU's source is at the fixed
version; OSV's generic range is overruled by the tracker) and -1010 (not installed) are
absent; the suppression of -1009 runs until 2026-03-15."""

SUPPRESSION = """\
apiVersion: patchwarden/v1
kind: Suppression
metadata:
  name: accept-needs-evil
spec:
  Reason: upstream has not triaged it; re-check in March
  VulnerabilityIds: [CVE-2026-1009]
  Nodes: ["web-*"]
  ExpiresAt: 2026-03-15
"""
AFTER_EXPIRY = "2026-03-20T12:00:00Z"


class ListStore:
    """A list-backed AdvisoryStore (the test double of the sqlite database)."""

    def __init__(self, advisories: Iterable[Advisory]) -> None:
        self.items = list(advisories)

    def advisories(self, ecosystem: str, packages: Iterable[str]) -> list[Advisory]:
        names = set(packages)
        return [a for a in self.items if a.ecosystem == ecosystem and a.package in names]

    def feeds(self) -> list[FeedStatus]:
        from sandbox import NOW

        return [FeedStatus("debian-tracker", NOW, len(self.items))]


def rows(report: JsonReport) -> dict[tuple[str, str], Row]:
    return {
        (f["vulnerability_id"], f["package_name"]): (
            f["status"], f["severity"], f["severity_source"], f["fixed_version"],
            f["fix_available"], f["advisory_status"],
        )
        for f in report["vulnerabilities"]
    }  # fmt: skip


@pytest.fixture
def web(make_node: NodeFactory) -> SandboxNode:
    return make_node(name="web-1")


@pytest.fixture
def suppressions(tmp_path: Path) -> Path:
    path = tmp_path / "suppressions.yaml"
    path.write_text(SUPPRESSION)
    return path


InProcess = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> InProcess:
    """``cli(*args, now=...)`` → (exit code, stdout, stderr) of ``main()`` in this process,
    with the vulnerability database replaced by a list-backed store of :data:`ADVISORIES`."""
    from sandbox import NOW_ISO

    from patchwarden.cli import run
    from patchwarden.cli.main import main

    monkeypatch.setenv("PATCHWARDEN_HOME", str(tmp_path / "pw-home"))
    monkeypatch.setattr(run, "open_advisory_store", lambda path: ListStore(ADVISORIES))

    def invoke(*args: str | Path, now: str = NOW_ISO) -> tuple[int, str, str]:
        monkeypatch.setenv("PATCHWARDEN_NOW", now)
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_:
            main([str(a) for a in args])
        out, err = capsys.readouterr()
        return int(exit_.value.code or 0), out, err

    return invoke


# -- in-process, list-backed store -----------------------------------------------------------


def test_findings_match_the_hand_checked_list(
    web: SandboxNode, cli: InProcess, suppressions: Path
) -> None:
    code, out, _ = cli(
        "scan", "--root", web.root, "--vulns", "--suppressions", suppressions, "--format", "json"
    )
    assert code == 0
    report = json.loads(out)
    assert rows(report) == EXPECTED
    by_key = {(f["vulnerability_id"], f["package_name"]): f for f in report["vulnerabilities"]}
    foo = by_key["CVE-2026-1001", "libfoo1"]
    assert (foo["aliases"], foo["sources"], foo["source_name"]) == (
        ["DSA-6100-1"],
        ["debian-tracker", "osv"],
        "foo",
    )
    assert foo["title"] == "foo: heap overflow in the parser"
    assert by_key["CVE-2026-1007", "calm"]["package_version"] == "1.0-1+b1"
    assert by_key["CVE-2026-1009", "needs-evil"]["suppressed_by"] == "accept-needs-evil"
    assert report["vulnerability_summary"]["SUPPRESSED"] == 1
    assert report["vulnerability_summary"]["severity"]["CRITICAL"] == 2
    missing = {p["name"]: p["cves"] for p in report["patches"] if p["state"] == "MISSING"}
    assert missing == {
        "foo-utils": ["CVE-2026-1001"],
        "libfoo1": ["CVE-2026-1001"],
        "needs-evil": [],
    }


def test_the_suppression_expires(web: SandboxNode, cli: InProcess, suppressions: Path) -> None:
    code, out, _ = cli(
        "scan",
        "--root",
        web.root,
        "--suppressions",
        suppressions,
        "--format",
        "json",
        now=AFTER_EXPIRY,
    )
    assert code == 0
    found = rows(json.loads(out))
    assert found["CVE-2026-1009", "needs-evil"][0] == "ACTIVE"


def test_every_update_lists_the_cves_it_fixes(
    web: SandboxNode, cli: InProcess, tmp_path: Path
) -> None:
    baseline = write_baseline(tmp_path / "all.yaml", baseline_document("approve-all"))
    _, out, _ = cli("scan", "--root", web.root, "--baseline", baseline, "--vulns", "-f", "json")
    cves = {p["name"]: p["cves"] for p in json.loads(out)["patches"] if p["state"] == "MISSING"}
    assert cves == {
        "bar": [], "baz": ["CVE-2026-1005"], "bpo-tool": ["CVE-2026-1008"],
        "foo-utils": ["CVE-2026-1001"], "libfoo1": ["CVE-2026-1001"], "needs-evil": [],
    }  # fmt: skip


def test_fail_on_gates_on_active_findings(web: SandboxNode, cli: InProcess, tmp_path: Path) -> None:
    code, _, err = cli("scan", "--root", web.root, "--fail-on", "high", "-f", "json")
    assert code == 1
    assert "2 ACTIVE findings at or above HIGH" in err
    assert cli("scan", "--root", web.root, "--fail-on", "CRITICAL", "-f", "json")[0] == 1
    accept = tmp_path / "accept-foo.yaml"
    accept.write_text(
        "apiVersion: patchwarden/v1\nkind: Suppression\nmetadata: {name: accept-foo}\n"
        "spec: {Reason: fixed at the next window, Packages: [foo]}\n"
    )
    quiet = cli("scan", "--root", web.root, "--fail-on", "high", "--suppressions", accept)
    assert quiet[0] == 0, quiet
    assert cli("scan", "--root", web.root, "--fail-on", "medium", "--suppressions", accept)[0] == 1


def test_ignore_unfixed(web: SandboxNode, cli: InProcess) -> None:
    _, out, _ = cli("scan", "--root", web.root, "--ignore-unfixed", "-f", "json")
    assert set(rows(json.loads(out))) == {k for k, v in EXPECTED.items() if v[3] is not None}


def test_table_has_the_findings_and_the_severity_summary(web: SandboxNode, cli: InProcess) -> None:
    code, out, _ = cli("scan", "--root", web.root, "--vulns", "--by", "cve")
    assert code == 0
    assert "CVE-2026-1001" in out and "libfoo1:all" in out
    *_, last, then = out.rstrip().splitlines()
    assert last.startswith("vulnerabilities: 2 critical, ")
    assert "3 medium, 2 low" in last and ("5 of 8 active fixable" in last or "(8 active" in last)
    assert then.startswith("next: patchwarden install --dry-run --root ")
    # the default: one row per package, no CVE ids at 80 columns
    _, grouped, _ = cli("scan", "--root", web.root, "--vulns")
    assert "libfoo1:all" in grouped and "CVEs" in grouped
    assert grouped.rstrip().splitlines()[-2] == last


def test_a_fixed_finding_closes_on_the_next_scan(web: SandboxNode, cli: InProcess) -> None:
    cli("scan", "--root", web.root, "--vulns", "-f", "json")
    web.apt_install("libfoo1=1.0-1+deb12u1", "foo-utils=1.0-1+deb12u1")
    _, out, _ = cli("scan", "--root", web.root, "--vulns", "-f", "json", now="2026-03-02T12:00:00Z")
    report = json.loads(out)
    closed = {k: v for k, v in rows(report).items() if v[0] == "CLOSED"}
    assert set(closed) == {("CVE-2026-1001", "foo-utils"), ("CVE-2026-1001", "libfoo1")}
    assert report["vulnerability_summary"]["CLOSED"] == 2
    kept = [f for f in report["vulnerabilities"] if f["status"] == "ACTIVE"]
    assert {f["first_observed"] for f in kept} == {"2026-03-01T12:00:00Z"}


def test_without_vulns_nothing_changes(web: SandboxNode, cli: InProcess) -> None:
    _, out, _ = cli("scan", "--root", web.root, "-f", "json")
    report = json.loads(out)
    assert "vulnerabilities" not in report and "vulnerability_summary" not in report


# -- the real command ------------------------------------------------------------------------


def test_missing_database_is_an_environment_problem(web: SandboxNode, pw: Cli) -> None:
    result = pw("scan", "--root", web.root, "--vulns")
    assert result.returncode == 3, str(result)
    assert "patchwarden db update" in result.stderr and "db import" in result.stderr
    assert result.stdout == ""


def test_bad_fail_on_is_a_usage_error(web: SandboxNode, pw: Cli) -> None:
    result = pw("scan", "--root", web.root, "--fail-on", "severe")
    assert result.returncode == 2
    assert "--fail-on" in result.stderr


def _feed_dir(tmp_path: Path) -> Path:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "tracker.json").write_text(json.dumps(TRACKER))
    for name, record in OSV_RECORDS.items():
        (feeds / name).write_text(json.dumps(record))
    return feeds


def _import_feeds(pw: Cli, feeds: Path) -> None:
    """``patchwarden db import DIR``; through the use case while the ``db`` command group is
    not registered in the CLI yet."""
    if "db" in _commands():
        imported = pw("db", "import", feeds)
        assert imported.returncode == 0, str(imported)
        return
    from sandbox import NOW

    from patchwarden import settings
    from patchwarden.adapters.feeds import FEEDS, classify
    from patchwarden.adapters.vulndb import SqliteVulnDb
    from patchwarden.pipeline.dbupdate import import_path

    import_path(SqliteVulnDb(settings.vulndb_path()), feeds, FEEDS, classify, NOW)


def _commands() -> set[str]:
    import argparse

    from patchwarden.cli.main import build_parser

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def test_end_to_end_with_the_imported_fixture_feeds(
    web: SandboxNode, pw: Cli, tmp_path: Path, suppressions: Path
) -> None:
    for module in ("patchwarden.pipeline.dbupdate", "patchwarden.adapters.vulndb"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is missing: no vulnerability database to import into")
    _import_feeds(pw, _feed_dir(tmp_path))
    result = pw(
        "scan",
        "--root",
        web.root,
        "--vulns",
        "--suppressions",
        suppressions,
        "-f",
        "json",
        "--fail-on",
        "critical",
    )
    assert result.returncode == 1, str(result)  # two CRITICAL findings
    assert rows(result.json()) == EXPECTED
    later = pw(
        "scan", "--root", web.root, "--suppressions", suppressions, "-f", "json", now=AFTER_EXPIRY
    )
    assert rows(later.json())["CVE-2026-1009", "needs-evil"][0] == "ACTIVE"
