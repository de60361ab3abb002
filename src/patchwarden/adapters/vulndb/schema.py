"""The SQLite schema of the vulnerability database and the row ↔ value conversions.

- ``meta(key, value)``: ``schema_version`` (:data:`SCHEMA_VERSION`), ``built_at``,
  ``generator``;
- ``feeds``: one row per (feed, url) with the download metadata (``etag``,
  ``last_modified``, ``sha256``), when it was last updated and how many advisories it gave;
- ``vulns``: per feed row, what a vulnerability id says whatever the package (aliases,
  summary, dates): stored once, not once per package and release;
- ``advisories``: one row per (vulnerability, ecosystem, package), indexed by
  (ecosystem, package) — the matcher's only query.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from patchwarden.core.vuln import Advisory, AdvisoryStatus

SCHEMA_VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"

TABLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE feeds (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, url TEXT NOT NULL,
  etag TEXT NOT NULL DEFAULT '', last_modified TEXT NOT NULL DEFAULT '',
  updated_at TEXT NOT NULL, records INTEGER NOT NULL DEFAULT 0,
  sha256 TEXT NOT NULL DEFAULT '', UNIQUE (name, url));
CREATE TABLE vulns (
  id INTEGER PRIMARY KEY, feed_id INTEGER NOT NULL, vuln_id TEXT NOT NULL,
  source TEXT NOT NULL, aliases TEXT NOT NULL, summary TEXT NOT NULL,
  published TEXT, modified TEXT);
CREATE TABLE advisories (
  feed_id INTEGER NOT NULL, vuln INTEGER NOT NULL, ecosystem TEXT NOT NULL,
  package TEXT NOT NULL, status TEXT NOT NULL, fixed_version TEXT, events TEXT NOT NULL,
  cvss_vector TEXT NOT NULL, cvss_score REAL, vendor_severity TEXT NOT NULL);
"""

INDEXES = """
CREATE INDEX advisories_by_package ON advisories (ecosystem, package);
CREATE INDEX advisories_by_feed ON advisories (feed_id);
CREATE INDEX vulns_by_feed ON vulns (feed_id);
"""

VULN_COLUMNS = "id, feed_id, vuln_id, source, aliases, summary, published, modified"
ADVISORY_COLUMNS = (
    "feed_id, vuln, ecosystem, package, status, fixed_version, events, cvss_vector, "
    "cvss_score, vendor_severity"
)
SELECT_ADVISORIES = (
    "SELECT v.vuln_id, v.source, a.ecosystem, a.package, a.status, a.fixed_version, "
    "a.events, v.aliases, a.cvss_vector, a.cvss_score, a.vendor_severity, v.summary, "
    "v.published, v.modified FROM advisories a JOIN vulns v ON v.id = a.vuln "
    "WHERE a.ecosystem = ? AND a.package IN ({marks}) "
    "ORDER BY a.package, v.vuln_id, a.feed_id, a.rowid"
)

VulnRow = tuple[int, int, str, str, str, str, str | None, str | None]
AdvisoryRow = tuple[int, int, str, str, str, str | None, str, str, float | None, str]


def ts(value: datetime | None) -> str | None:
    """A timestamp column (ISO 8601, UTC)."""
    return value.astimezone(UTC).isoformat() if value else None


def dt(value: str | None) -> datetime | None:
    """Back from a timestamp column."""
    return datetime.fromisoformat(value) if value else None


def _json(items: Sequence[object]) -> str:
    return json.dumps(items, separators=(",", ":")) if items else ""


def vuln_row(row_id: int, feed_id: int, adv: Advisory) -> VulnRow:
    """The ``vulns`` row of an advisory's vulnerability-level facts."""
    return (
        row_id,
        feed_id,
        adv.id,
        adv.source,
        _json(adv.aliases),
        adv.summary,
        ts(adv.published),
        ts(adv.modified),
    )


def advisory_row(feed_id: int, vuln: int, adv: Advisory) -> AdvisoryRow:
    """The ``advisories`` row of an advisory."""
    return (
        feed_id,
        vuln,
        adv.ecosystem,
        adv.package,
        adv.status.value,
        adv.fixed_version,
        _json(adv.events),
        adv.cvss_vector,
        adv.cvss_score,
        adv.vendor_severity,
    )


def advisory(row: sqlite3.Row | tuple[object, ...]) -> Advisory:
    """An :class:`Advisory` from a :data:`SELECT_ADVISORIES` row."""
    (vid, source, eco, package, status, fixed, events, aliases, vector, score, vendor,
     summary, published, modified) = tuple(row)  # fmt: skip
    return Advisory(
        id=str(vid),
        source=str(source),
        ecosystem=str(eco),
        package=str(package),
        status=AdvisoryStatus(status),
        fixed_version=str(fixed) if fixed is not None else None,
        events=tuple((str(k), str(v)) for k, v in json.loads(str(events))) if events else (),
        aliases=tuple(json.loads(str(aliases))) if aliases else (),
        cvss_vector=str(vector),
        cvss_score=float(score) if isinstance(score, int | float) else None,
        vendor_severity=str(vendor),
        summary=str(summary),
        published=dt(str(published)) if published else None,
        modified=dt(str(modified)) if modified else None,
    )


def schema_problem(path: Path, conn: sqlite3.Connection) -> str | None:
    """Why ``conn`` is not a usable vulnerability database of this version, or ``None``."""
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"meta", "feeds", "vulns", "advisories"} <= names:
            return f"{path}: not a Patchwarden vulnerability database"
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        return f"{path}: not a Patchwarden vulnerability database ({exc})"
    version = row[0] if row else "none"
    if version != str(SCHEMA_VERSION):
        return (
            f"{path}: vulnerability database schema version {version}, this Patchwarden "
            f"reads version {SCHEMA_VERSION}: run `patchwarden db update`"
        )
    return None
