"""The image record's JSON form and the SQLite catalog that keeps it."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from patchwarden.adapters.image.catalog import LocalImageCatalog, from_json, to_json
from patchwarden.core.imagebuild import (
    BuildStep,
    Distributed,
    ImageFix,
    ImagePackage,
    ImageRecord,
    ImageStatus,
    StatusChange,
)
from patchwarden.core.model import OsInfo
from patchwarden.core.semver import ImageVersion
from patchwarden.core.vuln import Severity
from patchwarden.errors import EnvironmentProblem

CREATED = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
UPDATED = datetime(2026, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
EARLIER = datetime(2025, 1, 1, tzinfo=UTC)
DEFAULT = ImageRecord("x", ImageVersion.parse("1.0.0/1"), ImageStatus.PENDING, EARLIER, EARLIER)

FULL = ImageRecord(
    name="web-base",
    version=ImageVersion.parse("1.2.3/4"),
    status=ImageStatus.FAILED,
    created=CREATED,
    updated=UPDATED,
    pipeline="nightly",
    parent="base 1.0.0/2",
    parent_digest="sha256:" + "01" * 32,
    parent_image=("base", "1.0.0/2"),
    digest="sha256:" + "02" * 32,
    package_digest="sha256:" + "03" * 32,
    package_count=187,
    packages=(
        ImagePackage("bash", "amd64", "5.2.15-2+b2"),
        ImagePackage("zlib1g", "amd64", "1:1.2.13.dfsg-1", "zlib"),
    ),
    os_info=OsInfo(
        "debian", "12", "bookworm", "Debian GNU/Linux 12", "debian", "DEBIAN", "Debian12"
    ),
    trigger="fix for CVE-2099-0002 in zlib1g 1:9.9.9-1 (HIGH)",
    layout="/var/lib/patchwarden/images/web-base",
    reason="scan gate: 1 HIGH finding (at most 0 allowed): CVE-2099-0002 in zlib1g",
    findings=(("HIGH", 1), ("LOW", 7)),
    fixes=(ImageFix("CVE-2099-0002", "zlib1g", "1:1.2.13.dfsg-1", "1:9.9.9-1", Severity.HIGH),),
    scanned_at=UPDATED,
    steps=(
        BuildStep("", "bootstrap", "bootstrap", "mmdebstrap", "Success", 1, 12.5),
        BuildStep("site", "build", "index", "ExecuteBash", "Failed", 3, 0.25, "exit code 1: no"),
    ),
    distributed=(
        Distributed(
            "127.0.0.1:5055/fleet/web",
            ("1.2.3-4", "latest"),
            "sha256:" + "04" * 32,
            False,
            "/etc/patchwarden/auth.json",
        ),
        Distributed("registry.example/web", ("1.2.3-4",), "sha256:" + "04" * 32),
    ),
    labels=(("org.example.team", "platform"), ("org.opencontainers.image.title", "web-base")),
    history=(
        StatusChange(CREATED, ImageStatus.PENDING, "", "alice"),
        StatusChange(UPDATED, ImageStatus.FAILED, "scan gate: …", "alice"),
    ),
)


def test_every_field_of_the_full_record_differs_from_the_default() -> None:
    """The round trip below then proves each field is carried."""
    same = [
        f.name for f in fields(ImageRecord) if getattr(FULL, f.name) == getattr(DEFAULT, f.name)
    ]
    assert same == []


def test_json_round_trip_of_a_full_record() -> None:
    data = to_json(FULL)
    assert from_json(data) == FULL
    # through text too, as the catalog and ``image describe -f json`` carry it
    assert from_json(json.loads(json.dumps(data))) == FULL


def test_json_form() -> None:
    data = to_json(FULL)
    assert list(data) == [
        "name", "version", "status", "reason", "dateCreated", "dateUpdated", "pipeline",
        "parent", "parentDigest", "parentImage", "trigger", "digest", "packageDigest",
        "packageCount", "layout", "tag", "findings", "fixes", "os", "packages", "lastScanned",
        "labels", "distributed", "steps", "history",
    ]  # fmt: skip
    assert data["parentImage"] == {"name": "base", "version": "1.0.0/2"}
    assert data["trigger"] == "fix for CVE-2099-0002 in zlib1g 1:9.9.9-1 (HIGH)"
    assert data["packages"][1] == {
        "name": "zlib1g", "arch": "amd64", "version": "1:1.2.13.dfsg-1", "sourceName": "zlib",
    }  # fmt: skip
    assert data["fixes"] == [
        {"vulnerabilityId": "CVE-2099-0002", "package": "zlib1g",
         "installedVersion": "1:1.2.13.dfsg-1", "fixedVersion": "1:9.9.9-1", "severity": "HIGH"}
    ]  # fmt: skip
    assert data["os"]["codename"] == "bookworm"
    assert data["version"] == "1.2.3/4"
    assert data["tag"] == "1.2.3-4"
    assert data["status"] == "FAILED"
    assert data["dateCreated"] == "2026-03-01T12:00:00.123456+00:00"
    assert data["dateUpdated"] == "2026-03-01T14:30:00+02:00"
    assert data["findings"] == {"HIGH": 1, "LOW": 7}
    assert data["lastScanned"] == "2026-03-01T14:30:00+02:00"
    assert data["labels"] == {
        "org.example.team": "platform",
        "org.opencontainers.image.title": "web-base",
    }
    assert data["distributed"][0] == {
        "destination": "127.0.0.1:5055/fleet/web",
        "tags": ["1.2.3-4", "latest"],
        "digest": "sha256:" + "04" * 32,
        "tlsVerify": False,
        "credentialsFile": "/etc/patchwarden/auth.json",
    }
    assert data["steps"][1] == {
        "component": "site",
        "phase": "build",
        "step": "index",
        "action": "ExecuteBash",
        "status": "Failed",
        "attempts": 3,
        "durationSeconds": 0.25,
        "error": "exit code 1: no",
    }
    assert data["history"][1] == {
        "at": "2026-03-01T14:30:00+02:00",
        "status": "FAILED",
        "reason": "scan gate: …",
        "actor": "alice",
    }


def test_from_json_fills_the_defaults_of_a_minimal_record() -> None:
    minimal = {
        "name": "x",
        "version": "1.0.0/1",
        "status": "PENDING",
        "dateCreated": "2025-01-01T00:00:00+00:00",
        "dateUpdated": "2025-01-01T00:00:00+00:00",
    }
    assert from_json(minimal) == DEFAULT


def test_durations_are_kept_to_the_millisecond() -> None:
    timed = replace(FULL, steps=(BuildStep("", "pack", "pack", "umoci", "Success", 1, 1.23456),))
    assert from_json(to_json(timed)).steps[0].duration == 1.235


# -- LocalImageCatalog ---------------------------------------------------------------------


def rec(name: str, version: str, status: ImageStatus = ImageStatus.AVAILABLE) -> ImageRecord:
    return ImageRecord(name, ImageVersion.parse(version), status, CREATED, CREATED)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "images" / "catalog.db"


def test_save_and_get(path: Path) -> None:
    catalog = LocalImageCatalog(path)
    catalog.save(FULL)
    assert catalog.get("web-base", "1.2.3/4") == FULL
    assert catalog.get("web-base", "1.2.3/5") is None
    assert catalog.get("web", "1.2.3/4") is None
    # save replaces the record of the same key
    moved = FULL.moved(ImageStatus.CANCELLED, UPDATED, "interrupted", "bob")
    catalog.save(moved)
    assert catalog.get("web-base", "1.2.3/4") == moved
    assert catalog.images() == [moved]
    catalog.close()


def test_the_catalog_file_is_private_and_survives_a_reopen(path: Path) -> None:
    catalog = LocalImageCatalog(path)
    catalog.save(FULL)
    catalog.close()
    assert path.parent.stat().st_mode & 0o777 == 0o700
    again = LocalImageCatalog(path)
    assert again.get("web-base", "1.2.3/4") == FULL
    again.close()


def test_images_are_ordered_by_name_then_version(path: Path) -> None:
    catalog = LocalImageCatalog(path)
    for name, version in [
        ("web", "1.10.0/1"),
        ("api", "2.0.0/1"),
        ("web", "1.2.0/10"),
        ("web", "1.2.0/9"),
        ("web", "1.2.0/2"),
        ("api", "10.0.0/1"),
        ("web", "1.9.0/1"),
    ]:
        catalog.save(rec(name, version))

    assert [f"{r.name} {r.version}" for r in catalog.images()] == [
        "api 2.0.0/1",
        "api 10.0.0/1",
        "web 1.2.0/2",
        "web 1.2.0/9",
        "web 1.2.0/10",
        "web 1.9.0/1",
        "web 1.10.0/1",
    ]
    assert [str(r.version) for r in catalog.images("api")] == ["2.0.0/1", "10.0.0/1"]
    assert catalog.images("nope") == []
    catalog.close()


def test_next_build_is_monotonic_per_name_and_version_across_reopens(path: Path) -> None:
    catalog = LocalImageCatalog(path)
    assert [catalog.next_build("web", "1.0.0") for _ in range(3)] == [1, 2, 3]
    assert catalog.next_build("web", "1.1.0") == 1
    assert catalog.next_build("api", "1.0.0") == 1
    catalog.close()

    reopened = LocalImageCatalog(path)
    assert reopened.next_build("web", "1.0.0") == 4
    assert reopened.next_build("web", "1.1.0") == 2
    assert reopened.next_build("api", "1.0.0") == 2
    reopened.close()


def test_next_build_never_reuses_a_number_whatever_the_records_say(path: Path) -> None:
    catalog = LocalImageCatalog(path)
    assert catalog.next_build("web", "1.0.0") == 1
    catalog.save(rec("web", "1.0.0/1"))
    assert catalog.next_build("web", "1.0.0") == 2
    catalog.save(rec("web", "1.0.0/2").moved(ImageStatus.DELETED, UPDATED, "deleted"))
    catalog.close()
    # even with its records gone from the table, the number is not given again
    with sqlite3.connect(str(path)) as db:
        db.execute("DELETE FROM images")
    db.close()
    reopened = LocalImageCatalog(path)
    assert reopened.images() == []
    assert reopened.next_build("web", "1.0.0") == 3
    reopened.close()


def test_two_catalogs_on_one_file_share_the_numbering(path: Path) -> None:
    one, two = LocalImageCatalog(path), LocalImageCatalog(path)
    assert [one.next_build("web", "1.0.0"), two.next_build("web", "1.0.0")] == [1, 2]
    one.save(rec("web", "1.0.0/1"))
    assert [str(r.version) for r in two.images("web")] == ["1.0.0/1"]
    one.close()
    two.close()


def test_a_catalog_that_cannot_be_opened_is_an_environment_problem(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(EnvironmentProblem) as failed:
        LocalImageCatalog(blocker / "catalog.db")
    assert str(failed.value).startswith(f"cannot open the image catalog {blocker / 'catalog.db'}: ")
