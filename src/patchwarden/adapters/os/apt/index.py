"""Fast reading of dpkg/apt control-file indices (deb822 paragraphs), compressed or not.

apt stores its lists plain or compressed (``Acquire::GzipIndexes`` gives ``.lz4`` on Debian
images, ``.gz``/``.xz`` elsewhere).  Parsing is the hot path of a scan, so this module keeps to
bytes operations and parses only the paragraphs a caller asks for.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from patchwarden.errors import AdapterError

COMPRESSED_SUFFIXES = (".lz4", ".gz", ".xz", ".bz2", ".zst")


_CHUNK = 1 << 20


class _Plain:
    def decompress(self, data: bytes) -> bytes:
        return data


def _decompressor(path: Path) -> Any:
    suffix = path.suffix
    if suffix == ".lz4":
        import lz4.frame

        return lz4.frame.LZ4FrameDecompressor()
    if suffix == ".gz":
        return zlib.decompressobj(wbits=31)
    if suffix == ".xz":
        return lzma.LZMADecompressor()
    if suffix == ".bz2":
        return bz2.BZ2Decompressor()
    if suffix == ".zst":
        raise AdapterError(f"{path}: zstd-compressed indices are not supported yet")
    return _Plain()


def iter_chunks(path: Path) -> Iterator[bytes]:
    """The decompressed content of an index file in chunks (bounded memory)."""
    dec = _decompressor(path)
    try:
        with path.open("rb") as fh:
            while block := fh.read(_CHUNK):
                out = dec.decompress(block)
                if out:
                    yield out
    except OSError as exc:
        if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
            raise AdapterError(f"cannot read {path}: {exc.strerror}") from exc
        raise AdapterError(f"{path}: corrupt {path.suffix[1:]} data ({exc})") from exc
    except (EOFError, lzma.LZMAError, zlib.error, RuntimeError) as exc:
        raise AdapterError(f"{path}: corrupt {path.suffix[1:]} data ({exc})") from exc
    if not getattr(dec, "eof", True):
        raise AdapterError(f"{path}: corrupt {path.suffix[1:]} data (truncated)")


def read_index(path: Path) -> bytes:
    """The whole decompressed content of an index file (for small files: status, Release)."""
    return b"".join(iter_chunks(path))


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

    Skipped paragraphs cost two ``find`` calls and no copy.
    """
    wanted = None if names is None else {n.encode() for n in names}
    pos, size = 0, len(data)
    while pos < size:
        end = data.find(b"\n\n", pos)
        if end < 0:
            end = size
        if end > pos and (wanted is None or _first_package(data, pos, end) in wanted):
            block = data[pos:end].strip(b"\n")
            if block:
                yield parse_paragraph(block)
        pos = end + 2
        while pos < size and data[pos] == 10:  # extra blank lines
            pos += 1


def _first_package(data: bytes, pos: int, end: int) -> bytes | None:
    while pos < end and data[pos] == 10:
        pos += 1
    if data.startswith(b"Package:", pos):
        nl = data.find(b"\n", pos, end)
        return data[pos + 8 : nl if nl >= 0 else end].strip()
    # Package is not the first field (hand-written files): look for it inside the block
    at = data.find(b"\nPackage:", pos, end)
    if at < 0:
        return None
    nl = data.find(b"\n", at + 1, end)
    return data[at + 9 : nl if nl >= 0 else end].strip()


def iter_index(path: Path, names: Collection[str] | None = None) -> Iterator[dict[str, str]]:
    """:func:`iter_paragraphs` over a (compressed) file, streaming: memory stays at a few MB
    however large the index is."""
    tail = b""
    for chunk in iter_chunks(path):
        buf = tail + chunk if tail else chunk
        cut = buf.rfind(b"\n\n")
        if cut < 0:
            tail = buf
            continue
        yield from iter_paragraphs(buf[:cut], names)
        tail = buf[cut + 2 :]
    if tail.strip():
        yield from iter_paragraphs(tail, names)


def strip_signature(text: str) -> str:
    """The signed content of a clear-signed ``InRelease`` file (plain text passes through)."""
    if not text.startswith("-----BEGIN PGP SIGNED MESSAGE-----"):
        return text
    body = text.split("\n\n", 1)[1] if "\n\n" in text else ""
    return body.split("\n-----BEGIN PGP SIGNATURE-----", 1)[0]
