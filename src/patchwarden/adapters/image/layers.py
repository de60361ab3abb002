"""The files a scan needs from an image's layers, read as streams (nothing unpacked).

Each layer is a tar stream (plain, gzip, or zstd with the ``zstandard`` package), applied
in order on top of the ones below it, as a container runtime would:

- a ``.wh.NAME`` entry deletes ``NAME`` (and everything under it) from the layers below;
- ``.wh..wh..opq`` in a directory makes the directory opaque: what the layers below had in
  it is gone (what this layer puts there stays);
- an entry that is not a directory replaces what the layers below had at its path, and
  hides what they had under it (a directory replaced by a file or a symlink);
- whiteouts of a layer never hide that layer's own entries.

Only the files of :data:`WANTED_FILES` and under :data:`WANTED_DIRS` are kept (their bytes
in memory; package databases are small), plus the symlinks on their way (``etc/os-release``
→ ``../usr/lib/os-release``, Fedora's ``var/lib/rpm`` → ``../../usr/lib/sysimage/rpm``),
which :meth:`LayerFiles.read` and :meth:`LayerFiles.listdir` follow inside the image.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, Protocol

from patchwarden.errors import EnvironmentProblem, InputError

WANTED_FILES = frozenset(
    {
        "etc/os-release",
        "usr/lib/os-release",
        "etc/redhat-release",
        "etc/centos-release",
        "etc/system-release",
        "var/lib/dpkg/status",
        "lib/apk/db/installed",
        "usr/lib/apk/db/installed",
    }
)
"""Files a scan reads."""
WANTED_DIRS = ("var/lib/dpkg/status.d", "var/lib/rpm", "usr/lib/sysimage/rpm")
"""Directories whose files (not subdirectories) a scan reads."""


def _ancestors(path: str) -> Iterator[str]:
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        yield path


ON_THE_WAY = frozenset(a for p in (*WANTED_FILES, *WANTED_DIRS) for a in _ancestors(p)) | set(
    WANTED_DIRS
)
"""Directories on the way to a wanted file: a symlink or file there matters too."""

MAX_FILE = 512 << 20
"""Largest wanted file kept (a package database); larger is taken as a corrupt image."""
OPAQUE = ".wh..wh..opq"
WHITEOUT = ".wh."
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def normalize(name: str) -> str:
    """A tar member name as a path relative to the image root (``./etc/x`` → ``etc/x``)."""
    path = posixpath.normpath("/" + name).lstrip("/")
    return "" if path == "." else path


def wanted(path: str) -> bool:
    """Whether the scan keeps the file at ``path``."""
    if path in WANTED_FILES:
        return True
    parent = path.rsplit("/", 1)[0] if "/" in path else ""
    return parent in WANTED_DIRS


class Readable(Protocol):
    """What a blob is read through: a file, a tar member, an HTTP body."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Link:
    """A symlink kept on the way to a wanted file."""

    target: str


Entry = bytes | Link


class LayerFiles:
    """The wanted files of the image as its layers build it up, one layer at a time."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def apply(self, members: Iterator[tuple[tarfile.TarInfo, IO[bytes] | None]]) -> None:
        """Put one layer on top (``members``: each tar member with its content reader,
        ``None`` for anything but a regular file), in tar order."""
        hide_all: list[str] = []  # whiteouts and entries that replace: path and below
        hide_below: list[str] = []  # opaque directories: below only
        added: dict[str, Entry] = {}
        for member, content in members:
            path = normalize(member.name)
            if not path:
                continue
            parent, _, base = path.rpartition("/")
            if base == OPAQUE:
                hide_below.append(parent)
                continue
            if base.startswith(WHITEOUT):
                hide_all.append(posixpath.join(parent, base[len(WHITEOUT) :]))
                continue
            keep = wanted(path)
            if not keep and path not in ON_THE_WAY:
                continue
            if member.isdir():
                if isinstance(self.entries.get(path), Link):
                    hide_all.append(path)  # a real directory replaces a symlink
                added.pop(path, None)
                continue
            hide_all.append(path)
            if member.issym():
                added[path] = Link(member.linkname)
            elif member.islnk():
                target = normalize(member.linkname)
                found = added.get(target, self.entries.get(target))
                if isinstance(found, bytes):
                    added[path] = found
            elif member.isfile() and keep and content is not None:
                if member.size > MAX_FILE:
                    raise InputError(f"{path}: {member.size >> 20} MiB, too large to be read")
                added[path] = content.read()
        for path in hide_all:
            self._remove(path, itself=True)
        for path in hide_below:
            self._remove(path, itself=False)
        self.entries.update(added)

    def _remove(self, path: str, *, itself: bool) -> None:
        prefix = path + "/" if path else ""
        for name in [n for n in self.entries if n.startswith(prefix) or (itself and n == path)]:
            del self.entries[name]

    def resolve(self, path: str) -> str:
        """``path`` with the symlinks it goes through resolved (inside the image)."""
        parts = path.split("/")
        done: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            current = "/".join([*done, part])
            entry = self.entries.get(current)
            if isinstance(entry, Link) and hops < 40:
                hops += 1
                base = "" if entry.target.startswith("/") else "/".join(done)
                target = normalize(posixpath.join("/" + base, entry.target))
                parts = [*target.split("/"), *parts] if target else parts
                done = []
                continue
            done.append(part)
        return "/".join(done)

    def read(self, path: str) -> bytes | None:
        """The content of the file at ``path`` (symlinks followed), ``None`` if absent."""
        entry = self.entries.get(self.resolve(path))
        return entry if isinstance(entry, bytes) else None

    def listdir(self, path: str) -> dict[str, bytes]:
        """The regular files directly in the directory ``path``: name → content."""
        real = self.resolve(path)
        prefix = real + "/"
        return {
            name[len(prefix) :]: entry
            for name, entry in sorted(self.entries.items())
            if name.startswith(prefix) and "/" not in name[len(prefix) :]
            if isinstance(entry, bytes)
        }


class _Hashing(io.RawIOBase):
    """A reader that hashes what goes through it (a blob's digest, checked at the end)."""

    def __init__(self, raw: Readable) -> None:
        self._raw = raw
        self.hash = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.hash.update(data)
        self.size += n
        return n

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


@contextmanager
def _decompressed(stream: _Hashing, label: str) -> Iterator[IO[bytes]]:
    """``stream`` decompressed when it is zstd (tarfile itself handles gzip, bz2 and xz)."""
    buffered = io.BufferedReader(stream, 1 << 20)
    if buffered.peek(4)[:4] != _ZSTD_MAGIC:
        yield buffered
        return
    try:
        import zstandard  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError:
        raise EnvironmentProblem(
            f"{label} is zstd-compressed: install the zstandard package to read it "
            "(pip install zstandard)"
        ) from None
    with zstandard.ZstdDecompressor().stream_reader(buffered, closefd=False) as reader:
        yield reader


LAYER_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
)
"""What a corrupt or truncated layer raises while it is read."""


def apply_layer(files: LayerFiles, stream: Readable, label: str, digest: str | None = None) -> int:
    """Read the layer ``stream`` (compressed or not) onto ``files``; its digest is checked
    when given.  Returns the layer's size in bytes as stored.  A corrupt layer is an
    :class:`InputError` naming ``label``."""
    hashing = _Hashing(stream)
    try:
        with _decompressed(hashing, label) as plain:
            try:
                tar = tarfile.open(fileobj=plain, mode="r|*")  # noqa: SIM115 (with below)
            except TypeError:  # tarfile's stream reader on a gzip header cut short: ord(b"")
                raise InputError(f"{label}: not a readable layer (truncated gzip header)") from None
            with tar:
                files.apply(_members(tar))
            hashing.drain()
    except (EnvironmentProblem, InputError) as exc:
        if isinstance(exc, InputError) and not str(exc).startswith(label):
            raise InputError(f"{label}: {exc}") from None
        raise
    except LAYER_ERRORS as exc:
        if _is_zstd_error(exc):
            raise InputError(f"{label}: corrupt zstd data ({exc})") from None
        raise InputError(f"{label}: not a readable layer (corrupt or truncated: {exc})") from None
    except Exception as exc:
        if _is_zstd_error(exc):
            raise InputError(f"{label}: corrupt zstd data ({exc})") from None
        raise
    if digest is not None and digest.startswith("sha256:"):
        got = "sha256:" + hashing.hash.hexdigest()
        if got != digest:
            raise InputError(f"{label}: content does not match its digest (got {got})")
    return hashing.size


def _is_zstd_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("zstandard")


def _members(tar: tarfile.TarFile) -> Iterator[tuple[tarfile.TarInfo, IO[bytes] | None]]:
    for member in tar:
        content = (
            tar.extractfile(member) if member.isfile() and wanted(normalize(member.name)) else None
        )
        yield member, content
