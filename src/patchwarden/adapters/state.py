"""Local, crash-safe state of one machine: first-seen dates and install history.

A small SQLite file (stdlib ``sqlite3``; the scan path does not load SQLAlchemy):

- ``first_seen(root, name, version, suite)``: when Patchwarden first saw a package version
  offered by a suite — the release date of Debian/Ubuntu updates (AWS has none there);
- ``changelog_date(root, name, version)``: the date of a cached .deb's newest changelog entry;
- ``installs(root, name, arch, version, installed_at, reboot_pending)``: what an Install run
  put on the root, to report INSTALLED_PENDING_REBOOT until the next boot;
- ``boots(root, booted_at)``: recorded reboots of roots that are not this host (sandboxes).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from patchwarden.errors import EnvironmentProblem

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
"""


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


class LocalState:
    """The state database at ``path`` (created on first use)."""

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), timeout=30)
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise EnvironmentProblem(f"cannot open state database {path}: {exc}") from exc

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
