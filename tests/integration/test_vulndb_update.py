"""``db update`` end to end against a local HTTP server serving the fixture feeds.

The real downloader (httpx) and the real parsers and database; only the URLs point at
127.0.0.1.  After every failure the previous database is intact and still answers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from vulndb_helpers import DATA, FeedServer, Resource, db, downloader, feed_server, osv_zip

from patchwarden.adapters.feeds import FEEDS
from patchwarden.adapters.http import HttpDownloader
from patchwarden.adapters.vulndb import SqliteVulnDb
from patchwarden.errors import AdapterError, InputError
from patchwarden.pipeline import dbupdate

__all__ = ["db", "downloader", "feed_server"]  # the fixtures, re-exported for pytest

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TRACKER = (DATA / "debian-tracker" / "tracker-vunnel.json").read_bytes()
SECDB = (DATA / "alpine-secdb" / "v3.15-main.json").read_bytes()


@pytest.fixture
def served(feed_server: FeedServer, tmp_path: Path) -> FeedServer:
    dump = osv_zip(tmp_path / "all.zip", ["DSA-3029-1", "DLA-3623-1"]).read_bytes()
    feed_server.files.update(
        {
            "/tracker/data/json": Resource(TRACKER, etag='"t1"'),
            "/Debian/all.zip": Resource(
                dump, last_modified="Fri, 27 Nov 2026 10:00:00 GMT", md5="auto"
            ),
            "/v3.15/main.json": Resource(SECDB, etag='"s1"'),
        }
    )
    return feed_server


def feeds(server: FeedServer, tracker: str = "/tracker/data/json") -> list:  # type: ignore[type-arg]
    return [
        FEEDS["debian-tracker"].with_urls((server.url(tracker),)),
        FEEDS["osv-debian"].with_urls((server.url("/Debian/all.zip"),)),
        FEEDS["alpine-secdb"].with_urls((server.url("/v3.15/main.json"),)),
    ]


def answers(db: SqliteVulnDb) -> list[str]:
    return sorted(
        f"{a.ecosystem} {a.package} {a.id} {a.status}"
        for a in db.advisories("Debian:12", ["chromium", "sope"])
        + db.advisories("Debian:7", ["nginx"])
        + db.advisories("Alpine:v3.15", ["zlib"])
    )


def test_update_then_not_modified(
    served: FeedServer, db: SqliteVulnDb, downloader: HttpDownloader
) -> None:
    result = dbupdate.update(db, downloader, feeds(served), NOW)
    records = {s.feed: s.records for s in result.sources}
    assert records == {"debian-tracker": 25, "osv-debian": 1, "alpine-secdb": 13}
    assert all(s.modified for s in result.sources) and result.warnings == ()
    first = answers(db)
    assert "Debian:7 nginx DSA-3029-1 fixed" in first and len(first) == 5
    (tracker_src,) = [s for s in db.sources() if s.feed == "debian-tracker"]
    assert tracker_src.etag == '"t1"' and len(tracker_src.sha256) == 64

    later = NOW + timedelta(hours=6)
    again = dbupdate.update(db, downloader, feeds(served), later)
    assert not any(s.modified for s in again.sources)
    assert {s.feed: s.records for s in again.sources} == records
    assert served.conditional("/tracker/data/json")[-1]["If-None-Match"] == '"t1"'
    zip_headers = served.conditional("/Debian/all.zip")[-1]
    assert zip_headers["If-Modified-Since"] == "Fri, 27 Nov 2026 10:00:00 GMT"
    assert answers(db) == first
    assert {f.updated_at for f in db.feeds()} == {later}


def test_changed_feed_replaces_its_data(
    served: FeedServer, db: SqliteVulnDb, downloader: HttpDownloader
) -> None:
    dbupdate.update(db, downloader, feeds(served), NOW)
    served.files["/tracker/data/json"] = Resource(
        json.dumps(
            {"curl": {"CVE-2099-1": {"releases": {"bookworm": {"status": "open"}}}}}
        ).encode(),
        etag='"t2"',
    )
    result = dbupdate.update(db, downloader, feeds(served)[:1], NOW + timedelta(days=1))
    assert [(s.feed, s.modified, s.records) for s in result.sources] == [
        ("debian-tracker", True, 1)
    ]
    assert db.advisories("Debian:12", ["chromium"]) == []
    assert [a.id for a in db.advisories("Debian:12", ["curl"])] == ["CVE-2099-1"]
    assert len(db.advisories("Alpine:v3.15", ["zlib"])) == 2  # other feeds untouched


@pytest.mark.parametrize(
    ("resource", "problem"),
    [
        (Resource(TRACKER[: len(TRACKER) // 2]), "truncated"),
        (Resource(b'{"curl": {"CVE-1": {"releases": {"bookworm": 7}}}}'), "expected an object"),
        (Resource(b"<html>maintenance</html>"), "not a security tracker JSON"),
        (Resource(TRACKER, cut_at=len(TRACKER) // 3), "download failed|cut off"),
        (Resource(TRACKER, md5="AAAAAAAAAAAAAAAAAAAAAA=="), "checksum mismatch"),
    ],
    ids=["truncated-json", "wrong-shape", "not-json", "cut-off-transfer", "bad-checksum"],
)
def test_failed_update_keeps_the_old_database(
    served: FeedServer,
    db: SqliteVulnDb,
    downloader: HttpDownloader,
    resource: Resource,
    problem: str,
) -> None:
    dbupdate.update(db, downloader, feeds(served), NOW)
    before, sources = answers(db), db.sources()
    served.files["/broken"] = resource
    with pytest.raises(AdapterError, match=problem) as info:
        dbupdate.update(db, downloader, feeds(served, "/broken"), NOW + timedelta(days=1))
    assert str(info.value).startswith("debian-tracker: ")
    assert "\n" not in str(info.value)
    assert answers(db) == before and db.sources() == sources
    leftovers = [p.name for p in db.path.parent.iterdir() if p.name != ".vulndb.sqlite.lock"]
    assert leftovers == ["vulndb.sqlite"]


def test_corrupt_zip_keeps_the_old_database(
    served: FeedServer, db: SqliteVulnDb, downloader: HttpDownloader
) -> None:
    dbupdate.update(db, downloader, feeds(served), NOW)
    before = answers(db)
    dump = served.files["/Debian/all.zip"].body
    served.files["/Debian/all.zip"] = Resource(dump[: len(dump) - 40])
    with pytest.raises(AdapterError, match=r"^osv-debian: Debian_all\.zip: not a readable zip"):
        dbupdate.update(db, downloader, feeds(served), NOW)
    assert answers(db) == before


def test_downloader_limits_and_schemes(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.files["/big"] = Resource(b"x" * 5000)
    feed_server.files["/stream"] = Resource(b"x" * 5000, no_length=True)
    small = HttpDownloader(max_bytes=4096, timeout=10)
    try:
        with pytest.raises(AdapterError, match="over the limit of"):
            small.fetch(feed_server.url("/big"), tmp_path / "a")
        with pytest.raises(AdapterError, match="larger than the limit"):
            small.fetch(feed_server.url("/stream"), tmp_path / "b")
        with pytest.raises(AdapterError, match="HTTP 404"):
            small.fetch(feed_server.url("/nothing"), tmp_path / "c")
        with pytest.raises(InputError, match="HTTPS only"):
            small.fetch("http://example.org/feed.json", tmp_path / "d")
        feed_server.files["/ok"] = Resource(b"hello", md5="auto")
        got = small.fetch(feed_server.url("/ok"), tmp_path / "e")
        assert (got.path, got.size) == (tmp_path / "e", 5)
        assert got.sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    finally:
        small.close()


def test_unreachable_server_names_the_feed(db: SqliteVulnDb, downloader: HttpDownloader) -> None:
    dead = FEEDS["debian-tracker"].with_urls(("http://127.0.0.1:9/json",))
    with pytest.raises(
        AdapterError, match=r"^debian-tracker: http://127\.0\.0\.1:9/json: download failed"
    ):
        dbupdate.update(db, downloader, [dead], NOW)
    assert not db.path.exists()
