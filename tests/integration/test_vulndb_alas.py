"""``db update --feed alas`` end to end: the real command line, downloader (httpx), parser and
database against a loopback server laid out like cdn.amazonlinux.com (mirror.list →
``<snapshot>/repodata/repomd.xml`` → ``<snapshot>/repodata/updateinfo.xml.gz``); then the
assessment of Amazon Linux inventories against what was stored."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from vulndb_helpers import DATA, FeedServer, Resource, db, downloader, feed_server, run_cli

from patchwarden.adapters.feeds import FEEDS
from patchwarden.adapters.http import HttpDownloader
from patchwarden.adapters.vulndb import SqliteVulnDb
from patchwarden.core.model import InstalledPackage, Inventory, OsInfo, Package
from patchwarden.core.vuln import Severity
from patchwarden.errors import AdapterError
from patchwarden.pipeline import dbupdate
from patchwarden.pipeline.assess import assess

__all__ = ["db", "downloader", "feed_server"]  # the fixtures, re-exported for pytest

ALAS = DATA / "alas"
CDN = "https://cdn.amazonlinux.com"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
AL2023_LIST = "/al2023/core/mirrors/latest/x86_64/mirror.list"
AL2_LIST = "/2/core/latest/x86_64/mirror.list"
GUID = "46ff4933b89b948580f3b223b826fee3c1830b85885db3f7f90502c0ac99698c"
SNAPSHOT_2023 = f"/al2023/core/guids/{GUID}/x86_64"
SNAPSHOT_2 = "/2/core/2.0/x86_64/221a4af09d96ac4e34202cc7bdfa252410419542548cc685dc86ed1c17ca4204"
AMZN2023 = OsInfo(
    "amzn",
    "2023",
    "",
    "Amazon Linux 2023.6.20250107",
    "rhel",
    "AMAZON_LINUX_2023",
    "AmazonLinux2023",
)
AMZN2 = OsInfo("amzn", "2", "", "Amazon Linux 2", "rhel", "AMAZON_LINUX_2", "AmazonLinux2")


def snapshot(server: FeedServer, base: str, updateinfo: bytes, etag: str) -> None:
    """A repository snapshot at ``base``: repomd.xml and a gzip-compressed updateinfo."""
    server.files[f"{base}/repodata/repomd.xml"] = Resource((ALAS / "repomd.xml").read_bytes())
    server.files[f"{base}/repodata/updateinfo.xml.gz"] = Resource(
        gzip.compress(updateinfo, mtime=0), etag=etag
    )


def mirror_list(server: FeedServer, name: str) -> bytes:
    """A fixture mirror list with Amazon's CDN replaced by the loopback server."""
    return (ALAS / name).read_bytes().replace(CDN.encode(), server.url("").encode())


@pytest.fixture
def cdn(feed_server: FeedServer) -> FeedServer:
    feed_server.files[AL2023_LIST] = Resource(mirror_list(feed_server, "mirror.list"))
    feed_server.files[AL2_LIST] = Resource(mirror_list(feed_server, "mirror-al2.list"))
    snapshot(feed_server, SNAPSHOT_2023, (ALAS / "updateinfo-al2023.xml").read_bytes(), '"u1"')
    snapshot(feed_server, SNAPSHOT_2, (ALAS / "updateinfo-al2.xml").read_bytes(), '"k1"')
    return feed_server


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "pw-home"
    monkeypatch.setenv("PATCHWARDEN_HOME", str(path))
    monkeypatch.setenv("PATCHWARDEN_NOW", "2026-11-27T12:00:00Z")
    monkeypatch.delenv("PATCHWARDEN_DB_MAX_AGE", raising=False)
    return path


def inventory(os: OsInfo, *installed: tuple[str, str, str]) -> Inventory:
    """An rpm node with ``(name, version, source rpm name)`` installed."""
    packages = tuple(
        InstalledPackage(Package(name, "x86_64", version, source_name=src, source_version=version))
        for name, version, src in installed
    )
    return Inventory(os, "al-1", "/", "rpm", packages, ())


def test_cli_update_through_mirror_lists_then_not_modified_then_findings(
    home: Path,
    cdn: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [
        "db", "update", "--feed", "alas",
        "--url", f"alas={cdn.url(AL2023_LIST)}",
        "--url", f"alas={cdn.url(AL2_LIST)}",
    ]  # fmt: skip
    assert run_cli(argv, monkeypatch) == 0
    out, err = capsys.readouterr()
    assert "alas: 14 advisories (2 updated)" in out and err == ""
    assert [p for p, _ in cdn.requests] == [
        AL2023_LIST,
        f"{SNAPSHOT_2023}/repodata/repomd.xml",
        f"{SNAPSHOT_2023}/repodata/updateinfo.xml.gz",
        AL2_LIST,
        f"{SNAPSHOT_2}/repodata/repomd.xml",  # AL2's base has no trailing slash
        f"{SNAPSHOT_2}/repodata/updateinfo.xml.gz",
    ]
    store = SqliteVulnDb(home / "vulndb.sqlite")
    try:
        assert sorted(s.url for s in store.sources()) == [
            cdn.url(f"{SNAPSHOT_2}/repodata/updateinfo.xml.gz"),
            cdn.url(f"{SNAPSHOT_2023}/repodata/updateinfo.xml.gz"),
        ]
    finally:
        store.close()

    assert run_cli(argv, monkeypatch) == 0
    assert "alas: 14 advisories (0 updated, 2 not modified)" in capsys.readouterr().out
    updateinfo = cdn.conditional(f"{SNAPSHOT_2023}/repodata/updateinfo.xml.gz")
    assert len(updateinfo) == 2 and updateinfo[-1]["If-None-Match"] == '"u1"'
    assert "If-None-Match" not in cdn.conditional(AL2023_LIST)[-1]  # index files: always read

    store = SqliteVulnDb(home / "vulndb.sqlite")
    try:
        node = inventory(
            AMZN2023,
            ("curl-minimal", "8.3.0-1.amzn2023.0.2", "curl"),
            ("libcurl-minimal", "8.5.0-1.amzn2023.0.1", "curl"),  # already fixed
            ("kpartx", "0.8.7-12.amzn2023.0.3", "device-mapper-multipath"),
        )
        found = assess(node, NOW, store=store).findings
        curl = [f for f in found if f.package_name == "curl-minimal"]
        # one finding per CVE (named by it), Amazon's notice among its aliases
        assert sorted((f.vulnerability_id, f.fixed_version) for f in curl) == [
            ("CVE-2023-46218", "8.5.0-1.amzn2023.0.1"),
            ("CVE-2023-46219", "8.5.0-1.amzn2023.0.1"),
            ("CVE-2024-0853", "8.5.0-1.amzn2023.0.1"),
        ]
        first = min(curl, key=lambda f: f.vulnerability_id)
        assert "ALAS2023-2024-499" in first.aliases
        assert (first.vendor_severity, first.severity, first.severity_source) == (
            "important",
            Severity.HIGH,
            "vendor",
        )
        assert first.sources == ("alas",)
        medium = max(curl, key=lambda f: f.vulnerability_id)
        assert (medium.vendor_severity, medium.severity) == ("medium", Severity.MEDIUM)
        kpartx = [f for f in found if f.package_name == "kpartx"]
        assert sorted(f.vulnerability_id for f in kpartx) == [
            "CVE-2022-3787",
            "CVE-2022-41973",
            "CVE-2022-41974",
        ]
        assert all("ALAS2023-2023-126" in f.aliases for f in kpartx)
        assert not [f for f in found if f.package_name == "libcurl-minimal"]

        old_kernel = inventory(AMZN2, ("kernel", "4.9.75-25.55.amzn2", "kernel"))
        kernel = assess(old_kernel, NOW, store=store).findings
        assert {
            (f.vulnerability_id, f.vendor_severity, f.severity, f.fixed_version) for f in kernel
        } == {
            (cve, "critical", Severity.CRITICAL, "4.9.76-38.79.amzn2")
            for cve in ("CVE-2017-5715", "CVE-2017-5754")
        }
        assert all("ALAS2-2018-939" in f.aliases for f in kernel)
    finally:
        store.close()


def test_direct_updateinfo_url_and_a_moved_snapshot(
    cdn: FeedServer, db: SqliteVulnDb, downloader: HttpDownloader
) -> None:
    direct = cdn.url(f"{SNAPSHOT_2023}/repodata/updateinfo.xml.gz")
    result = dbupdate.update(db, downloader, [FEEDS["alas"].with_urls((direct,))], NOW)
    assert [(s.url, s.modified, s.records) for s in result.sources] == [(direct, True, 10)]
    assert [p for p, _ in cdn.requests] == [f"{SNAPSHOT_2023}/repodata/updateinfo.xml.gz"]

    # the mirror list moves to a new snapshot: the new file is read, the old one forgotten
    feed = FEEDS["alas"].with_urls((cdn.url(AL2023_LIST),))
    first = dbupdate.update(db, downloader, [feed], NOW + timedelta(hours=1))
    assert [(s.modified, s.records) for s in first.sources] == [(False, 10)]  # same file
    newer = (ALAS / "updateinfo-al2023.xml").read_bytes().replace(b"8.5.0", b"8.6.0")
    snapshot(cdn, "/al2023/core/guids/f00d/x86_64", newer, '"u2"')
    cdn.files[AL2023_LIST] = Resource(f"{cdn.url('/al2023/core/guids/f00d/x86_64/')}\n".encode())
    moved = dbupdate.update(db, downloader, [feed], NOW + timedelta(hours=2))
    new_url = cdn.url("/al2023/core/guids/f00d/x86_64/repodata/updateinfo.xml.gz")
    assert [(s.url, s.modified, s.records) for s in moved.sources] == [(new_url, True, 10)]
    assert [s.url for s in db.sources()] == [new_url]
    (curl,) = [
        a for a in db.advisories("Amazon Linux:2023", ["curl-minimal"]) if a.id.endswith("-499")
    ]
    assert curl.fixed_version == "8.6.0-1.amzn2023.0.1"


def test_two_urls_leading_to_one_file_store_it_once(
    cdn: FeedServer, db: SqliteVulnDb, downloader: HttpDownloader
) -> None:
    direct = cdn.url(f"{SNAPSHOT_2023}/repodata/updateinfo.xml.gz")
    feed = FEEDS["alas"].with_urls((cdn.url(AL2023_LIST), direct))
    result = dbupdate.update(db, downloader, [feed], NOW)
    assert [(s.url, s.records) for s in result.sources] == [(direct, 10)]
    assert [s.url for s in db.sources()] == [direct]


@pytest.mark.parametrize(
    ("path", "resource", "problem"),
    [
        (AL2023_LIST, Resource(b""), r"mirror\.list: empty mirror list$"),
        (AL2023_LIST, Resource(b"<html>Access Denied</html>"), "not a mirror list"),
        (f"{SNAPSHOT_2023}/repodata/repomd.xml", None, r"repomd\.xml: HTTP 404"),
        (f"{SNAPSHOT_2023}/repodata/repomd.xml", Resource(b"<repomd"), "corrupt or truncated XML"),
        (
            f"{SNAPSHOT_2023}/repodata/updateinfo.xml.gz",
            Resource(gzip.compress((ALAS / "updateinfo-al2023.xml").read_bytes())[:300]),
            r"^alas: repodata_updateinfo\.xml\.gz: corrupt or truncated XML \(Compressed file",
        ),
        (
            f"{SNAPSHOT_2023}/repodata/updateinfo.xml.gz",
            Resource(b"<html>maintenance</html>"),
            r"^alas: repodata_updateinfo\.xml\.gz: not an updateinfo document \(root element <html",
        ),
    ],
    ids=["empty-list", "html-list", "no-repomd", "bad-repomd", "truncated-gzip", "html"],
)
def test_failures_name_the_feed_and_keep_the_old_database(
    cdn: FeedServer,
    db: SqliteVulnDb,
    downloader: HttpDownloader,
    path: str,
    resource: Resource | None,
    problem: str,
) -> None:
    feed = FEEDS["alas"].with_urls((cdn.url(AL2023_LIST),))
    dbupdate.update(db, downloader, [feed], NOW)
    before, sources = db.advisories("Amazon Linux:2023", ["curl-minimal"]), db.sources()
    if resource is None:
        del cdn.files[path]
    else:
        cdn.files[path] = resource
    with pytest.raises(AdapterError, match=problem) as info:
        dbupdate.update(db, downloader, [feed], NOW + timedelta(days=1))
    assert str(info.value).startswith("alas: ") and "\n" not in str(info.value)
    assert db.advisories("Amazon Linux:2023", ["curl-minimal"]) == before
    assert db.sources() == sources


def test_db_import_of_a_downloaded_updateinfo(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    packed = tmp_path / "0a1b2c-updateinfo.xml.gz"
    packed.write_bytes(gzip.compress((ALAS / "updateinfo-al2023.xml").read_bytes()))
    assert run_cli(["db", "import", str(packed)], monkeypatch) == 0
    assert "alas: 10 advisories (1 updated)" in capsys.readouterr().out
