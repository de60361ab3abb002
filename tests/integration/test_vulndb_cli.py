"""``patchwarden db update|status|import|export`` through the real command line.

The ``db`` group is registered by :func:`vulndb_helpers.run_cli` (the lead wires it into
``cli/main.py``); feeds come from fixture files or a local HTTP server.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from vulndb_helpers import DATA, FeedServer, Resource, feed_server, osv_zip, run_cli

__all__ = ["feed_server"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "pw-home"
    monkeypatch.setenv("PATCHWARDEN_HOME", str(path))
    monkeypatch.setenv("PATCHWARDEN_NOW", "2026-11-27T12:00:00Z")
    monkeypatch.delenv("PATCHWARDEN_DB_MAX_AGE", raising=False)
    return path


@pytest.fixture
def feed_dir(tmp_path: Path) -> Path:
    """A directory of raw feed files as an air-gapped site would receive them."""
    root = tmp_path / "feeds"
    (root / "alpine").mkdir(parents=True)
    shutil.copy(DATA / "debian-tracker" / "tracker-vunnel.json", root / "json")
    shutil.copy(DATA / "alpine-secdb" / "v3.15-main.json", root / "alpine" / "main.json")
    shutil.copy(DATA / "alpine-secdb" / "v3.15-community.yaml", root / "alpine" / "community.yaml")
    osv_zip(root / "Ubuntu-all.zip", ["USN-5614-1", "UBUNTU-CVE-2021-3782", "UBUNTU-CVE-2026-1403"])
    (root / "README.txt").write_text("feeds fetched on 2026-11-26\n")
    return root


def status_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    assert run_cli(["db", "status", "--format", "json", *args], monkeypatch) == 0
    out = capsys.readouterr().out
    loaded: dict = json.loads(out)  # type: ignore[type-arg]
    return loaded


def test_import_directory_then_status(
    home: Path, feed_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["db", "import", str(feed_dir)], monkeypatch) == 0
    out, err = capsys.readouterr()
    assert "debian-tracker: 25 advisories (1 updated)" in out
    assert "alpine-secdb: 16 advisories (2 updated)" in out
    assert "osv-ubuntu: 8 advisories (1 updated)" in out
    assert "README.txt: not a known feed file, skipped" in err
    assert (home / "vulndb.sqlite").exists()

    doc = status_json(monkeypatch, capsys)
    assert doc["stale"] is False and doc["warning"] is None
    feeds = {f["name"]: f for f in doc["feeds"]}
    assert feeds["debian-tracker"]["records"] == 25 and feeds["debian-tracker"]["age_seconds"] == 0
    assert feeds["alpine-secdb"]["url"] == "2 files"
    assert {f["feed"] for f in doc["files"]} == {"debian-tracker", "alpine-secdb", "osv-ubuntu"}

    assert run_cli(["db", "status"], monkeypatch) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["FEED", "UPDATED", "AGE", "RECORDS", "URL"]
    assert any(line.startswith("debian-tracker") and " 25 " in line for line in table)


def test_stale_database_warns(
    home: Path, feed_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(["db", "import", str(feed_dir)], monkeypatch)
    monkeypatch.setenv("PATCHWARDEN_NOW", "2026-12-01T12:00:00Z")
    assert run_cli(["db", "status"], monkeypatch) == 0
    out, err = capsys.readouterr()
    assert "(stale)" in out
    assert "warning: the vulnerability database is stale" in err and "4d ago (limit 3d)" in err
    doc = status_json(monkeypatch, capsys, "--max-age", "5d")
    assert doc["stale"] is False
    monkeypatch.setenv("PATCHWARDEN_DB_MAX_AGE", "1d")
    assert status_json(monkeypatch, capsys)["stale"] is True


def test_empty_status(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["db", "status"], monkeypatch) == 0
    out, err = capsys.readouterr()
    assert "no vulnerability data" in out and "database is empty" in err


def test_export_and_import_a_database_file(
    home: Path,
    feed_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_cli(["db", "import", str(feed_dir)], monkeypatch)
    exported = tmp_path / "usb" / "vulndb-export.sqlite"
    assert run_cli(["db", "export", str(exported)], monkeypatch) == 0
    other = tmp_path / "site-b" / "vulndb.sqlite"
    assert run_cli(["db", "import", str(exported), "--db", str(other)], monkeypatch) == 0
    assert "imported the database" in capsys.readouterr().out
    query = "SELECT count(*) FROM advisories"
    assert (
        sqlite3.connect(other).execute(query).fetchone()
        == sqlite3.connect(home / "vulndb.sqlite").execute(query).fetchone()
    )
    assert (
        status_json(monkeypatch, capsys, "--db", str(other))["feeds"]
        == status_json(monkeypatch, capsys)["feeds"]
    )


def test_import_errors_exit_2_and_change_nothing(
    home: Path,
    feed_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_cli(["db", "import", str(feed_dir)], monkeypatch)
    before = (home / "vulndb.sqlite").read_bytes()
    empty = tmp_path / "empty"
    empty.mkdir()
    bad_db = tmp_path / "bad.sqlite"
    bad_db.write_bytes(b"SQLite format 3\x00garbage")
    for path in (empty, tmp_path / "missing", bad_db):
        capsys.readouterr()
        assert run_cli(["db", "import", str(path)], monkeypatch) == 2
        err = capsys.readouterr().err
        assert err.startswith("patchwarden: error: ") and err.count("\n") == 1
    assert (home / "vulndb.sqlite").read_bytes() == before


def test_import_corrupt_feed_file_exits_3_and_changes_nothing(
    home: Path,
    feed_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_cli(["db", "import", str(feed_dir)], monkeypatch)
    before = (home / "vulndb.sqlite").read_bytes()
    broken = tmp_path / "json"
    broken.write_bytes((DATA / "debian-tracker" / "tracker-osvdev.json").read_bytes()[:3000])
    capsys.readouterr()
    assert run_cli(["db", "import", str(broken), "--feed", "debian-tracker"], monkeypatch) == 3
    err = capsys.readouterr().err
    assert err == (
        "patchwarden: error: debian-tracker: json: not a security tracker JSON object: "
        "truncated: the text stops at character 3000\n"
    )
    assert (home / "vulndb.sqlite").read_bytes() == before


def test_update_from_local_server(
    home: Path,
    feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    feed_server.files["/json"] = Resource(
        (DATA / "debian-tracker" / "tracker-osvdev.json").read_bytes(), etag='"a"'
    )
    feed_server.files["/v3.15/main.yaml"] = Resource(
        (DATA / "alpine-secdb" / "v3.15-main.yaml").read_bytes()
    )
    feed_server.files["/v3.15/community.yaml"] = Resource(
        (DATA / "alpine-secdb" / "v3.15-community.yaml").read_bytes()
    )
    argv = [
        "db", "update",
        "--url", f"debian-tracker={feed_server.url('/json')}",
        "--url", f"alpine-secdb={feed_server.url('/v3.15/main.yaml')}",
        "--url", f"alpine-secdb={feed_server.url('/v3.15/community.yaml')}",
    ]  # fmt: skip
    assert run_cli([*argv, "--dry-run"], monkeypatch) == 0
    assert capsys.readouterr().out.count("would download") == 3 and feed_server.requests == []
    assert run_cli(argv, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "debian-tracker: 15 advisories (1 updated)" in out
    assert "alpine-secdb: 16 advisories (2 updated)" in out
    assert run_cli(argv[:4], monkeypatch) == 0
    assert "debian-tracker: 15 advisories (0 updated, 1 not modified)" in capsys.readouterr().out
    assert run_cli(["db", "update", "--dry-run"], monkeypatch) == 0  # the feeds already there
    planned = capsys.readouterr().out
    assert "would download debian-tracker: https://security-tracker.debian.org/" in planned
    assert "https://secdb.alpinelinux.org/v3.20/main.json" in planned and "osv-" not in planned
    assert "(if changed since" not in planned  # default URLs: nothing known about them yet
    assert run_cli([*argv[:4], "--dry-run"], monkeypatch) == 0
    assert "(if changed since 2026-11-27 12:00)" in capsys.readouterr().out


def test_update_failures_exit_with_one_line(
    home: Path,
    feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_cli(["db", "update", "--feed", "nosuch"], monkeypatch) == 2
    assert "unknown feed 'nosuch'" in capsys.readouterr().err
    assert run_cli(["db", "update", "--url", "debian-tracker"], monkeypatch) == 2
    assert "expected NAME=URL" in capsys.readouterr().err
    assert (
        run_cli(["db", "update", "--url", "debian-tracker=http://example.org/json"], monkeypatch)
        == 2
    )
    assert "HTTPS only" in capsys.readouterr().err
    feed_server.files["/json"] = Resource(b"x" * 3000)
    url = f"debian-tracker={feed_server.url('/json')}"
    assert run_cli(["db", "update", "--url", url, "--max-download", "1K"], monkeypatch) == 3
    err = capsys.readouterr().err
    assert (
        err.startswith("patchwarden: error: debian-tracker: http://127.0.0.1:")
        and "over the limit" in err
    )
    assert not (home / "vulndb.sqlite").exists()
