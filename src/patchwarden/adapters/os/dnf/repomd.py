"""Repository metadata on disk: ``repodata/repomd.xml``, the files it lists, and where dnf
keeps its copy of them.

dnf caches each repository in ``<cachedir>/<repoid>-<16 hex digits>/repodata/`` (the hex
digits hash the repository's URL): ``repomd.xml`` plus the files it references, compressed
as published (``.gz``, ``.xz``, ``.bz2`` or ``.zst``).  This module finds them and opens them
as plain byte streams.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from patchwarden.errors import EnvironmentProblem
from patchwarden.ports import Runner

_CACHE_DIR = re.compile(r"^(?P<repoid>.+)-[0-9a-f]{16}$")


@dataclass(frozen=True)
class MetadataFile:
    """One ``<data>`` entry of repomd.xml."""

    type: str
    """``primary``, ``filelists``, ``updateinfo``, ``modules`` …"""
    href: str
    """Location relative to the repository root (``repodata/<sha>-updateinfo.xml.gz``)."""
    checksum: str = ""


def parse_repomd(text: bytes | str, source: str = "repomd.xml") -> dict[str, MetadataFile]:
    """The ``<data>`` entries of a repomd.xml document, by type.

    Raises :class:`EnvironmentProblem` naming ``source`` when it is not repomd XML.
    """
    try:
        root = ElementTree.fromstring(text)
    except (ElementTree.ParseError, LookupError, ValueError) as exc:  # an unknown encoding, UTF-7
        raise EnvironmentProblem(f"corrupt repository metadata {source}: {exc}") from exc
    if root.tag.rsplit("}", 1)[-1] != "repomd":
        raise EnvironmentProblem(f"{source}: not a repomd.xml document")
    found: dict[str, MetadataFile] = {}
    for data in root:
        if data.tag.rsplit("}", 1)[-1] != "data":
            continue
        href = checksum = ""
        for child in data:
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "location":
                href = child.get("href", "")
            elif tag == "checksum":
                checksum = (child.text or "").strip()
        kind = data.get("type", "")
        if kind and href:
            found[kind] = MetadataFile(kind, href, checksum)
    return found


def cached_repo_dir(cachedir: Path, repoid: str) -> Path | None:
    """dnf's cache directory of ``repoid`` (the newest one when the URL changed over time)."""
    best: tuple[float, Path] | None = None
    try:
        entries = list(cachedir.iterdir())
    except OSError:
        return None
    for entry in entries:
        match = _CACHE_DIR.match(entry.name)
        if match is None or match.group("repoid") != repoid:
            continue
        repomd = entry / "repodata/repomd.xml"
        try:
            mtime = repomd.stat().st_mtime
        except OSError:
            continue
        if best is None or mtime > best[0]:
            best = (mtime, entry)
    return best[1] if best else None


def metadata_path(repo_dir: Path, kind: str) -> Path | None:
    """The file of metadata type ``kind`` in a repository (or dnf cache) directory."""
    repomd = repo_dir / "repodata/repomd.xml"
    try:
        text = repomd.read_bytes()
    except OSError:
        return None
    entry = parse_repomd(text, str(repomd)).get(kind)
    if entry is None:
        return None
    for candidate in (repo_dir / entry.href, repo_dir / "repodata" / Path(entry.href).name):
        if candidate.is_file():
            return candidate
    return None


def open_metadata(path: Path, runner: Runner) -> io.BufferedIOBase:
    """``path`` opened for reading, decompressed according to its suffix (``.zst`` through
    the ``zstd`` command run by ``runner``: the standard library has no zstd)."""
    suffix = path.suffix
    try:
        if suffix == ".gz":
            return gzip.open(path, "rb")
        if suffix == ".xz":
            return lzma.open(path, "rb")
        if suffix == ".bz2":
            return bz2.open(path, "rb")
        if suffix == ".zst":
            return io.BytesIO(_unzstd(path, runner))
        return path.open("rb")
    except OSError as exc:
        raise EnvironmentProblem(f"cannot read repository metadata {path}: {exc}") from exc


def _unzstd(path: Path, runner: Runner) -> bytes:
    try:
        result = runner.run(["zstd", "-dcq", str(path)], timeout=300)
    except EnvironmentProblem as exc:
        raise EnvironmentProblem(
            f"{path} is zstd-compressed and the zstd command is not installed"
        ) from exc
    if result.returncode != 0:
        message = result.stderr.strip() or f"zstd exited with {result.returncode}"
        raise EnvironmentProblem(f"corrupt repository metadata {path}: {message}")
    return result.stdout.encode()
