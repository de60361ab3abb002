"""The vulnerability database on SQLite: the read side and the entry to the write side."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from pathlib import Path

from patchwarden.adapters.vulndb import build, schema, transfer
from patchwarden.core.vuln import Advisory
from patchwarden.errors import AdapterError
from patchwarden.ports import FeedSource, FeedStatus, SourceUpdate

_CHUNK = 500


class SqliteVulnDb:
    """The vulnerability database at ``path`` (implements
    :class:`~patchwarden.ports.AdvisoryDatabase`, hence
    :class:`~patchwarden.ports.AdvisoryStore`).

    A missing file reads as an empty database.  Reading a file of another schema version
    raises :class:`AdapterError` asking for ``patchwarden db update``.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None

    @property
    def path(self) -> Path:
        """Where the database file lives."""
        return self._path

    def close(self) -> None:
        """Close the read connection (reopened on the next query)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def check(self) -> None:
        """Open the file now: :class:`AdapterError` when it cannot be opened or is not a
        database of this schema version (a missing file is fine: an empty database)."""
        self._read()

    def _read(self) -> sqlite3.Connection | None:
        if self._conn is None:
            if not self._path.exists():
                return None
            try:
                conn = sqlite3.connect(f"{self._path.resolve().as_uri()}?mode=ro", uri=True)
            except sqlite3.Error as exc:
                raise AdapterError(f"{self._path}: cannot open: {exc}") from exc
            problem = schema.schema_problem(self._path, conn)
            if problem:
                conn.close()
                raise AdapterError(problem)
            self._conn = conn
        return self._conn

    def advisories(self, ecosystem: str, packages: Iterable[str]) -> list[Advisory]:
        """Every advisory about these (source) package names in this ecosystem release."""
        conn = self._read()
        names = sorted(set(packages))
        if conn is None or not names:
            return []
        found: list[Advisory] = []
        try:
            for start in range(0, len(names), _CHUNK):
                chunk = names[start : start + _CHUNK]
                sql = schema.SELECT_ADVISORIES.format(marks=",".join("?" * len(chunk)))
                found.extend(schema.advisory(r) for r in conn.execute(sql, (ecosystem, *chunk)))
        except sqlite3.DatabaseError as exc:
            raise AdapterError(f"{self._path}: cannot read: {exc}") from exc
        return found

    def ecosystems(self) -> list[str]:
        """Every ecosystem release the database holds advisories for."""
        conn = self._read()
        if conn is None:
            return []
        try:
            rows = conn.execute("SELECT DISTINCT ecosystem FROM advisories ORDER BY 1").fetchall()
        except sqlite3.DatabaseError as exc:
            raise AdapterError(f"{self._path}: cannot read: {exc}") from exc
        return [str(r[0]) for r in rows]

    def sources(self) -> list[FeedSource]:
        """Every stored (feed, url); empty for a missing or unusable (old, damaged) file."""
        try:
            conn = self._read()
            if conn is None:
                return []
            rows = conn.execute(
                "SELECT name, url, updated_at, records, etag, last_modified, sha256 "
                "FROM feeds ORDER BY name, url"
            ).fetchall()
        except (AdapterError, sqlite3.DatabaseError):
            return []
        return [
            FeedSource(r[0], r[1], schema.dt(r[2]) or datetime.min, r[3], r[4], r[5], r[6])
            for r in rows
        ]

    def feeds(self) -> list[FeedStatus]:
        """Per feed: the oldest update of its files, its advisories, its URL (or count)."""
        by_name: dict[str, list[FeedSource]] = {}
        for source in self.sources():
            by_name.setdefault(source.feed, []).append(source)
        return [
            FeedStatus(
                name,
                min(s.updated_at for s in items),
                sum(s.records for s in items),
                items[0].url if len(items) == 1 else f"{len(items)} files",
            )
            for name, items in sorted(by_name.items())
        ]

    def rebuild(
        self, updates: Sequence[SourceUpdate], replace: Collection[str], now: datetime
    ) -> dict[tuple[str, str], int]:
        """Build a new database and swap it in (see :mod:`.build`)."""
        old = self.sources()
        self.close()
        return build.rebuild(self._path, old, updates, replace, now)

    def restore(self, file: Path) -> None:
        """Replace the whole database by a validated copy of ``file``."""
        self.close()
        transfer.restore(self._path, file)

    def export(self, file: Path) -> None:
        """Write a consistent copy of the database to ``file``."""
        transfer.export(self._path, file)
