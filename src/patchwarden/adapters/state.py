"""Local, crash-safe state of one machine: first-seen dates and install history.

A small SQLite file (stdlib ``sqlite3``; the scan path does not load SQLAlchemy):

- ``first_seen(root, name, version, suite)``: when Patchwarden first saw a package version
  offered by a suite — the release date of Debian/Ubuntu updates (AWS has none there);
- ``changelog_date(root, name, version)``: the date of a cached .deb's newest changelog entry;
- ``installs(root, name, arch, version, installed_at, reboot_pending)``: what an Install run
  put on the root, to report INSTALLED_PENDING_REBOOT until the next boot;
- ``boots(root, booted_at)``: recorded reboots of roots that are not this host (sandboxes);
- ``findings(root, vulnerability_id, package, arch, …)``: vulnerability findings as last
  observed (JSON), with first/last observed and when they were closed (Inspector lifecycle,
  :func:`patchwarden.core.suppression.track`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from patchwarden.core.vuln import AdvisoryStatus, Finding, FindingStatus, FixAvailable, Severity
from patchwarden.errors import EnvironmentProblem

if TYPE_CHECKING:  # loaded only when findings are tracked (``scan --vulns``)
    from patchwarden.core.suppression import FindingRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS first_seen (
  root TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL, suite TEXT NOT NULL,
  seen_at TEXT NOT NULL, PRIMARY KEY (root, name, version, suite));
CREATE TABLE IF NOT EXISTS changelog_date (
  root TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL, dated TEXT,
  PRIMARY KEY (root, name, version));
CREATE TABLE IF NOT EXISTS installs (
  root TEXT NOT NULL, name TEXT NOT NULL, arch TEXT NOT NULL, version TEXT NOT NULL,
  installed_at TEXT NOT NULL, reboot_pending INTEGER NOT NULL,
  PRIMARY KEY (root, name, arch, version));
CREATE TABLE IF NOT EXISTS boots (root TEXT PRIMARY KEY, booted_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS findings (
  root TEXT NOT NULL, vulnerability_id TEXT NOT NULL, package TEXT NOT NULL, arch TEXT NOT NULL,
  first_observed TEXT, last_observed TEXT, closed_at TEXT, finding TEXT NOT NULL,
  PRIMARY KEY (root, vulnerability_id, package, arch));
"""


def open_private(path: Path, schema: str, what: str) -> sqlite3.Connection:
    """A SQLite file only its owner reads (created 0600 in a 0700 directory when missing),
    with ``schema`` applied; EnvironmentProblem ``cannot open WHAT PATH: …`` otherwise."""
    try:
        _create_private(path)
        db = sqlite3.connect(str(path), timeout=30)
        db.executescript(schema)
    except (OSError, sqlite3.Error) as exc:
        raise EnvironmentProblem(f"cannot open {what} {path}: {exc}") from None
    return db


def _create_private(path: Path) -> None:
    """Create ``path`` 0600 (its directory 0700 when missing) unless it exists: the state
    tells what is installed and unpatched, for its owner (root) only.  SQLite gives its
    ``-journal`` the database file's mode."""
    if not path.parent.is_dir():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


def finding_to_json(f: Finding) -> str:
    """A finding as one JSON object (enums as their values, times as ISO 8601)."""
    data = asdict(f)
    for key in ("first_observed", "last_observed"):
        data[key] = _ts(data[key]) if data[key] else None
    data["kev_due_date"] = f.kev_due_date.isoformat() if f.kev_due_date else None
    return json.dumps(data, separators=(",", ":"))


def finding_from_json(text: str) -> Finding:
    """The finding :func:`finding_to_json` wrote."""
    d = json.loads(text)
    return Finding(
        vulnerability_id=d["vulnerability_id"],
        aliases=tuple(d["aliases"]),
        package_name=d["package_name"],
        package_version=d["package_version"],
        package_arch=d["package_arch"],
        source_name=d["source_name"],
        fixed_version=d["fixed_version"],
        fix_available=FixAvailable(d["fix_available"]),
        severity=Severity(d["severity"]),
        severity_source=d["severity_source"],
        advisory_status=AdvisoryStatus(d["advisory_status"]),
        sources=tuple(d["sources"]),
        status=FindingStatus(d["status"]),
        cvss_score=d.get("cvss_score"),
        cvss_vector=d.get("cvss_vector", ""),
        vendor_severity=d.get("vendor_severity", ""),
        title=d.get("title", ""),
        first_observed=_dt(d["first_observed"]) if d.get("first_observed") else None,
        last_observed=_dt(d["last_observed"]) if d.get("last_observed") else None,
        suppressed_by=d.get("suppressed_by", ""),
        suppression_reason=d.get("suppression_reason", ""),
        known_exploited=bool(d.get("known_exploited", False)),
        kev_due_date=date.fromisoformat(d["kev_due_date"]) if d.get("kev_due_date") else None,
        epss=d.get("epss"),
        epss_percentile=d.get("epss_percentile"),
    )


class LocalState:
    """The state database at ``path`` (created on first use)."""

    def __init__(self, path: Path) -> None:
        self._db = open_private(path, _SCHEMA, "state database")

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def first_seen(
        self, root: str, keys: Iterable[tuple[str, str, str]], now: datetime
    ) -> dict[tuple[str, str, str], datetime]:
        """First-seen time of each (name, version, suite); unseen ones are recorded as ``now``."""
        wanted = list(dict.fromkeys(keys))
        with self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO first_seen VALUES (?, ?, ?, ?, ?)",
                [(root, n, v, s, _ts(now)) for n, v, s in wanted],
            )
            rows = self._db.execute(
                "SELECT name, version, suite, seen_at FROM first_seen WHERE root = ?", (root,)
            ).fetchall()
        want = set(wanted)
        return {(n, v, s): _dt(t) for n, v, s, t in rows if (n, v, s) in want}

    def changelog_dates(self, root: str) -> dict[tuple[str, str], datetime | None]:
        """Changelog dates already extracted for this root (``None``: looked, found none)."""
        rows = self._db.execute(
            "SELECT name, version, dated FROM changelog_date WHERE root = ?", (root,)
        ).fetchall()
        return {(n, v): (_dt(d) if d else None) for n, v, d in rows}

    def record_changelog_dates(
        self, root: str, dates: dict[tuple[str, str], datetime | None]
    ) -> None:
        """Remember extracted changelog dates."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO changelog_date VALUES (?, ?, ?, ?)",
                [(root, n, v, _ts(d) if d else None) for (n, v), d in dates.items()],
            )

    def record_installs(
        self, root: str, items: Iterable[tuple[str, str, str]], at: datetime, reboot_pending: bool
    ) -> None:
        """Remember what an Install run put on ``root``."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO installs VALUES (?, ?, ?, ?, ?, ?)",
                [(root, n, a, v, _ts(at), int(reboot_pending)) for n, a, v in items],
            )

    def record_boot(self, root: str, at: datetime) -> None:
        """Remember that ``root`` (a sandbox or image, not this host) was rebooted at ``at``."""
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO boots VALUES (?, ?)", (root, _ts(at)))

    def last_boot(self, root: str) -> datetime | None:
        """The recorded reboot of a non-host root, if any."""
        row = self._db.execute("SELECT booted_at FROM boots WHERE root = ?", (root,)).fetchone()
        return _dt(row[0]) if row else None

    def pending_reboot(self, root: str, last_boot: datetime | None) -> set[tuple[str, str, str]]:
        """(name, arch, version) installed with a reboot pending and not followed by a boot."""
        rows = self._db.execute(
            "SELECT name, arch, version, installed_at FROM installs "
            "WHERE root = ? AND reboot_pending = 1",
            (root,),
        ).fetchall()
        return {(n, a, v) for n, a, v, t in rows if last_boot is None or _dt(t) > last_boot}

    def finding_history(self, root: str) -> list[FindingRecord]:
        """The findings kept for ``root``: open ones and recently CLOSED ones."""
        from patchwarden.core.suppression import FindingRecord

        rows = self._db.execute(
            "SELECT finding, closed_at FROM findings WHERE root = ?", (root,)
        ).fetchall()
        return [FindingRecord(finding_from_json(f), _dt(c) if c else None) for f, c in rows]

    def record_findings(self, root: str, records: Iterable[FindingRecord]) -> None:
        """Replace the findings kept for ``root`` with ``records`` (one transaction)."""
        rows = [
            (
                root,
                r.finding.vulnerability_id,
                r.finding.package_name,
                r.finding.package_arch,
                _ts(r.finding.first_observed) if r.finding.first_observed else None,
                _ts(r.finding.last_observed) if r.finding.last_observed else None,
                _ts(r.closed_at) if r.closed_at else None,
                finding_to_json(r.finding),
            )
            for r in records
        ]
        with self._db:
            self._db.execute("DELETE FROM findings WHERE root = ?", (root,))
            self._db.executemany(
                "INSERT OR REPLACE INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
            )

    # -- changelog CVEs of pending updates (table ``changelog_cves``, created on first use) --

    def changelog_cves(
        self, root: str
    ) -> dict[tuple[str, str, str], tuple[tuple[str, tuple[str, ...]], ...] | None]:
        """{(name, version, installed version): (entry version, CVE ids) newest first, or
        ``None`` when the update's .debs have no changelog} remembered for ``root``."""
        self._db.execute(_CHANGELOG_CVES_SCHEMA)
        rows = self._db.execute(
            "SELECT name, version, installed, entries FROM changelog_cves WHERE root = ?", (root,)
        ).fetchall()
        found: dict[tuple[str, str, str], tuple[tuple[str, tuple[str, ...]], ...] | None] = {}
        for name, version, installed, entries in rows:
            decoded = json.loads(entries) if entries is not None else None
            found[(name, version, installed)] = (
                tuple((v, tuple(ids)) for v, ids in decoded) if decoded is not None else None
            )
        return found

    def record_changelog_cves(
        self,
        root: str,
        found: dict[tuple[str, str, str], tuple[tuple[str, tuple[str, ...]], ...] | None],
    ) -> None:
        """Remember the changelog CVEs of updates (see :meth:`changelog_cves`)."""
        rows = [
            (root, n, v, i, None if e is None else json.dumps([[ver, list(ids)] for ver, ids in e]))
            for (n, v, i), e in found.items()
        ]
        with self._db:
            self._db.execute(_CHANGELOG_CVES_SCHEMA)
            self._db.executemany(
                "INSERT OR REPLACE INTO changelog_cves VALUES (?, ?, ?, ?, ?)", rows
            )


_CHANGELOG_CVES_SCHEMA = """CREATE TABLE IF NOT EXISTS changelog_cves (
  root TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL, installed TEXT NOT NULL,
  entries TEXT, PRIMARY KEY (root, name, version, installed))"""
"""Changelog CVEs of a pending update's .deb since an installed version (JSON list of
[entry version, [CVE ids]], NULL: no changelog found); see ``adapters/os/changelog_cves.py``."""
