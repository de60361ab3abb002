"""The node bundle: the node component as one zipapp the node's own Python runs.

``patchwarden-node-<version>.pyz`` holds ``__main__.py`` (``patchwarden.node.main.main``),
a ``patchwarden/__init__.py`` of its own (the docstring and ``__version__``) and the
stdlib-only modules the node component imports: ``patchwarden/wire.py``,
``patchwarden/aptcmd.py``, ``patchwarden/dnfcmd.py``, ``patchwarden/apkcmd.py``,
``patchwarden/zyppercmd.py``, ``patchwarden/osnames.py`` and ``patchwarden/node/**.py``,
read from the installed package's source files (never ``.pyc``: the node's Python may be
3.6).

A build is deterministic (sorted entries, 1980-01-01 timestamps, fixed permissions), so the
same sources give the same SHA-256 on every server replica.  :class:`BundleStore` keeps the
bundles a server serves (``<data dir>/bundles``): the server's own version, built at start,
and every other version left from a previous server version or dropped in by an operator —
they stay and are served, which is what makes an agent upgrade reversible.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

import patchwarden

SHEBANG = b"#!/usr/bin/env python3\n"
PREFIX = "patchwarden-node-"
SUFFIX = ".pyz"
VERSION_PATTERN = r"[0-9][0-9A-Za-z.+_-]{0,63}"
"""A version as it may appear in a bundle's file name and URL (no ``/``, no leading dot)."""
VERSION = re.compile(VERSION_PATTERN)
_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16
_BUNDLE_MODE = 0o755
_MAIN = '''\
"""patchwarden-node {version}: the Patchwarden node component (run it with --help)."""

import sys

from patchwarden.node.main import main

sys.exit(main(sys.argv[1:]))
'''


@dataclass(frozen=True)
class Bundle:
    """One bundle file."""

    version: str
    path: Path
    sha256: str
    size: int

    @property
    def file_name(self) -> str:
        """``patchwarden-node-<version>.pyz``."""
        return self.path.name


def file_name(version: str) -> str:
    """``patchwarden-node-<version>.pyz``."""
    return f"{PREFIX}{version}{SUFFIX}"


def valid_version(version: str) -> bool:
    """Whether ``version`` may name a bundle (see :data:`VERSION_PATTERN`)."""
    return VERSION.fullmatch(version) is not None


_PRE_RELEASE = frozenset({"a", "alpha", "b", "beta", "c", "rc", "pre", "preview", "dev"})


def version_key(version: str) -> tuple[tuple[int, int, str], ...]:
    """Numeric dotted order: ``0.10.0`` after ``0.9.1``; a release after its own
    pre-releases and before its post-releases and longer versions
    (``0.2.0rc1`` < ``0.2.0`` < ``0.2.0.post1`` < ``0.2.0.1``)."""
    parts: list[tuple[int, int, str]] = []
    for part in re.findall(r"[0-9]+|[A-Za-z]+", version):
        if part.isdigit():
            parts.append((3, int(part), ""))
        else:
            text = part.lower()
            parts.append((0 if text in _PRE_RELEASE else 2, 0, text))
    parts.append((1, 0, ""))  # the end: after a pre-release tag, before anything else
    return tuple(parts)


def sha256_line(bundle: Bundle) -> str:
    """``<sha256>  patchwarden-node-<v>.pyz`` (what ``sha256sum -c`` reads)."""
    return f"{bundle.sha256}  {bundle.file_name}\n"


# -- building --------------------------------------------------------------------------


def _sources(package: Traversable, prefix: str) -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []
    for entry in package.iterdir():
        name = entry.name
        if entry.is_dir():
            if name != "__pycache__" and not name.startswith("."):
                found += _sources(entry, f"{prefix}{name}/")
        elif name.endswith(".py"):
            found.append((prefix + name, entry.read_bytes()))
    return found


def bundle_files(version: str) -> dict[str, bytes]:
    """Archive name → content of every file of the bundle of ``version``."""
    root = resources.files("patchwarden")
    doc = (patchwarden.__doc__ or "Patchwarden.").strip()
    files = {
        "__main__.py": _MAIN.format(version=version).encode(),
        "patchwarden/__init__.py": f'"""{doc}"""\n\n__version__ = {json.dumps(version)}\n'.encode(),
        "patchwarden/wire.py": (root / "wire.py").read_bytes(),
        "patchwarden/aptcmd.py": (root / "aptcmd.py").read_bytes(),
        "patchwarden/dnfcmd.py": (root / "dnfcmd.py").read_bytes(),
        "patchwarden/apkcmd.py": (root / "apkcmd.py").read_bytes(),
        "patchwarden/zyppercmd.py": (root / "zyppercmd.py").read_bytes(),
        "patchwarden/osnames.py": (root / "osnames.py").read_bytes(),
    }
    files.update(_sources(root / "node", "patchwarden/node/"))
    return files


def bundle_bytes(version: str) -> bytes:
    """The zipapp of ``version``, byte for byte the same for the same sources."""
    out = io.BytesIO()
    out.write(SHEBANG)
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in sorted(bundle_files(version).items()):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, whatever the server runs on
            info.external_attr = _FILE_MODE
            archive.writestr(info, content, compresslevel=9)
    return out.getvalue()


def _write_atomically(path: Path, content: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def build_bundle(dest_dir: Path, version: str | None = None) -> Bundle:
    """Write ``dest_dir/patchwarden-node-<version>.pyz`` (atomically; default version: this
    Patchwarden's) and its ``.sha256`` sidecar."""
    version = version or patchwarden.__version__
    if not valid_version(version):
        raise ValueError(f"not a bundle version: {version!r}")
    content = bundle_bytes(version)
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / file_name(version)
    _write_atomically(path, content, _BUNDLE_MODE)
    bundle = Bundle(version, path, hashlib.sha256(content).hexdigest(), len(content))
    _write_sidecar(bundle)
    return bundle


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _write_sidecar(bundle: Bundle) -> None:
    with contextlib.suppress(OSError):  # only a cache: a read-only directory hashes again
        _write_atomically(_sidecar(bundle.path), sha256_line(bundle).encode(), 0o644)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- the store -------------------------------------------------------------------------


class BundleStore:
    """The bundles of one directory (``<data dir>/bundles``)."""

    def __init__(self, directory: Path, current_version: str | None = None) -> None:
        self.directory = directory
        self.current_version = current_version or patchwarden.__version__
        """The server's own version (what :meth:`ensure_current` builds)."""
        self._hashes: dict[Path, tuple[tuple[int, int, int], str]] = {}

    def _bundle(self, path: Path) -> Bundle | None:
        version = path.name[len(PREFIX) : -len(SUFFIX)]
        if not valid_version(version):
            return None
        try:
            stat = path.stat()
        except OSError:
            return None
        if not path.is_file():
            return None
        key = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
        cached = self._hashes.get(path)
        if cached is not None and cached[0] == key:
            return Bundle(version, path, cached[1], stat.st_size)
        sha = self._sidecar_sha(path, stat.st_mtime_ns)
        bundle = Bundle(version, path, sha or _hash_file(path), stat.st_size)
        if sha is None:
            _write_sidecar(bundle)
        self._hashes[path] = (key, bundle.sha256)
        return bundle

    @staticmethod
    def _sidecar_sha(path: Path, mtime_ns: int) -> str | None:
        """The sidecar's SHA-256 when it is at least as new as the bundle and names it."""
        sidecar = _sidecar(path)
        try:
            if sidecar.stat().st_mtime_ns < mtime_ns:
                return None
            sha, _, name = sidecar.read_text(encoding="ascii").strip().partition("  ")
        except (OSError, UnicodeError):
            return None
        if name.lstrip("*") != path.name or not re.fullmatch(r"[0-9a-f]{64}", sha):
            return None
        return sha

    def list(self) -> list[Bundle]:
        """Every bundle, newest version first."""
        try:
            paths = list(self.directory.glob(f"{PREFIX}*{SUFFIX}"))
        except OSError:
            return []
        found = [b for b in map(self._bundle, paths) if b is not None]
        return sorted(found, key=lambda b: version_key(b.version), reverse=True)

    def versions(self) -> builtins.list[str]:
        """The versions held, newest first."""
        return [b.version for b in self.list()]

    def get(self, version: str) -> Bundle | None:
        """The bundle of ``version`` (None: not held, or not a bundle version)."""
        if not valid_version(version):
            return None
        return self._bundle(self.directory / file_name(version))

    def current(self) -> Bundle | None:
        """The bundle of the server's own version."""
        return self.get(self.current_version)

    def ensure_current(self) -> Bundle:
        """Build the server's own version unless the directory holds it already, byte for
        byte (a bundle of the same version built from other sources is replaced)."""
        content = bundle_bytes(self.current_version)
        sha = hashlib.sha256(content).hexdigest()
        held = self.current()
        if held is not None and held.sha256 == sha and held.size == len(content):
            return held
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / file_name(self.current_version)
        _write_atomically(path, content, _BUNDLE_MODE)
        bundle = Bundle(self.current_version, path, sha, len(content))
        _write_sidecar(bundle)
        stat = path.stat()
        self._hashes[path] = ((stat.st_size, stat.st_mtime_ns, stat.st_ino), sha)
        return bundle


# -- install.sh ------------------------------------------------------------------------

_URL = re.compile(r"https?://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+")
"""A URL of RFC 3986 characters only: no space, quote, backslash or control character."""


def shell_quote(text: str) -> str:
    """``text`` as the inside of a single-quoted POSIX shell word."""
    return text.replace("'", "'\\''")


def install_script(server_url: str, bundle: Bundle) -> str:
    """The installer (``data/install.sh``) for ``bundle`` from ``server_url``;
    :class:`ValueError` when the URL holds characters no script should carry."""
    url = server_url.rstrip("/")
    if not _URL.fullmatch(url):
        raise ValueError(f"not a URL the installer can use: {url!r}")
    if not valid_version(bundle.version) or not re.fullmatch(r"[0-9a-f]{64}", bundle.sha256):
        raise ValueError(f"not a bundle the installer can name: {bundle.version!r}")
    template = (resources.files("patchwarden") / "data" / "install.sh").read_text("utf-8")
    quoted = {  # inside single quotes: only ' needs care (version and sha are [0-9a-z.+_-])
        "'@@SERVER_URL@@'": f"'{shell_quote(url)}'",
        "'@@VERSION@@'": f"'{bundle.version}'",
        "'@@SHA256@@'": f"'{bundle.sha256}'",
    }
    for placeholder, value in quoted.items():
        template = template.replace(placeholder, value)
    # the rest are comments: a URL of RFC 3986 characters holds no newline to escape from one
    return template.replace("@@SERVER_URL@@", url).replace("@@VERSION@@", bundle.version)
