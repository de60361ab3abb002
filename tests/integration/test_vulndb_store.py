"""The SQLite vulnerability database: queries, per-feed replacement, atomic swap, transfer."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from patchwarden.adapters.vulndb import SqliteVulnDb
from patchwarden.core.vuln import Advisory, AdvisoryStatus
from patchwarden.errors import AdapterError, InputError
from patchwarden.ports import SourceUpdate

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
S = AdvisoryStatus


def adv(vid: str, package: str, eco: str = "Debian:12", **kw: object) -> Advisory:
    fields: dict[str, object] = {
        "source": "debian-tracker",
        "status": S.FIXED,
        "fixed_version": "1.0-1",
    }
    fields.update(kw)
    return Advisory(id=vid, ecosystem=eco, package=package, **fields)  # type: ignore[arg-type]


def tracker(*advisories: Advisory, url: str = "https://t/json") -> SourceUpdate:
    return SourceUpdate("debian-tracker", url, list(advisories), etag='"v1"', sha256="ab")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqliteVulnDb]:
    store = SqliteVulnDb(tmp_path / "data" / "vulndb.sqlite")
    yield store
    store.close()


def fill(db: SqliteVulnDb) -> None:
    rich = adv(
        "UBUNTU-CVE-2021-3782", "wayland", "Ubuntu:22.04:LTS", source="osv",
        events=(("introduced", "0"), ("fixed", "1.20.0-1ubuntu0.1")), aliases=("CVE-2021-3782",),
        cvss_vector="CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:H", vendor_severity="medium",
        summary="wl_shm refcount", published=NOW - timedelta(days=900), modified=NOW,
    )  # fmt: skip
    db.rebuild(
        [
            tracker(
                adv("CVE-2024-1", "openssl"),
                adv("CVE-2024-1", "openssl", "Debian:11", status=S.AFFECTED, fixed_version=None),
                adv("CVE-2024-2", "zlib", status=S.NOT_AFFECTED, fixed_version=None),
            ),
            SourceUpdate("osv-ubuntu", "https://o/all.zip", [rich]),
        ],
        {"debian-tracker", "osv-ubuntu"},
        NOW,
    )


def test_round_trip_of_every_field(db: SqliteVulnDb) -> None:
    fill(db)
    (got,) = db.advisories("Ubuntu:22.04:LTS", ["wayland", "nothing"])
    assert got.events == (("introduced", "0"), ("fixed", "1.20.0-1ubuntu0.1"))
    assert got.aliases == ("CVE-2021-3782",)
    assert (got.cvss_vector[:8], got.vendor_severity, got.summary) == (
        "CVSS:3.1",
        "medium",
        "wl_shm refcount",
    )
    assert got.published == NOW - timedelta(days=900) and got.modified == NOW
    assert [a.package for a in db.advisories("Debian:12", iter(["zlib", "openssl"]))] == [
        "openssl",
        "zlib",
    ]
    (affected,) = db.advisories("Debian:11", ["openssl"])
    assert (affected.status, affected.fixed_version) == (S.AFFECTED, None)
    assert db.advisories("Debian:13", ["openssl"]) == []
    assert db.advisories("Debian:12", []) == []
    assert db.ecosystems() == ["Debian:11", "Debian:12", "Ubuntu:22.04:LTS"]


def test_feeds_and_sources(db: SqliteVulnDb) -> None:
    assert db.feeds() == [] and db.sources() == []  # no file yet
    fill(db)
    feeds = {f.name: f for f in db.feeds()}
    assert feeds["debian-tracker"].records == 3 and feeds["osv-ubuntu"].records == 1
    assert (
        feeds["debian-tracker"].updated_at == NOW
        and feeds["debian-tracker"].url == "https://t/json"
    )
    (src, _) = db.sources()
    assert (src.etag, src.sha256) == ('"v1"', "ab")
    conn = sqlite3.connect(db.path)
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM advisories WHERE ecosystem=? AND package IN (?)",
        ("a", "b"),
    ).fetchall()
    assert "advisories_by_package" in str(plan)
    conn.close()


def test_many_packages_in_one_query(db: SqliteVulnDb) -> None:
    db.rebuild(
        [tracker(*(adv(f"CVE-1-{i}", f"p{i}") for i in range(1500)))], {"debian-tracker"}, NOW
    )
    assert len(db.advisories("Debian:12", [f"p{i}" for i in range(0, 3000)])) == 1500


def test_updating_one_feed_keeps_the_others(db: SqliteVulnDb) -> None:
    fill(db)
    later = NOW + timedelta(days=1)
    db.rebuild([tracker(adv("CVE-2025-9", "curl"))], {"debian-tracker"}, later)
    assert db.advisories("Debian:12", ["openssl"]) == []
    assert [a.id for a in db.advisories("Debian:12", ["curl"])] == ["CVE-2025-9"]
    assert len(db.advisories("Ubuntu:22.04:LTS", ["wayland"])) == 1
    feeds = {f.name: f for f in db.feeds()}
    assert feeds["osv-ubuntu"].updated_at == NOW and feeds["debian-tracker"].updated_at == later


def test_not_modified_source_keeps_rows_and_refreshes_metadata(db: SqliteVulnDb) -> None:
    fill(db)
    later = NOW + timedelta(hours=5)
    keep = SourceUpdate("debian-tracker", "https://t/json", None, etag='"v2"')
    assert db.rebuild([keep], {"debian-tracker"}, later) == {}
    (src, _) = db.sources()
    assert (src.feed, src.etag, src.updated_at, src.records) == ("debian-tracker", '"v2"', later, 3)
    assert len(db.advisories("Debian:12", ["openssl", "zlib"])) == 2


def test_missing_file_reads_empty_and_other_schema_is_refused(db: SqliteVulnDb) -> None:
    assert db.advisories("Debian:12", ["openssl"]) == []
    fill(db)
    conn = sqlite3.connect(db.path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    db.close()
    with pytest.raises(AdapterError, match=r"schema version 99.*run `patchwarden db update`"):
        db.advisories("Debian:12", ["openssl"])
    assert db.sources() == []  # an update rebuilds from scratch
    db.rebuild([tracker(adv("CVE-1", "a"))], {"debian-tracker"}, NOW)
    assert len(db.advisories("Debian:12", ["a"])) == 1


def _boom(after: int, exc: BaseException) -> Iterator[Advisory]:
    for i in range(after):
        yield adv(f"CVE-9-{i}", "curl")
    raise exc


@pytest.mark.parametrize(
    "exc", [AdapterError("debian-tracker: json: corrupt"), KeyboardInterrupt()]
)
def test_failure_mid_build_leaves_the_old_database(db: SqliteVulnDb, exc: BaseException) -> None:
    fill(db)
    before = db.path.read_bytes()
    update = SourceUpdate("debian-tracker", "https://t/json", _boom(50_000, exc))
    with pytest.raises(type(exc)):
        db.rebuild([update], {"debian-tracker"}, NOW + timedelta(days=1))
    assert db.path.read_bytes() == before
    assert len(db.advisories("Debian:12", ["openssl", "zlib"])) == 2
    assert sorted(p.name for p in db.path.parent.iterdir()) == [
        ".vulndb.sqlite.lock",
        "vulndb.sqlite",
    ]


KILLED_BUILD = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    from patchwarden.adapters.vulndb import SqliteVulnDb
    from patchwarden.core.vuln import Advisory, AdvisoryStatus
    from patchwarden.ports import SourceUpdate

    def slow():
        for i in range(100_000):
            yield Advisory(
                f"CVE-8-{i}", "debian-tracker", "Debian:12", "curl", AdvisoryStatus.AFFECTED
            )
            if i == 30_000:
                print("building", flush=True)
                time.sleep(60)

    db = SqliteVulnDb(Path(sys.argv[1]))
    db.rebuild([SourceUpdate("debian-tracker", "https://t/json", slow())], {"debian-tracker"},
               datetime.now(UTC))
    """
)


def test_killed_build_leaves_the_old_database(db: SqliteVulnDb) -> None:
    fill(db)
    before = db.path.read_bytes()
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_BUILD, str(db.path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "building\n"
        temps = list(db.path.parent.glob(".vulndb.sqlite.*.tmp"))
        assert len(temps) == 1 and temps[0].stat().st_size > 0  # the build was under way
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()
    assert db.path.read_bytes() == before
    assert len(db.advisories("Debian:12", ["openssl", "zlib"])) == 2
    db.rebuild([tracker(adv("CVE-1", "a"))], {"debian-tracker"}, NOW)  # clears the leftover
    assert list(db.path.parent.glob(".vulndb.sqlite.*.tmp")) == []


def test_one_writer_at_a_time(db: SqliteVulnDb) -> None:
    fill(db)

    def nested() -> Iterator[Advisory]:
        with pytest.raises(AdapterError, match="another update of this database is running"):
            db.rebuild([tracker(adv("CVE-2", "b"))], {"debian-tracker"}, NOW)
        yield adv("CVE-3", "c")

    db.rebuild(
        [SourceUpdate("debian-tracker", "https://t/json", nested())], {"debian-tracker"}, NOW
    )
    assert [a.id for a in db.advisories("Debian:12", ["b", "c"])] == ["CVE-3"]


def test_export_and_restore(db: SqliteVulnDb, tmp_path: Path) -> None:
    fill(db)
    copy = tmp_path / "out" / "copy.sqlite"
    db.export(copy)
    other = SqliteVulnDb(tmp_path / "air-gapped" / "vulndb.sqlite")
    other.restore(copy)
    assert other.feeds() == db.feeds()
    assert other.advisories("Debian:12", ["openssl"]) == db.advisories("Debian:12", ["openssl"])
    assert (other.path.stat().st_mode & 0o777) == 0o644
    other.close()


def test_restore_refuses_bad_files_and_keeps_the_old(db: SqliteVulnDb, tmp_path: Path) -> None:
    fill(db)
    before = db.path.read_bytes()
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    for bad, problem in [(junk, "damaged|not a Patchwarden"), (other, "not a Patchwarden")]:
        with pytest.raises(InputError, match=problem):
            db.restore(bad)
    with pytest.raises(InputError, match="not an SQLite database"):
        db.restore(tmp_path / "missing.sqlite")
    assert db.path.read_bytes() == before
    with pytest.raises(InputError, match="no vulnerability database"):
        SqliteVulnDb(tmp_path / "none.sqlite").export(tmp_path / "x.sqlite")
