"""Use cases of the vulnerability database: update, import, export (status: :mod:`.dbstatus`).

The database, the downloader and the feeds come in as ports (the CLI wires the SQLite,
httpx and feed adapters), so the same use cases serve the CLI, the server and tests.
Every change is all-or-nothing: files are downloaded (or named) first, then the database
is rebuilt and swapped in one step; any failure leaves the previous database answering.
"""

from __future__ import annotations

import hashlib
import itertools
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from patchwarden.errors import AdapterError, InputError, PatchwardenError
from patchwarden.pipeline.dbstatus import DbStatus, FeedAge, format_age, staleness_warning, status
from patchwarden.ports import AdvisoryDatabase, Downloader, Feed, FeedSource, SourceUpdate

__all__ = [  # status and staleness live in dbstatus; reachable from here too
    "ChangeResult", "DbStatus", "FeedAge", "PlannedFetch", "SourceOutcome", "export",
    "format_age", "import_path", "plan_update", "staleness_warning", "status", "update",
]  # fmt: skip

SQLITE_MAGIC = b"SQLite format 3\x00"
INDEX_LIMIT = 16 << 20
"""The most a feed's index file (read whole by ``Feed.locate``) may weigh."""


@dataclass(frozen=True)
class SourceOutcome:
    """What an update or import did to one file of one feed."""

    feed: str
    url: str
    modified: bool
    """False when the server answered "not modified" (the stored advisories were kept)."""
    records: int


@dataclass(frozen=True)
class ChangeResult:
    """The outcome of ``update`` or ``import``: per file, plus warnings about dropped input."""

    sources: tuple[SourceOutcome, ...] = ()
    warnings: tuple[str, ...] = ()
    restored: Path | None = None
    """Set when a whole database file was imported."""


@dataclass(frozen=True)
class PlannedFetch:
    """One download an update would make (``--dry-run``)."""

    feed: str
    url: str
    previous: FeedSource | None


def plan_update(db: AdvisoryDatabase, feeds: Sequence[Feed]) -> list[PlannedFetch]:
    """The downloads :func:`update` would make, with what is known from the last one."""
    stored = {(s.feed, s.url): s for s in db.sources()}
    return [PlannedFetch(f.name, url, stored.get((f.name, url))) for f in feeds for url in f.urls]


def update(
    db: AdvisoryDatabase, downloader: Downloader, feeds: Sequence[Feed], now: datetime
) -> ChangeResult:
    """Download ``feeds`` (conditionally) and rebuild the database with them."""
    if not feeds:
        raise InputError("no feed to update")
    warnings: list[str] = []
    by_name = {f.name: f for f in feeds}
    db.path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".downloads-", dir=db.path.parent) as tmp:
        updates: list[SourceUpdate] = []
        stored = {(s.feed, s.url): s for s in db.sources()}
        for n, fetch in enumerate(plan_update(db, feeds)):
            try:
                # a feed behind index files names the file to fetch; it is recorded under
                # that URL, so "not modified" means: same file, and the server agrees
                url = by_name[fetch.feed].locate(fetch.url, _index_reader(downloader, tmp, n))
                if any(u.feed == fetch.feed and u.url == url for u in updates):
                    continue  # two configured URLs lead to the same file
                prev = stored.get((fetch.feed, url))
                got = downloader.fetch(
                    url,
                    _download_path(Path(tmp), n, url),
                    etag=prev.etag if prev else "",
                    last_modified=prev.last_modified if prev else "",
                )
            except PatchwardenError as exc:
                raise type(exc)(f"{fetch.feed}: {exc}") from exc
            parsed = (
                None if got.path is None else by_name[fetch.feed].parse(got.path, warnings.append)
            )
            updates.append(
                SourceUpdate(fetch.feed, url, parsed, got.etag, got.last_modified, got.sha256)
            )
        counts = db.rebuild(updates, set(by_name), now)
    return _result(db, updates, counts, warnings)


def import_path(
    db: AdvisoryDatabase,
    path: Path,
    feeds: Mapping[str, Feed],
    classify: Callable[[Path], str | None],
    now: datetime,
    *,
    feed: str | None = None,
) -> ChangeResult:
    """Import a database file, a raw feed file or a directory of raw feed files.

    Raw files replace the feeds they belong to (``classify`` tells which, or ``feed``
    forces one); other feeds in the database are kept.
    """
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if feed is not None and feed not in feeds:
        raise InputError(f"unknown feed {feed!r} (known: {', '.join(sorted(feeds))})")
    if path.is_file() and _is_sqlite(path):
        db.restore(path)
        return ChangeResult(restored=path)
    warnings: list[str] = []
    named: list[tuple[str, Path]] = []
    for file in _files(path):
        name = feed or classify(file)
        if name is None or name not in feeds or _is_sqlite(file):
            warnings.append(f"{file}: not a known feed file, skipped")
            continue
        named.append((name, file))
    if not named:
        raise InputError(f"{path}: no feed file found (Debian tracker JSON, OSV, Alpine secdb)")
    updates = [
        SourceUpdate(
            name,
            file.resolve().as_uri(),
            feeds[name].parse(file, warnings.append),
            sha256=_sha256(file),
        )
        for name, file in named
    ]
    counts = db.rebuild(updates, {name for name, _ in named}, now)
    return _result(db, updates, counts, warnings)


def export(db: AdvisoryDatabase, file: Path) -> None:
    """Write a copy of the database to ``file`` (for air-gapped sites: ``db import`` it)."""
    db.export(file)


def _result(
    db: AdvisoryDatabase,
    updates: Sequence[SourceUpdate],
    counts: Mapping[tuple[str, str], int],
    warnings: list[str],
) -> ChangeResult:
    stored = {(s.feed, s.url): s.records for s in db.sources()}
    outcomes = tuple(
        SourceOutcome(
            u.feed,
            u.url,
            u.advisories is not None,
            counts.get((u.feed, u.url), stored.get((u.feed, u.url), 0)),
        )
        for u in updates
    )
    return ChangeResult(outcomes, tuple(warnings))


def _index_reader(downloader: Downloader, tmp: str, n: int) -> Callable[[str], bytes]:
    """The ``fetch`` of :meth:`~patchwarden.ports.Feed.locate`: one index file (a mirror
    list, a repomd.xml), downloaded unconditionally, at most :data:`INDEX_LIMIT` bytes."""
    hops = itertools.count()

    def read(url: str) -> bytes:
        got = downloader.fetch(url, _download_path(Path(tmp), f"{n}.{next(hops)}", url))
        if got.path is None:  # asked unconditionally: a 304 would be a broken server
            raise AdapterError(f"{url}: no content received")
        if got.size > INDEX_LIMIT:
            raise AdapterError(f"{url}: not an index file (larger than {INDEX_LIMIT >> 20} MiB)")
        return got.path.read_bytes()

    return read


def _download_path(tmp: Path, n: int | str, url: str) -> Path:
    """``<tmp>/<n>/v3.20_main.json``: errors name the file after its URL."""
    parts = [p for p in unquote(urlsplit(url).path).split("/") if p][-2:] or ["download"]
    folder = tmp / str(n)
    folder.mkdir()
    return folder / "_".join(parts).replace(" ", "-")


def _files(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    for file in sorted(path.rglob("*")):
        if file.is_file() and not any(p.startswith(".") for p in file.relative_to(path).parts):
            yield file


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
