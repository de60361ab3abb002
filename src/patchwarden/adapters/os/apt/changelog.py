"""Debian changelogs inside .debs: dates and CVE ids (no network: ``apt-get changelog`` needs one).

A .deb is an ``ar`` archive whose ``data.tar.*`` member holds ``usr/share/doc/<pkg>/
changelog.Debian[.<arch>].gz``.  xz/gz/bz2/plain data members are streamed in-process (only
the doc files are kept); anything else (zstd on newer Ubuntu) is unpacked by ``dpkg-deb -x``
into a temporary directory.

Caveats handled here: a binNMU ships its own ``changelog.Debian.<arch>.gz`` with only the
binNMU entry, next to the source's ``changelog.Debian.gz``; a binNMU suffix ``+bN`` never
appears in the source changelog, so it is stripped from an installed version before
comparing; ``changelog.gz`` is the Debian changelog only in native packages (elsewhere it is
upstream's); ``-dev``/library packages often ship ``usr/share/doc/<pkg>`` as a symlink to
another binary's doc dir (:attr:`DebDoc.link`;
:class:`patchwarden.adapters.os.apt.changelog_cves.ChangelogReader` follows it).
The changelog parser is our own (python-debian is GPL): ``pkg (version) dists; urgency=u``
headers and `` -- name <mail>  date`` trailers.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from patchwarden.ports import Runner

_TRAILER = re.compile(r"^ -- .+?>\s+(.+)$", re.M)
_HEADER = re.compile(
    r"^([A-Za-z0-9][-+.A-Za-z0-9]*) \(([^()\s]+)\)((?:\s+[-+.A-Za-z0-9/]+)*)\s*;(.*)$"
)
_END_TRAILER = re.compile(r"^ -- (.*?)\s*<([^>]*)>\s+(.*?)\s*$")
_CVE = re.compile(r"\bCVE-(\d{4})-(\d{4,})\b", re.I)
_BINNMU = re.compile(r"\+b\d+$")


@dataclass(frozen=True)
class DebDoc:
    """What a .deb ships in ``usr/share/doc/<pkg>``."""

    files: dict[str, bytes] = field(default_factory=dict)
    """Changelog files by base name (``changelog.Debian.gz``, ``changelog.Debian.amd64.gz``)."""
    link: str = ""
    """Target of ``usr/share/doc/<pkg>`` when it is a symlink (``libfoo1``), else empty."""


def _data_member(deb: Path) -> tuple[str, bytes] | None:
    """(name, bytes) of the ``data.tar*`` member, reading only the ar headers before it."""
    with deb.open("rb") as fh:
        if fh.read(8) != b"!<arch>\n":
            return None
        while len(header := fh.read(60)) == 60:
            name = header[:16].decode("ascii", "replace").strip().rstrip("/")
            try:
                size = int(header[48:58].decode("ascii").strip())
            except ValueError:
                return None
            if name.startswith("data.tar"):
                return name, fh.read(size)
            fh.seek(size + (size % 2), io.SEEK_CUR)
    return None


def read_doc(runner: Runner, deb: Path, package: str) -> DebDoc | None:
    """The changelog files (and doc-dir symlink) of ``package`` in ``deb``; ``None`` when the
    file is not a readable .deb."""
    try:
        member = _data_member(deb)
    except OSError:
        return None
    if member is None:
        return None
    name, data = member
    if name not in ("data.tar", "data.tar.gz", "data.tar.xz", "data.tar.bz2"):
        return _read_doc_unpacked(runner, deb, package)
    doc = f"usr/share/doc/{package}"
    files: dict[str, bytes] = {}
    link = ""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as tar:
            for entry in tar:
                path = entry.name.removeprefix("./").rstrip("/")
                if (files or link) and path != doc and not path.startswith(doc + "/"):
                    break  # a directory's entries are contiguous in a tar: the rest is not doc
                if path == doc and entry.issym():
                    link = entry.linkname.rstrip("/")
                elif path.startswith(doc + "/changelog") and entry.isfile():
                    fh = tar.extractfile(entry)
                    if fh is not None and "/" not in path[len(doc) + 1 :]:
                        files[path[len(doc) + 1 :]] = fh.read()
    except (OSError, EOFError, tarfile.TarError):
        return None
    return DebDoc(files, link)


def _read_doc_unpacked(runner: Runner, deb: Path, package: str) -> DebDoc | None:
    with tempfile.TemporaryDirectory(prefix="patchwarden-deb-") as tmp:
        if runner.run(["dpkg-deb", "-x", str(deb), tmp], timeout=300).returncode != 0:
            return None
        doc = Path(tmp) / "usr/share/doc" / package
        if doc.is_symlink():
            return DebDoc({}, os.readlink(doc).rstrip("/"))
        files: dict[str, bytes] = {}
        if doc.is_dir():
            for p in doc.iterdir():
                if p.name.startswith("changelog") and p.is_file() and not p.is_symlink():
                    files[p.name] = p.read_bytes()
        return DebDoc(files)


def _text(files: dict[str, bytes], base: str) -> str | None:
    data = files.get(base)
    if data is None:
        return None
    try:
        raw = gzip.decompress(data) if base.endswith(".gz") else data
    except (OSError, EOFError):
        return None
    return raw.decode("utf-8", "replace")


def _is_debian(base: str) -> bool:
    return base.removesuffix(".gz").startswith("changelog.Debian")


def changelog_text(runner: Runner, deb: Path, package: str) -> str | None:
    """The newest changelog text of ``package`` shipped in ``deb`` (a binNMU's own
    ``changelog.Debian.<arch>.gz`` first), if it has one."""
    doc = read_doc(runner, deb, package)
    if doc is None:
        return None
    order = sorted(doc.files, key=lambda b: (_rank(b), b))
    return next((t for b in order if (t := _text(doc.files, b)) is not None), None)


def _rank(base: str) -> int:
    """binNMU ``changelog.Debian.<arch>`` (newest) 0, ``changelog.Debian`` 1, others 2."""
    if not _is_debian(base):
        return 2
    return 1 if _is_arch_free(base) else 0


def _is_arch_free(base: str) -> bool:
    return base.removesuffix(".gz") == "changelog.Debian"


def source_changelog(doc: DebDoc) -> str | None:
    """The Debian changelog text of a package: its binNMU entry (if any) followed by the
    source changelog; ``changelog.gz`` only when no ``changelog.Debian*`` exists (native)."""
    debian = sorted((b for b in doc.files if _is_debian(b)), key=_is_arch_free)
    bases = debian or [b for b in doc.files if b.removesuffix(".gz") == "changelog"]
    texts = [t for b in bases if (t := _text(doc.files, b)) is not None]
    return "\n".join(texts) if texts else None


def newest_entry_date(text: str) -> datetime | None:
    """The date on the trailer line of the newest (first) changelog entry."""
    match = _TRAILER.search(text)
    if not match:
        return None
    try:
        return parsedate_to_datetime(match.group(1).strip()).astimezone(UTC)
    except (TypeError, ValueError, OverflowError):
        return None


# -- parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangelogEntry:
    """One block of a Debian changelog."""

    package: str
    """The source package name of the header."""
    version: str
    distributions: tuple[str, ...]
    urgency: str
    changes: str
    """The body between header and trailer, as written."""
    maintainer: str = ""
    date: str = ""
    """The trailer's RFC 2822 date, as written."""

    @property
    def cves(self) -> tuple[str, ...]:
        """CVE ids named in the body, sorted and without duplicates."""
        return cve_ids(self.changes)


def cve_ids(text: str) -> tuple[str, ...]:
    """Every ``CVE-YYYY-N…`` id in ``text`` (upper-cased), sorted, without duplicates."""
    found = {f"CVE-{y}-{n}" for y, n in _CVE.findall(text)}
    return tuple(sorted(found, key=lambda c: (int(c[4:8]), int(c[9:]))))


def parse_changelog(text: str) -> list[ChangelogEntry]:
    """The entries of a Debian changelog, newest first (file order).

    Lenient like ``dpkg-parsechangelog``: text outside entries is skipped, an entry without a
    trailer still counts, and parsing stops at the old-format footer (``Local variables:``,
    ``Old Changelog:``).
    """
    entries: list[ChangelogEntry] = []
    head: re.Match[str] | None = None
    body: list[str] = []

    def close(maintainer: str = "", date: str = "") -> None:
        assert head is not None
        pkg, version, dists, rest = head.groups()
        urgency = re.search(r"urgency=([^,\s]+)", rest, re.I)
        entries.append(
            ChangelogEntry(
                pkg,
                version,
                tuple(dists.split()),
                urgency.group(1).lower() if urgency else "",
                "\n".join(body).strip("\n"),
                maintainer,
                date,
            )
        )

    for line in text.splitlines():
        if line.startswith(("Local variables:", "Old Changelog:")):
            break
        if (match := _HEADER.match(line)) is not None:
            if head is not None:
                close()
            head, body = match, []
        elif head is not None and (trailer := _END_TRAILER.match(line)) is not None:
            close(f"{trailer.group(1)} <{trailer.group(2)}>", trailer.group(3))
            head = None
        elif head is not None:
            body.append(line)
    if head is not None:
        close()
    return entries


def strip_binnmu(version: str) -> str:
    """``1.0-1+b2`` → ``1.0-1``: a binNMU version never appears in the source changelog."""
    return _BINNMU.sub("", version)
