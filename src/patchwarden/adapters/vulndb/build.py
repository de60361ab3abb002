"""Building the vulnerability database: always into a new file, swapped in atomically.

A build writes ``.<name>.<random>.tmp`` next to the target (same file system), copies the
rows of the sources it keeps from the old database, streams the new advisories in,
indexes, closes, fsyncs and ``os.replace``-s it over the target.  An exception, a
``KeyboardInterrupt`` or a kill at any point leaves the old database untouched: the temp
file is removed (or, after a kill, by the next build, which holds the lock file).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import tempfile
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from patchwarden import __version__
from patchwarden.adapters.vulndb import schema
from patchwarden.errors import AdapterError
from patchwarden.ports import FeedSource, SourceUpdate

BATCH = 20_000


@contextlib.contextmanager
def locked(target: Path) -> Iterator[None]:
    """Hold ``<target>.lock`` (one writer at a time) and clear temp files of killed builds."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = (target.parent / f".{target.name}.lock").open("a")
    except OSError as exc:
        raise AdapterError(f"cannot write next to {target}: {exc.strerror or exc}") from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AdapterError(f"{target}: another update of this database is running") from None
        for stale in target.parent.glob(f".{target.name}.*.tmp"):
            stale.unlink(missing_ok=True)
        yield


@contextlib.contextmanager
def new_file(target: Path) -> Iterator[Path]:
    """A temp path next to ``target``; on success of the block it replaces ``target``."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the database from other readers
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        tmp.unlink(missing_ok=True)


def rebuild(
    target: Path,
    old_sources: Sequence[FeedSource],
    updates: Sequence[SourceUpdate],
    replace: Collection[str],
    now: datetime,
) -> dict[tuple[str, str], int]:
    """Build and swap in a new database (see :class:`~patchwarden.ports.AdvisoryDatabase`)."""
    try:
        return _rebuild(target, old_sources, updates, replace, now)
    except sqlite3.Error as exc:
        raise AdapterError(f"{target}: cannot build the vulnerability database: {exc}") from exc
    except OSError as exc:
        raise AdapterError(f"{target}: cannot write the vulnerability database: {exc}") from exc


def _rebuild(
    target: Path,
    old_sources: Sequence[FeedSource],
    updates: Sequence[SourceUpdate],
    replace: Collection[str],
    now: datetime,
) -> dict[tuple[str, str], int]:
    new_keys = {(u.feed, u.url) for u in updates if u.advisories is not None}
    kept = {(u.feed, u.url): u for u in updates if u.advisories is None}
    keep_names = {s.feed for s in old_sources if s.feed not in replace}
    counts: dict[tuple[str, str], int] = {}
    with locked(target), new_file(target) as tmp:
        conn = sqlite3.connect(tmp, uri=True, isolation_level=None)
        try:
            _prepare(conn)
            if old_sources:
                carry = [
                    (s.feed, s.url)
                    for s in old_sources
                    if s.feed in keep_names or (s.feed, s.url) in kept
                ]
                conn.execute("ATTACH DATABASE ? AS old", (f"{target.as_uri()}?mode=ro",))
                conn.execute("BEGIN")
                _copy(conn, carry)
                conn.execute("COMMIT")
                conn.execute("DETACH DATABASE old")
            conn.execute("BEGIN")
            for key, update in kept.items():
                conn.execute(
                    "UPDATE feeds SET updated_at = ?, etag = ?, last_modified = ? "
                    "WHERE name = ? AND url = ?",
                    (schema.ts(now), update.etag, update.last_modified, *key),
                )
            for update in updates:
                if (update.feed, update.url) in new_keys:
                    counts[(update.feed, update.url)] = _insert(conn, update, now)
            _finish(conn, now)
        finally:
            conn.close()
    return counts


def _prepare(conn: sqlite3.Connection) -> None:
    # The temp file is thrown away on any failure: no journal, no fsync per commit.
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -32768")
    conn.executescript(schema.TABLES)


def _copy(conn: sqlite3.Connection, carry: list[tuple[str, str]]) -> None:
    conn.execute("CREATE TEMP TABLE carry (name TEXT, url TEXT)")
    conn.executemany("INSERT INTO carry VALUES (?, ?)", carry)
    ids = "SELECT f.id FROM old.feeds f JOIN carry c ON c.name = f.name AND c.url = f.url"
    conn.execute(f"INSERT INTO feeds SELECT * FROM old.feeds WHERE id IN ({ids})")
    conn.execute(f"INSERT INTO vulns SELECT * FROM old.vulns WHERE feed_id IN ({ids})")
    conn.execute(f"INSERT INTO advisories SELECT * FROM old.advisories WHERE feed_id IN ({ids})")


def _insert(conn: sqlite3.Connection, update: SourceUpdate, now: datetime) -> int:
    cur = conn.execute(
        "INSERT INTO feeds (name, url, etag, last_modified, updated_at, sha256) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (update.feed, update.url, update.etag, update.last_modified, schema.ts(now), update.sha256),
    )
    feed_id = int(cur.lastrowid or 0)
    next_vuln = int(conn.execute("SELECT coalesce(max(id), 0) + 1 FROM vulns").fetchone()[0])
    vuln_ids: dict[str, int] = {}
    vulns: list[schema.VulnRow] = []
    rows: list[schema.AdvisoryRow] = []
    count = 0
    for adv in update.advisories or ():
        vuln = vuln_ids.get(adv.id)
        if vuln is None:
            vuln = vuln_ids[adv.id] = next_vuln
            next_vuln += 1
            vulns.append(schema.vuln_row(vuln, feed_id, adv))
        rows.append(schema.advisory_row(feed_id, vuln, adv))
        count += 1
        if len(rows) >= BATCH:
            _flush(conn, vulns, rows)
    _flush(conn, vulns, rows)
    conn.execute("UPDATE feeds SET records = ? WHERE id = ?", (count, feed_id))
    return count


def _flush(
    conn: sqlite3.Connection, vulns: list[schema.VulnRow], rows: list[schema.AdvisoryRow]
) -> None:
    conn.executemany(f"INSERT INTO vulns ({schema.VULN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)", vulns)
    conn.executemany(
        f"INSERT INTO advisories ({schema.ADVISORY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", rows
    )
    vulns.clear()
    rows.clear()


def _finish(conn: sqlite3.Connection, now: datetime) -> None:
    for statement in schema.INDEXES.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [
            ("schema_version", str(schema.SCHEMA_VERSION)),
            ("built_at", schema.ts(now) or ""),
            ("generator", f"patchwarden {__version__}"),
        ],
    )
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
