"""apk's text databases: the installed database and the ``APKINDEX`` of a repository.

Both are the same format (apk-tools ``apk_pkg_write_index_entry`` / ``apk_db_index_read``):
blocks of ``K:value`` lines, one block per package, separated by blank lines::

    C:Q1nlb4n5dD6ee1oAg2zJ1dB6cvn0k=      checksum of the package file
    P:musl                                name
    V:1.2.4_git20230717-r4                version (apk scheme)
    A:x86_64                              architecture
    S:383152                              size of the .apk
    I:622592                              installed size
    T:the musl c library (libc) implementation
    U:https://musl.libc.org/              upstream URL
    L:MIT                                 licence
    o:musl                                origin: the source (aport) the package is built from
    m:Natanael Copa <ncopa@alpinelinux.org>   maintainer
    t:1697036002                          build time (Unix seconds)
    c:0ae3af3d3a8a1a4c8c3d7a5d8b6a6e1f2c3d4e5f   aports commit
    D:so:libc.musl-x86_64.so.1            dependencies
    p:so:libc.musl-x86_64.so.1=1          provides
    r:busybox-initscripts                 replaces (``q:`` its priority)

The installed database (``lib/apk/db/installed``) adds the files of each package after its
header: ``F:`` a directory, ``R:`` a file in it, ``a:``/``M:`` modes, ``Z:`` a file's
checksum.  Keys are single characters and case matters (``t`` build time, ``T``
description).  Unknown keys are kept as they are (apk-tools itself skips them), so a newer
apk's database still parses; only a line that is not ``K:value`` is an error, reported as
``file:line``.  An ``APKINDEX.tar.gz`` is a gzip tar holding ``DESCRIPTION`` and
``APKINDEX`` (and, before them, the ``.SIGN.*`` signature of the index: a separate gzip
member whose tar has no end-of-archive blocks, so the members read as one tar).
"""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from patchwarden.errors import EnvironmentProblem, InputError

MAX_INDEX_BYTES = 256 * 1024 * 1024
"""Refuse an ``APKINDEX`` larger than this (the v3.19 main index is about 2 MB)."""


@dataclass(frozen=True)
class ApkRecord:
    """One package block of an apk database or index."""

    name: str
    version: str
    arch: str = ""
    origin: str = ""
    """``o:``: the source package (aport); empty in hand-made indexes."""
    build_time: datetime | None = None
    """``t:`` (UTC)."""
    maintainer: str = ""
    depends: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    fields: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    """Every single-valued key of the block as written (the last one wins)."""
    where: str = ""
    """``file:line`` of the block's first line."""


def iter_blocks(lines: Iterable[str], source: str) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """(line number of its first line, [(key, value)…]) of each block of ``lines``.

    Raises :class:`InputError` ``source:line: …`` for a line that is not ``K:value``.
    """
    block: list[tuple[str, str]] = []
    start = 0
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            if block:
                yield start, block
                block = []
            continue
        if len(line) < 2 or line[1] != ":" or not line[0].isalnum():
            shown = line if len(line) <= 60 else line[:57] + "..."
            raise InputError(f"{source}:{number}: not a 'K:value' line: {shown!r}")
        if not block:
            start = number
        block.append((line[0], line[2:]))
    if block:
        yield start, block


def record(start: int, pairs: list[tuple[str, str]], source: str) -> ApkRecord:
    """The :class:`ApkRecord` of one block (``P:`` and ``V:`` are required)."""
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in "FRaMZ":  # the files of an installed package: not needed, and many
            continue
        fields[key] = value
    where = f"{source}:{start}"
    name, version = fields.get("P", ""), fields.get("V", "")
    if not name or not version:
        missing = "P: (name)" if not name else "V: (version)"
        raise InputError(f"{where}: package block without {missing}")
    built: datetime | None = None
    if fields.get("t"):
        try:
            built = datetime.fromtimestamp(int(fields["t"]), UTC)
        except (ValueError, OverflowError, OSError):
            raise InputError(f"{where}: {name}: bad build time t:{fields['t']!r}") from None
    return ApkRecord(
        name=name,
        version=version,
        arch=fields.get("A", ""),
        origin=fields.get("o", ""),
        build_time=built,
        maintainer=fields.get("m", ""),
        depends=tuple(fields.get("D", "").split()),
        provides=tuple(fields.get("p", "").split()),
        fields=fields,
        where=where,
    )


def parse(text: str, source: str) -> list[ApkRecord]:
    """Every package block of ``text`` (an installed database or an ``APKINDEX``)."""
    return [record(start, pairs, source) for start, pairs in iter_blocks(text.splitlines(), source)]


def read_installed(path: Path) -> list[ApkRecord]:
    """The packages of an installed database (``lib/apk/db/installed``)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot read ({exc.strerror or exc})") from None
    return parse(text, str(path))


def read_index(path: Path) -> list[ApkRecord]:
    """The packages of an ``APKINDEX.tar.gz`` (the ``APKINDEX`` member of the tar).

    Raises :class:`InputError` ``path: …`` for a file that is not such an archive.
    """
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            member = next((m for m in archive if m.name.lstrip("./") == "APKINDEX"), None)
            if member is None or not member.isfile():
                raise InputError(f"{path}: no APKINDEX in the archive")
            if member.size > MAX_INDEX_BYTES:
                raise InputError(f"{path}: APKINDEX of {member.size} bytes is too large")
            stream = archive.extractfile(member)
            data = stream.read() if stream is not None else b""
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: not a readable APKINDEX.tar.gz ({exc})") from None
    return parse(data.decode("utf-8", errors="replace"), f"{path}:APKINDEX")
