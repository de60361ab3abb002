"""Debian changelogs in .debs: the parser, the CVE extraction and the reader's choices.

.debs are assembled in memory (ar + tar.xz) so these run without dpkg; the real apt path
(downloads into apt's cache, a symlinked -dev doc dir) is in
tests/integration/test_changelog_cves.py.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from patchwarden.adapters.os.apt.changelog import (
    changelog_text,
    cve_ids,
    newest_entry_date,
    parse_changelog,
    read_doc,
    source_changelog,
    strip_binnmu,
)
from patchwarden.adapters.os.apt.changelog_cves import (
    ChangelogReader,
    CveEntries,
    UpdateChangelog,
    changelog_advisories,
    cves_since,
    release_ecosystem,
)
from patchwarden.adapters.runner import FakeRunner
from patchwarden.adapters.state import LocalState
from patchwarden.core.model import OsInfo, Package
from patchwarden.core.versions import COMPARATORS
from patchwarden.core.vuln import AdvisoryStatus

deb_compare = COMPARATORS["deb"]

CHANGELOG = """\
openssl (3.0.22-1~deb12u2) bookworm-security; urgency=high

  * Fix CVE-2026-1003 (heap overflow in the ASN.1 decoder).
  * d/patches/cve-2026-1004.patch: fix a timing side channel.
    Also addresses CVE-2026-1003 in the FIPS provider.

 -- Debian Security Team <team@security.debian.org>  Mon, 12 Oct 2026 10:00:00 +0200

openssl (3.0.20-1~deb12u1) bookworm; urgency=medium

  * New upstream release (point release, no security content).

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Sat, 01 Aug 2026 09:00:00 +0000

openssl (3.0.19-1~deb12u2) bookworm-security; urgency=high

  * CVE-2026-0999, CVE-2025-10000: fixed upstream.

 -- Debian Security Team <team@security.debian.org>  Tue, 02 Jun 2026 08:00:00 +0000
"""


def test_parse_changelog_blocks_newest_first() -> None:
    entries = parse_changelog(CHANGELOG)
    assert [e.version for e in entries] == [
        "3.0.22-1~deb12u2",
        "3.0.20-1~deb12u1",
        "3.0.19-1~deb12u2",
    ]
    first = entries[0]
    assert first.package == "openssl"
    assert first.distributions == ("bookworm-security",)
    assert first.urgency == "high"
    assert first.maintainer == "Debian Security Team <team@security.debian.org>"
    assert first.date == "Mon, 12 Oct 2026 10:00:00 +0200"
    assert first.changes.startswith("  * Fix CVE-2026-1003")
    assert first.cves == ("CVE-2026-1003", "CVE-2026-1004")
    assert entries[1].cves == ()


def test_parse_is_lenient_about_missing_trailers_and_old_footers() -> None:
    text = (
        "garbage before the first entry CVE-2000-0001\n"
        "foo (2.0-1) unstable experimental; urgency=LOW, binary-only=yes\n\n"
        "  * CVE-2026-0002\n"
        "foo (1.0-1) unstable; urgency=low\n\n  * first\n\n"
        " -- A <a@b>  Mon, 01 Jan 2024 00:00:00 +0000\n"
        "Local variables:\nfoo (0.1-1) unstable; urgency=low\n  * CVE-1999-0001\n"
    )
    entries = parse_changelog(text)
    assert [(e.version, e.distributions, e.urgency) for e in entries] == [
        ("2.0-1", ("unstable", "experimental"), "low"),
        ("1.0-1", ("unstable",), "low"),
    ]
    assert entries[0].cves == ("CVE-2026-0002",) and entries[0].date == ""


def test_cve_ids_are_normalised_sorted_and_unique() -> None:
    text = (
        "cve-2026-10000 CVE-2026-9999 CVE-2026-9999 CVE-2026-123 XCVE-2026-1111 CVE-2026-0001.patch"
    )
    assert cve_ids(text) == ("CVE-2026-0001", "CVE-2026-9999", "CVE-2026-10000")


@pytest.mark.parametrize(
    ("version", "stripped"),
    [("1.0-1+b1", "1.0-1"), ("1.10.0-3+b12", "1.10.0-3"), ("2:1.0-1+deb12u1", "2:1.0-1+deb12u1")],
)
def test_strip_binnmu(version: str, stripped: str) -> None:
    assert strip_binnmu(version) == stripped


def test_cves_since_the_installed_version() -> None:
    entries = parse_changelog(CHANGELOG)
    assert cves_since(entries, "3.0.19-1~deb12u2", deb_compare) == (
        ("3.0.22-1~deb12u2", ("CVE-2026-1003", "CVE-2026-1004")),
    )
    older = cves_since(entries, "3.0.19-1~deb12u1", deb_compare)
    assert [v for v, _ in older] == ["3.0.22-1~deb12u2", "3.0.19-1~deb12u2"]
    # a binNMU of the installed version never appears in the changelog: compare without +bN
    assert cves_since(entries, "3.0.19-1~deb12u2+b1", deb_compare) == cves_since(
        entries, "3.0.19-1~deb12u2", deb_compare
    )


def test_cves_since_skips_malformed_entry_versions() -> None:
    text = "foo (1.0_bad) unstable; urgency=low\n\n  * CVE-2026-0001\n"
    assert cves_since(parse_changelog(text), "0.9-1", deb_compare) == ()


# -- .debs assembled in memory -----------------------------------------------------------------


def _tar(files: dict[str, bytes], links: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:xz") as tar:
        for name, target in links.items():
            info = tarfile.TarInfo("./" + name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _ar(members: Sequence[tuple[str, bytes]]) -> bytes:
    out = b"!<arch>\n"
    for name, data in members:
        header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n"
        out += header.encode() + data + (b"\n" if len(data) % 2 else b"")
    return out


def make_deb(
    path: Path, package: str, docs: dict[str, str], *, link: str = "", arch_suffix: str = ""
) -> Path:
    files = {
        f"usr/share/doc/{package}/{name}": gzip.compress(text.encode(), mtime=0)
        for name, text in docs.items()
    }
    files[f"usr/share/{package}/VERSION"] = b"1\n"
    links = {f"usr/share/doc/{package}": link} if link else {}
    path.write_bytes(
        _ar(
            [
                ("debian-binary", b"2.0\n"),
                ("control.tar.xz", _tar({"control": b"Package: x\n"}, {})),
                ("data.tar.xz", _tar(files, links)),
            ]
        )
    )
    return path


def entry(
    pkg: str, version: str, cves: str = "", date: str = "Mon, 01 Jan 2024 00:00:00 +0000"
) -> str:
    body = f"  * Fixes {cves}." if cves else "  * Rebuild."
    return f"{pkg} ({version}) bookworm; urgency=medium\n\n{body}\n\n -- A <a@b>  {date}\n"


def test_binnmu_changelog_first_for_dates_and_both_for_cves(tmp_path: Path) -> None:
    nmu = entry("foo", "1.0-1+deb12u1+b1", date="Tue, 02 Jan 2024 00:00:00 +0000")
    deb = make_deb(
        tmp_path / "foo.deb",
        "foo",
        {
            "changelog.Debian.gz": entry("foo", "1.0-1+deb12u1", "CVE-2026-0001"),
            "changelog.Debian.amd64.gz": nmu,
            "changelog.gz": "upstream: CVE-1999-0001",
        },
    )
    runner = FakeRunner()
    text = changelog_text(runner, deb, "foo")
    assert text is not None and text.startswith("foo (1.0-1+deb12u1+b1)")
    assert newest_entry_date(text) is not None
    doc = read_doc(runner, deb, "foo")
    assert doc is not None
    full = source_changelog(doc)
    assert full is not None
    assert [e.version for e in parse_changelog(full)] == ["1.0-1+deb12u1+b1", "1.0-1+deb12u1"]
    assert "CVE-1999-0001" not in full  # upstream's changelog.gz is not the Debian one
    assert runner.calls == []  # read in-process


def test_native_package_changelog_and_symlinked_doc_dir(tmp_path: Path) -> None:
    native = make_deb(
        tmp_path / "n.deb", "tool", {"changelog.gz": entry("tool", "1.2", "CVE-2026-7777")}
    )
    doc = read_doc(FakeRunner(), native, "tool")
    assert doc is not None
    (only,) = parse_changelog(source_changelog(doc) or "")
    assert (only.version, only.cves) == ("1.2", ("CVE-2026-7777",))
    linked = make_deb(tmp_path / "d.deb", "libfoo-dev", {}, link="libfoo1")
    doc = read_doc(FakeRunner(), linked, "libfoo-dev")
    assert doc is not None and doc.link == "libfoo1" and source_changelog(doc) is None
    (tmp_path / "junk.deb").write_bytes(b"not an ar archive")
    assert read_doc(FakeRunner(), tmp_path / "junk.deb", "x") is None


# -- the reader's choices (no apt: locate/fetch are scripted) ----------------------------------


def pkg(name: str, version: str, source: str = "") -> Package:
    return Package(name=name, arch="amd64", version=version, source_name=source or name)


class Archive:
    """A fake apt cache: .debs appear in ``have`` when ``fetch`` is asked for them."""

    def __init__(self, tmp: Path, available: dict[str, dict[str, str]], links: dict[str, str]):
        self.tmp, self.available, self.links = tmp, available, links
        self.have: dict[str, Path] = {}
        self.fetched: list[list[str]] = []

    def locate(self, p: Package) -> Path | None:
        return self.have.get(p.name)

    def fetch(self, packages: Sequence[Package]) -> None:
        self.fetched.append([p.name for p in packages])
        for p in packages:
            if p.name in self.available:
                path = self.tmp / f"{p.name}.deb"
                make_deb(path, p.name, self.available[p.name], link=self.links.get(p.name, ""))
                self.have[p.name] = path


class MemoryCache:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], CveEntries | None] = {}

    def changelog_cves(self, root: str) -> dict[tuple[str, str, str], CveEntries | None]:
        return dict(self.rows)

    def record_changelog_cves(
        self, root: str, found: dict[tuple[str, str, str], CveEntries | None]
    ) -> None:
        self.rows.update(found)


LOG = (
    entry("libfoo", "1.0-1+deb12u1", "CVE-2026-0001")
    + "\n"
    + entry("libfoo", "1.0-1", "CVE-2025-1")
)


def reader(archive: Archive) -> ChangelogReader:
    return ChangelogReader(
        FakeRunner(), locate=archive.locate, fetch=archive.fetch, compare=deb_compare
    )


def test_one_deb_per_source_prefers_the_source_named_binary(tmp_path: Path) -> None:
    docs = {"changelog.Debian.gz": LOG}
    archive = Archive(tmp_path, {"libfoo": docs, "libfoo1": docs, "libfoo-dev": docs}, {})
    targets = [
        (pkg("libfoo-dev", "1.0-1+deb12u1", "libfoo"), "1.0-1"),
        (pkg("libfoo1", "1.0-1+deb12u1", "libfoo"), "1.0-1"),
        (pkg("libfoo", "1.0-1+deb12u1"), "1.0-1"),
    ]
    results = reader(archive).read(targets, root="/r")
    assert archive.fetched == [["libfoo"]]
    assert {r.name: r.cves for r in results} == dict.fromkeys(
        ("libfoo-dev", "libfoo1", "libfoo"), ("CVE-2026-0001",)
    )


def test_symlinked_doc_dir_follows_the_link_then_caches(tmp_path: Path) -> None:
    archive = Archive(
        tmp_path,
        {"libfoo-dev": {}, "libfoo1": {"changelog.Debian.gz": LOG}},
        {"libfoo-dev": "libfoo1"},
    )
    cache = MemoryCache()
    targets = [(pkg("libfoo-dev", "1.0-1+deb12u1", "libfoo"), "1.0-1")]
    (result,) = reader(archive).read(targets, root="/r", cache=cache)
    assert archive.fetched == [["libfoo-dev"], ["libfoo1"]]
    assert result.found and result.cves == ("CVE-2026-0001",)
    assert cache.rows == {
        ("libfoo-dev", "1.0-1+deb12u1", "1.0-1"): (("1.0-1+deb12u1", ("CVE-2026-0001",)),)
    }
    again = reader(archive).read(targets, root="/r", cache=cache)
    assert again == [result] and len(archive.fetched) == 2


def test_failed_downloads_are_not_remembered_but_changelog_less_debs_are(tmp_path: Path) -> None:
    archive = Archive(tmp_path, {"nodoc": {}}, {})
    cache = MemoryCache()
    targets = [(pkg("gone", "2.0-1"), "1.0-1"), (pkg("nodoc", "2.0-1"), "1.0-1")]
    results = reader(archive).read(targets, root="/r", cache=cache)
    assert [(r.name, r.found) for r in results] == [("gone", False), ("nodoc", False)]
    assert cache.rows == {("nodoc", "2.0-1", "1.0-1"): None}


def test_without_fetch_only_cached_debs_are_read(tmp_path: Path) -> None:
    archive = Archive(tmp_path, {"libfoo": {"changelog.Debian.gz": LOG}}, {})
    plain = ChangelogReader(FakeRunner(), locate=archive.locate, fetch=None, compare=deb_compare)
    (result,) = plain.read([(pkg("libfoo", "1.0-1+deb12u1"), "1.0-1")], root="/r")
    assert not result.found and archive.fetched == []


def test_advisories_name_the_oldest_entry_and_the_source() -> None:
    entries = (
        ("1.0-1+deb12u2", ("CVE-2026-0002", "CVE-2026-0001")),
        ("1.0-1+deb12u1", ("CVE-2026-0001",)),
    )
    results = [
        UpdateChangelog("libfoo1", "amd64", "1.0-1+deb12u2", "1.0-1", "libfoo", entries, True),
        UpdateChangelog("libfoo-dev", "amd64", "1.0-1+deb12u2", "1.0-1", "libfoo", entries, True),
    ]
    advisories = changelog_advisories(results, "Debian:12")
    assert [(a.id, a.package, a.fixed_version) for a in advisories] == [
        ("CVE-2026-0001", "libfoo", "1.0-1+deb12u1"),
        ("CVE-2026-0002", "libfoo", "1.0-1+deb12u2"),
    ]
    assert {(a.source, a.ecosystem, a.status) for a in advisories} == {
        ("changelog", "Debian:12", AdvisoryStatus.FIXED)
    }


@pytest.mark.parametrize(
    ("os_id", "version", "expected"),
    [
        ("debian", "12", "Debian:12"),
        ("ubuntu", "22.04", "Ubuntu:22.04:LTS"),
        ("ubuntu", "23.10", "Ubuntu:23.10"),
    ],
)
def test_release_ecosystem(os_id: str, version: str, expected: str) -> None:
    os_info = OsInfo(os_id, version, "", "", "debian", os_id.upper(), "")
    assert release_ecosystem(os_info) == expected


def test_local_state_remembers_changelog_cves(tmp_path: Path) -> None:
    state = LocalState(tmp_path / "state.db")
    found: dict[tuple[str, str, str], CveEntries | None] = {
        ("jq", "1.6-2.1+deb12u3", "1.6-2.1+deb12u1"): (("1.6-2.1+deb12u3", ("CVE-2026-1",)),),
        ("nodoc", "2.0-1", "1.0-1"): None,
    }
    state.record_changelog_cves("/", found)
    assert state.changelog_cves("/") == found
    assert state.changelog_cves("/other") == {}
    state.close()
