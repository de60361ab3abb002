"""Fast reading of dpkg/apt control-file indices (deb822 paragraphs), compressed or not.

apt stores its lists plain or compressed (``Acquire::GzipIndexes`` gives ``.lz4`` on Debian
images, ``.gz``/``.xz`` elsewhere).  Parsing is the hot path of a scan, so this module keeps to
bytes operations and parses only the paragraphs a caller asks for.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from collections.abc import Collection, Iterator
from pathlib import Path

from patchwarden.errors import AdapterError

COMPRESSED_SUFFIXES = (".lz4", ".gz", ".xz", ".bz2", ".zst")


def read_index(path: Path) -> bytes:
    """The decompressed content of an index file, chosen by its suffix."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AdapterError(f"cannot read {path}: {exc.strerror}") from exc
    suffix = path.suffix
    try:
        if suffix == ".lz4":
            import lz4.frame

            data: bytes = lz4.frame.decompress(raw)
            return data
        if suffix == ".gz":
            return gzip.decompress(raw)
        if suffix == ".xz":
            return lzma.decompress(raw)
        if suffix == ".bz2":
            return bz2.decompress(raw)
        if suffix == ".zst":
            raise AdapterError(f"{path}: zstd-compressed indices are not supported yet")
    except (OSError, EOFError, lzma.LZMAError, RuntimeError) as exc:
        raise AdapterError(f"{path}: corrupt {suffix[1:]} data ({exc})") from exc
    return raw


def parse_paragraph(block: bytes) -> dict[str, str]:
    """Parse one deb822 paragraph into a dict (continuation lines joined with newlines)."""
    fields: dict[str, str] = {}
    key = ""
    for line in block.decode("utf-8", "replace").split("\n"):
        if not line:
            continue
        if line[0] in " \t":
            if key:
                fields[key] += "\n" + line[1:]
            continue
        if line[0] == "#":
            continue
        key, sep, value = line.partition(":")
        if not sep:
            key = ""
            continue
        fields[key] = value.strip()
    return fields


def iter_paragraphs(data: bytes, names: Collection[str] | None = None) -> Iterator[dict[str, str]]:
    """Paragraphs of ``data``; with ``names``, only those whose ``Package`` is in it.

    The name test looks at the first line only, so skipped paragraphs cost one slice.
    """
    for block in data.split(b"\n\n"):
        block = block.strip(b"\n")
        if not block:
            continue
        if names is not None:
            if not block.startswith(b"Package:"):
                fields = parse_paragraph(block)
                if fields.get("Package") in names:
                    yield fields
                continue
            end = block.find(b"\n")
            first = block[8:end] if end >= 0 else block[8:]
            if first.strip().decode("utf-8", "replace") not in names:
                continue
        yield parse_paragraph(block)


def strip_signature(text: str) -> str:
    """The signed content of a clear-signed ``InRelease`` file (plain text passes through)."""
    if not text.startswith("-----BEGIN PGP SIGNED MESSAGE-----"):
        return text
    body = text.split("\n\n", 1)[1] if "\n\n" in text else ""
    return body.split("\n-----BEGIN PGP SIGNATURE-----", 1)[0]
