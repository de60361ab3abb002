"""The server's blob store: the files node components upload, by SHA-256 of their content.

A blob lives at ``<base>/<h[:2]>/<h>``.  It is written to a temporary file in the same
directory, synced and renamed into place, so a reader never sees half a blob and two
uploads of the same blob at once are harmless (both write the same bytes).  A blob's mtime
is derived from its hash: a cache keyed by file size and mtime (the apt adapter's inventory
cache, apt's own) then sees a different file whenever a path points at other content.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path

from patchwarden.wire import is_sha256

GiB = 1024**3
MAX_BLOB = 1 * GiB
"""The largest decompressed blob accepted."""
_CHUNK = 1024 * 1024
_MTIME_BASE = 10**18
"""2001-09-09 in nanoseconds; a blob's mtime is this plus 52 bits of its hash."""


class BlobRefused(Exception):
    """An upload that is not what it claims (one line)."""


class BlobTooLarge(BlobRefused):
    """The decompressed body passed :data:`MAX_BLOB`."""


def mtime_ns(sha256: str) -> int:
    """The mtime every copy of this blob gets."""
    return _MTIME_BASE + int(sha256[:13], 16)


class BlobStore:
    """Blobs under ``base`` (``settings.data_dir / "blobs"``)."""

    def __init__(self, base: Path, max_size: int | None = None) -> None:
        self.base = Path(base)
        self.max_size = MAX_BLOB if max_size is None else max_size

    def path(self, sha256: str) -> Path:
        """Where the blob ``sha256`` lives (whether or not it is there)."""
        if not is_sha256(sha256):
            raise BlobRefused(f"not a SHA-256 in hex: {sha256[:80]!r}")
        return self.base / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        """Whether the blob is stored."""
        return self.path(sha256).is_file()

    def missing(self, hashes: Iterable[str]) -> list[str]:
        """The distinct ``hashes`` not stored, in the order given."""
        return [h for h in dict.fromkeys(hashes) if not self.has(h)]

    def put_gzip(self, sha256: str, chunks: Iterable[bytes]) -> tuple[int, bool]:
        """Store the gzip-compressed body ``chunks`` as blob ``sha256``: (its decompressed
        size, whether it was created now).  :class:`BlobRefused` when the body is not gzip
        or its content has another hash, :class:`BlobTooLarge` past :attr:`max_size`;
        nothing is stored then.  A blob already stored is not read again."""
        target = self.path(sha256)
        if target.is_file():
            return target.stat().st_size, False
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                size, digest = _inflate(chunks, out.write, self.max_size)
                out.flush()
                os.fsync(out.fileno())
            if digest != sha256:
                raise BlobRefused(f"the body's SHA-256 is {digest}, not {sha256}")
            os.chmod(tmp, 0o444)
            ns = mtime_ns(sha256)
            os.utime(tmp, ns=(ns, ns))
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _sync_dir(target.parent)
        return size, True

    def stored(self) -> Iterator[tuple[str, os.stat_result]]:
        """Every blob with its ``stat`` (no order)."""
        if not self.base.is_dir():
            return
        for shard in self.base.iterdir():
            if not shard.is_dir():
                continue
            for entry in os.scandir(shard):
                if is_sha256(entry.name) and entry.is_file(follow_symlinks=False):
                    yield entry.name, entry.stat(follow_symlinks=False)

    def prune(self, keep: Collection[str], older_than: float, now: float) -> tuple[int, int]:
        """Delete the blobs not in ``keep`` stored more than ``older_than`` seconds before
        ``now`` (epoch seconds), and abandoned uploads as old: (blobs deleted, bytes freed).

        A blob's age is its inode change time (its mtime carries its hash); the grace keeps
        a body a node uploaded a moment ago and has not yet named in facts."""
        deleted = freed = 0
        for digest, st in list(self.stored()):
            if digest in keep or now - st.st_ctime < older_than:
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path(digest))
                deleted += 1
                freed += st.st_size
        for partial in self.base.glob("*/.upload-*"):
            with contextlib.suppress(FileNotFoundError):
                if now - partial.stat().st_ctime >= older_than:
                    partial.unlink()
        return deleted, freed


def _inflate(
    chunks: Iterable[bytes], write: Callable[[bytes], object], limit: int
) -> tuple[int, str]:
    """Decompress gzip members (one or several, like ``gzip -d``) while hashing: the
    decompressed size and SHA-256 in hex."""
    digest = hashlib.sha256()
    size = members = 0
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pending = b""  # the first bytes of a member, until its magic number can be checked
    inside = False
    for chunk in chunks:
        data = pending + chunk
        pending = b""
        while data:
            if not inside:
                if len(data) < 2:
                    pending = data
                    break
                if data[:2] != b"\x1f\x8b":
                    raise BlobRefused("the body is not gzip-compressed")
                inside = True
            try:
                out = inflater.decompress(data, _CHUNK)
            except zlib.error as exc:
                raise BlobRefused(f"the body is not valid gzip: {exc}") from None
            size += len(out)
            if size > limit:
                raise BlobTooLarge(f"the decompressed file is larger than {limit} bytes")
            digest.update(out)
            write(out)
            if inflater.eof:  # another member may follow
                members += 1
                data = inflater.unused_data
                inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                inside = False
            else:
                data = inflater.unconsumed_tail
    if inside or pending or not members:
        raise BlobRefused("the body is not a complete gzip stream")
    return size, digest.hexdigest()


def _sync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
