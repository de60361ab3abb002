"""The feed registry, raw-file classification, settings and the staleness warning."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from patchwarden import settings
from patchwarden.adapters.feeds import FEEDS, FeedSpec, classify
from patchwarden.core.vuln import Advisory
from patchwarden.errors import InputError
from patchwarden.pipeline.dbupdate import format_age, staleness_warning
from patchwarden.ports import Feed, FeedStatus

from .data import DATA

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_registry_names_and_real_https_urls() -> None:
    assert set(FEEDS) == {
        "debian-tracker",
        "osv-debian",
        "osv-ubuntu",
        "osv-alpine",
        "osv-rocky",
        "osv-alma",
        "osv-suse",
        "osv-opensuse",
        "alpine-secdb",
        "alas",
        "cisa-kev",
        "epss",
        "nvd",
        "redhat-csaf",
    }
    assert [n for n, spec in FEEDS.items() if not spec.default] == [
        "osv-suse",
        "osv-opensuse",
        "nvd",
        "redhat-csaf",
    ]
    assert FEEDS["osv-suse"].urls == (
        "https://osv-vulnerabilities.storage.googleapis.com/SUSE/all.zip",
    )
    assert FEEDS["cisa-kev"].urls == (
        "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json",
    )
    assert FEEDS["epss"].urls[0].endswith("/epss_scores-current.csv.gz")
    assert FEEDS["debian-tracker"].urls == (
        "https://security-tracker.debian.org/tracker/data/json",
    )
    assert FEEDS["osv-ubuntu"].urls == (
        "https://osv-vulnerabilities.storage.googleapis.com/Ubuntu/all.zip",
    )
    assert FEEDS["osv-rocky"].urls[0].endswith("/Rocky%20Linux/all.zip")
    assert "https://secdb.alpinelinux.org/v3.20/main.json" in FEEDS["alpine-secdb"].urls
    for name, spec in FEEDS.items():
        assert spec.name == name and spec.urls
        assert all(u.startswith("https://") for u in spec.urls)


def test_a_spec_is_a_feed_and_can_move() -> None:
    spec: Feed = FEEDS["alpine-secdb"]
    moved = FEEDS["alpine-secdb"].with_urls(("https://mirror.example/v3.11/main.json",))
    assert isinstance(moved, FeedSpec) and moved.urls == ("https://mirror.example/v3.11/main.json",)
    assert spec.urls != moved.urls
    (adv, *_) = moved.parse(DATA / "alpine-secdb" / "v3.15-main.yaml", print)
    assert adv.ecosystem == "Alpine:v3.15"


def test_classify_raw_files(tmp_path: Path) -> None:
    assert classify(DATA / "debian-tracker" / "tracker-vunnel.json") == "debian-tracker"
    assert classify(DATA / "alpine-secdb" / "v3.15-main.json") == "alpine-secdb"
    assert classify(DATA / "alpine-secdb" / "v3.15-main.yaml") == "alpine-secdb"
    assert classify(DATA / "osv" / "USN-5614-1.json") == "osv-ubuntu"
    assert classify(DATA / "osv" / "ALSA-2023_4520.json") == "osv-alma"
    assert classify(DATA / "osv" / "DLA-3623-1.json") == "osv-debian"  # by its id: no affected
    dump = tmp_path / "all.zip"
    with zipfile.ZipFile(dump, "w") as archive:
        archive.write(DATA / "osv" / "DSA-3029-1.json", "DSA-3029-1.json")
    assert classify(dump) == "osv-debian"
    (tmp_path / "notes.txt").write_text("hello")
    assert classify(tmp_path / "notes.txt") is None
    (tmp_path / "list.json").write_text("[1, 2]")
    assert classify(tmp_path / "list.json") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3d", timedelta(days=3)), ("72h", timedelta(hours=72)), ("90m", timedelta(minutes=90)),
     ("2", timedelta(days=2)), ("1w", timedelta(weeks=1)), ("0.5d", timedelta(hours=12))],
)  # fmt: skip
def test_parse_age(text: str, expected: timedelta) -> None:
    assert settings.parse_age(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "-1d", "0"])
def test_parse_age_rejects(text: str) -> None:
    with pytest.raises(InputError):
        settings.parse_age(text)


def test_sizes_and_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert settings.parse_size("1G") == settings.parse_size("1GiB") == 1 << 30
    assert settings.parse_size("500M") == 500 << 20
    assert settings.parse_size("1024") == 1024
    with pytest.raises(InputError):
        settings.parse_size("big")
    monkeypatch.setenv("PATCHWARDEN_HOME", str(tmp_path))
    monkeypatch.delenv("PATCHWARDEN_DB_MAX_AGE", raising=False)
    monkeypatch.delenv("PATCHWARDEN_DB_MAX_DOWNLOAD", raising=False)
    assert settings.vulndb_path() == tmp_path / "vulndb.sqlite"
    assert settings.vulndb_max_age() == timedelta(days=3)
    assert settings.vulndb_max_download() == 1 << 30
    monkeypatch.setenv("PATCHWARDEN_DB_MAX_AGE", "12h")
    monkeypatch.setenv("PATCHWARDEN_DB_MAX_DOWNLOAD", "10M")
    assert settings.vulndb_max_age() == timedelta(hours=12)
    assert settings.vulndb_max_download() == 10 << 20


class FakeStore:
    def __init__(self, *feeds: FeedStatus) -> None:
        self._feeds = list(feeds)

    def advisories(self, ecosystem: str, packages: Iterable[str]) -> list[Advisory]:
        return []

    def feeds(self) -> list[FeedStatus]:
        return self._feeds


def test_staleness_warning() -> None:
    limit = timedelta(days=3)
    assert "empty" in (staleness_warning(FakeStore(), NOW, limit) or "")
    fresh = FeedStatus("debian-tracker", NOW - timedelta(days=2, hours=23), 10)
    assert staleness_warning(FakeStore(fresh), NOW, limit) is None
    old = FeedStatus("osv-debian", NOW - timedelta(days=4, hours=2), 5)
    warning = staleness_warning(FakeStore(fresh, old), NOW, limit)
    assert warning == (
        "the vulnerability database is stale: feed osv-debian was updated 4d 2h ago "
        "(limit 3d): run `patchwarden db update`"
    )
    assert "never updated" in (
        staleness_warning(FakeStore(FeedStatus("x", None, 0)), NOW, limit) or ""
    )


def test_format_age() -> None:
    assert format_age(timedelta(days=3)) == "3d"
    assert format_age(timedelta(hours=5, minutes=10)) == "5h 10m"
    assert format_age(timedelta(minutes=12, seconds=40)) == "12m"
    assert format_age(timedelta(seconds=-5)) == "0m"
