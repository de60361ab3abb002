"""``db update --feed redhat-csaf`` end to end: archive_latest.txt → the .tar.zst → findings.

A loopback HTTP server serves Red Hat's layout (``/data/csaf/v2/vex/archive_latest.txt``
naming ``csaf_vex_2026-11-27.tar.zst``) with an archive the test builds from the real VEX
fixtures; the real downloader, parser, database and assessment do the rest.
"""

from __future__ import annotations

import io
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import zstandard
from vulndb_helpers import DATA, FeedServer, Resource, db, downloader, feed_server, run_cli

from patchwarden.adapters.feeds import FEEDS, FeedSpec, classify
from patchwarden.adapters.http import HttpDownloader
from patchwarden.adapters.vulndb import SqliteVulnDb
from patchwarden.core.model import InstalledPackage, Inventory, OsInfo, Package
from patchwarden.core.vuln import AdvisoryStatus, FixAvailable, Severity
from patchwarden.errors import AdapterError
from patchwarden.pipeline import dbupdate
from patchwarden.pipeline.assess import assess

__all__ = ["db", "downloader", "feed_server"]  # the fixtures, re-exported for pytest

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
VEX = DATA / "redhat-csaf"
BASE = "/data/csaf/v2/vex"
ARCHIVE = "csaf_vex_2026-11-27.tar.zst"
RHEL9 = OsInfo(
    "rhel", "9.3", "", "Red Hat Enterprise Linux 9.3 (Plow)", "rhel",
    "REDHAT_ENTERPRISE_LINUX", "RedhatEnterpriseLinux9",
)  # fmt: skip


def vex_archive() -> bytes:
    """A zstd-compressed tar of the fixtures, laid out like Red Hat's (``<year>/cve-….json``)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for doc in sorted(VEX.glob("*.json")):
            data = doc.read_bytes()
            info = tarfile.TarInfo(f"{doc.stem[4:8]}/{doc.name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return zstandard.ZstdCompressor().compress(out.getvalue())


@pytest.fixture
def served(feed_server: FeedServer) -> FeedServer:
    feed_server.files.update(
        {
            f"{BASE}/archive_latest.txt": Resource(f"{ARCHIVE}\n".encode()),
            f"{BASE}/{ARCHIVE}": Resource(
                vex_archive(), etag='"vex-1"', last_modified="Fri, 27 Nov 2026 06:00:00 GMT"
            ),
        }
    )
    return feed_server


def redhat(server: FeedServer, path: str = f"{BASE}/archive_latest.txt") -> FeedSpec:
    return FEEDS["redhat-csaf"].with_urls((server.url(path),))


def rhel9(*packages: tuple[str, str, str, str]) -> Inventory:
    installed = tuple(
        InstalledPackage(Package(name, arch, version, source, version))
        for name, arch, version, source in packages
    )
    return Inventory(RHEL9, "rhel9-web", "/", "rpm", installed, ())


def test_update_assess_then_not_modified(
    served: FeedServer, db: SqliteVulnDb, downloader: HttpDownloader
) -> None:
    result = dbupdate.update(db, downloader, [redhat(served)], NOW)
    ((source),) = result.sources
    assert source.feed == "redhat-csaf" and source.modified
    assert source.url == served.url(f"{BASE}/{ARCHIVE}")  # the located archive is recorded
    assert source.records > 50 and result.warnings == ()
    (stored,) = db.sources()
    assert stored.etag == '"vex-1"' and len(stored.sha256) == 64
    assert [p for p, _ in served.requests] == [f"{BASE}/archive_latest.txt", f"{BASE}/{ARCHIVE}"]

    inventory = rhel9(
        ("kernel", "x86_64", "5.14.0-284.25.1.el9_2", "kernel"),  # below the fix
        ("iwl1000-firmware", "noarch", "1:39.31.5.1-130.el9", "linux-firmware"),
        ("sqlite-libs", "x86_64", "3.34.1-7.el9_3", "sqlite"),  # RHEL 9: not affected
        ("nodejs", "x86_64", "1:22.13.1-1.module+el9.5.0+22857+4d4b7a0b", "nodejs"),
    )
    findings = {(f.vulnerability_id, f.package_name): f for f in assess(
        inventory, NOW, store=db
    ).findings}  # fmt: skip
    kernel = findings["CVE-2023-20593", "kernel"]
    assert (kernel.fixed_version, kernel.fix_available) == (
        "5.14.0-284.30.1.el9_2",
        FixAvailable.YES,
    )
    assert kernel.vendor_severity == "Moderate"  # Red Hat's impact rating
    assert (kernel.severity, kernel.severity_source, kernel.cvss_score) == (
        Severity.MEDIUM, "cvss", 6.5,
    )  # fmt: skip
    assert kernel.sources == ("redhat-csaf",)
    assert "RHSA-2023:5069" in kernel.aliases
    firmware = findings["CVE-2023-20593", "iwl1000-firmware"]
    assert firmware.fixed_version == "1:39.31.5.1-135.el9_2"  # the epoch counts
    nodejs = findings["CVE-2025-29087", "nodejs"]
    assert (nodejs.fixed_version, nodejs.advisory_status) == (None, AdvisoryStatus.AFFECTED)
    assert not any(f.package_name == "sqlite-libs" for f in findings.values())

    patched = rhel9(("kernel", "x86_64", "5.14.0-284.30.1.el9_2", "kernel"))
    assert assess(patched, NOW, store=db).findings == ()

    later = NOW + timedelta(hours=6)
    again = dbupdate.update(db, downloader, [redhat(served)], later)
    ((same),) = again.sources
    assert not same.modified and same.records == source.records
    assert served.conditional(f"{BASE}/{ARCHIVE}")[-1]["If-None-Match"] == '"vex-1"'
    assert len(assess(inventory, later, store=db).findings) == len(findings)


def test_a_new_archive_name_is_downloaded(
    served: FeedServer, db: SqliteVulnDb, downloader: HttpDownloader
) -> None:
    dbupdate.update(db, downloader, [redhat(served)], NOW)
    newer = "csaf_vex_2026-11-28.tar.zst"
    served.files[f"{BASE}/archive_latest.txt"] = Resource(newer.encode())
    served.files[f"{BASE}/{newer}"] = Resource(vex_archive(), etag='"vex-2"')
    result = dbupdate.update(db, downloader, [redhat(served)], NOW + timedelta(days=1))
    assert [(s.url, s.modified) for s in result.sources] == [(served.url(f"{BASE}/{newer}"), True)]
    assert [s.url for s in db.sources()] == [served.url(f"{BASE}/{newer}")]


def test_url_override_with_a_direct_archive(
    feed_server: FeedServer, db: SqliteVulnDb, downloader: HttpDownloader
) -> None:
    feed_server.files["/mirror/vex.tar.zst"] = Resource(vex_archive())
    result = dbupdate.update(db, downloader, [redhat(feed_server, "/mirror/vex.tar.zst")], NOW)
    assert result.sources[0].records > 50
    assert [p for p, _ in feed_server.requests] == ["/mirror/vex.tar.zst"]


def test_cli_update_with_the_archive_latest_url(
    served: FeedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATCHWARDEN_HOME", str(tmp_path / "pw-home"))
    monkeypatch.setenv("PATCHWARDEN_NOW", "2026-11-27T12:00:00Z")
    url = served.url(f"{BASE}/archive_latest.txt")
    assert run_cli(["db", "update", "--url", f"redhat-csaf={url}"], monkeypatch) == 0
    assert "redhat-csaf: " in capsys.readouterr().out
    assert run_cli(["db", "update", "--url", f"redhat-csaf={url}"], monkeypatch) == 0
    assert "1 not modified" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("resource", "problem"),
    [
        (Resource(b"<html>maintenance</html>"), "expected the name of a .tar.zst archive"),
        (Resource(b"../../etc/passwd"), "expected the name of a .tar.zst archive"),
    ],
)
def test_a_bad_archive_latest_keeps_the_old_database(
    served: FeedServer,
    db: SqliteVulnDb,
    downloader: HttpDownloader,
    resource: Resource,
    problem: str,
) -> None:
    dbupdate.update(db, downloader, [redhat(served)], NOW)
    sources = db.sources()
    served.files[f"{BASE}/archive_latest.txt"] = resource
    with pytest.raises(AdapterError, match=problem) as info:
        dbupdate.update(db, downloader, [redhat(served)], NOW + timedelta(days=1))
    assert str(info.value).startswith("redhat-csaf: ") and "\n" not in str(info.value)
    assert db.sources() == sources


def test_a_truncated_archive_keeps_the_old_database(
    served: FeedServer, db: SqliteVulnDb, downloader: HttpDownloader
) -> None:
    dbupdate.update(db, downloader, [redhat(served)], NOW)
    sources = db.sources()
    body = vex_archive()
    served.files[f"{BASE}/archive_latest.txt"] = Resource(b"csaf_vex_2026-11-28.tar.zst")
    served.files[f"{BASE}/csaf_vex_2026-11-28.tar.zst"] = Resource(body[: len(body) // 2])
    with pytest.raises(AdapterError, match=r"^redhat-csaf: .*corrupt or truncated archive"):
        dbupdate.update(db, downloader, [redhat(served)], NOW + timedelta(days=1))
    assert db.sources() == sources


def test_db_import_of_the_archive(tmp_path: Path, db: SqliteVulnDb) -> None:
    path = tmp_path / ARCHIVE
    path.write_bytes(vex_archive())
    assert classify(path) == "redhat-csaf"
    result = dbupdate.import_path(db, path, FEEDS, classify, NOW)
    assert [(s.feed, s.records > 50) for s in result.sources] == [("redhat-csaf", True)]
    assert {a.status for a in db.advisories("Red Hat:9", ["kernel"])} == {AdvisoryStatus.FIXED}
