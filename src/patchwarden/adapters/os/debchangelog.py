"""Dates from the Debian changelog inside a .deb (no network: ``apt-get changelog`` needs one).

A .deb is an ``ar`` archive whose ``data.tar.*`` member holds ``usr/share/doc/<pkg>/
changelog.Debian[.<arch>].gz``.  xz/gz/bz2/plain data members are read in-process; anything
else (zstd on newer Ubuntu) is unpacked by ``dpkg-deb -x`` into a temporary directory.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import tarfile
import tempfile
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from patchwarden.ports import Runner

_TRAILER = re.compile(r"^ -- .+?>\s+(.+)$", re.M)
_DECOMPRESS = {".xz": lzma.decompress, ".gz": gzip.decompress, ".bz2": bz2.decompress}


def _ar_members(blob: bytes) -> dict[str, bytes]:
    if not blob.startswith(b"!<arch>\n"):
        return {}
    members: dict[str, bytes] = {}
    pos = 8
    while pos + 60 <= len(blob):
        header = blob[pos : pos + 60]
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            return members
        members[name] = blob[pos + 60 : pos + 60 + size]
        pos += 60 + size + (size % 2)
    return members


def _doc_files(names_and_data: dict[str, bytes], package: str) -> str | None:
    prefix = f"usr/share/doc/{package}/"
    found = {
        n[len(prefix) :]: d
        for n, d in names_and_data.items()
        if n.startswith(prefix) and n.rsplit("/", 1)[-1].startswith("changelog")
    }
    # binNMU changelog (changelog.Debian.<arch>.gz) is newer than changelog.Debian.gz
    for base in sorted(found, key=lambda b: (b == "changelog.gz", b == "changelog.Debian.gz")):
        try:
            data = found[base]
            raw = gzip.decompress(data) if base.endswith(".gz") else data
            return raw.decode("utf-8", "replace")
        except (OSError, EOFError):
            continue
    return None


def changelog_text(runner: Runner, deb: Path, package: str) -> str | None:
    """The newest changelog text of ``package`` shipped in ``deb``, if it has one."""
    try:
        members = _ar_members(deb.read_bytes())
    except OSError:
        return None
    data_name = next((n for n in members if n.startswith("data.tar")), "")
    suffix = data_name[len("data.tar") :]
    if data_name and (suffix == "" or suffix in _DECOMPRESS):
        try:
            raw = _DECOMPRESS[suffix](members[data_name]) if suffix else members[data_name]
            files: dict[str, bytes] = {}
            with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
                for member in tar:
                    name = member.name.removeprefix("./")
                    if f"/doc/{package}/changelog" in f"/{name}" and member.isfile():
                        fh = tar.extractfile(member)
                        if fh is not None:
                            files[name] = fh.read()
            return _doc_files(files, package)
        except (OSError, EOFError, lzma.LZMAError, tarfile.TarError):
            return None
    with tempfile.TemporaryDirectory(prefix="patchwarden-deb-") as tmp:
        if runner.run(["dpkg-deb", "-x", str(deb), tmp], timeout=300).returncode != 0:
            return None
        doc = Path(tmp) / "usr/share/doc" / package
        files = {}
        if doc.is_dir() and not doc.is_symlink():
            for p in doc.iterdir():
                if p.name.startswith("changelog") and p.is_file() and not p.is_symlink():
                    files[f"usr/share/doc/{package}/{p.name}"] = p.read_bytes()
        return _doc_files(files, package)


def newest_entry_date(text: str) -> datetime | None:
    """The date on the trailer line of the newest (first) changelog entry."""
    match = _TRAILER.search(text)
    if not match:
        return None
    try:
        return parsedate_to_datetime(match.group(1).strip()).astimezone(UTC)
    except (TypeError, ValueError):
        return None
