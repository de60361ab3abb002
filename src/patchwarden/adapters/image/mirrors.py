"""The package indices of a recipe's bootstrap mirrors: what a Debian archive offers now.

A recipe's ``bootstrap.mirrors`` are what mmdebstrap takes: sources.list lines (``deb
[trusted=yes] copy:///srv/repo bookworm main``) or bare URLs (``http://deb.debian.org/debian``:
the bootstrap's suite, component ``main``).  For each line, component and architecture this
reads ``dists/SUITE/COMPONENT/binary-ARCH/Packages`` (``.xz``, ``.gz`` or plain, the first
that exists) with the apt adapter's deb822 reader (:mod:`patchwarden.adapters.os.apt.index`)
and keeps the newest version of each package by dpkg's ordering.

``copy://`` and ``file://`` are local directories; ``http(s)://`` is fetched with the
standard library (a timeout, a size limit).  An index that is missing, unreachable or
corrupt is one warning line in the result, never an exception: staleness is advice, and
the other sources still count.  The flat repository layout is not read.
"""

from __future__ import annotations

import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Collection, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from patchwarden import __version__
from patchwarden.adapters.os.apt.index import iter_index
from patchwarden.core.staleness import OfferedVersions
from patchwarden.core.versions import COMPARATORS
from patchwarden.errors import PatchwardenError

SUFFIXES = (".xz", ".gz", "")
"""The index variants tried, in order."""
MAX_BYTES = 512 << 20
"""The largest index downloaded."""


def parse_mirror(line: str, suite: str) -> tuple[str, str, tuple[str, ...]] | None:
    """``(uri, suite, components)`` of one mirror (``None``: not a binary source, e.g.
    ``deb-src``)."""
    tokens = line.split()
    if not tokens:
        return None
    if tokens[0] in ("deb-src",):
        return None
    if tokens[0] != "deb":
        return tokens[0], suite, ("main",)
    rest = tokens[1:]
    if rest and rest[0].startswith("["):
        while rest and not rest[0].endswith("]"):
            rest = rest[1:]
        rest = rest[1:]
    if not rest:
        return None
    uri = rest[0]
    line_suite = rest[1] if len(rest) > 1 else suite
    components = tuple(rest[2:]) or ("main",)
    return uri, line_suite, components


class MirrorIndex:
    """:class:`~patchwarden.pipeline.image_staleness.PackageSources` over Debian archives."""

    def __init__(self, *, timeout: float = 30.0, max_bytes: int = MAX_BYTES) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes

    def offered(
        self,
        mirrors: Sequence[str],
        suite: str,
        architectures: Sequence[str],
        names: Collection[str] | None = None,
    ) -> OfferedVersions:
        """The newest version of each package (of ``names``) in the mirrors' indices of
        ``architectures`` (``all`` packages come with each)."""
        compare = COMPARATORS["deb"]
        newest: dict[tuple[str, str], str] = {}
        warnings: list[str] = []
        for line in mirrors:
            parsed = parse_mirror(line, suite)
            if parsed is None:
                continue
            uri, line_suite, components = parsed
            for component in components:
                for arch in architectures:
                    where = (
                        f"{uri.rstrip('/')}/dists/{line_suite}/{component}/binary-{arch}/Packages"
                    )
                    try:
                        with self._index(where) as path:
                            for fields in iter_index(path, names):
                                name, version = fields.get("Package"), fields.get("Version")
                                if not name or not version:
                                    continue
                                key = (name, fields.get("Architecture", arch))
                                known = newest.get(key)
                                try:
                                    if known is None or compare(version, known) > 0:
                                        newest[key] = version
                                except PatchwardenError:
                                    continue
                    except PatchwardenError as exc:
                        warnings.append(str(exc))
        return OfferedVersions(newest, tuple(warnings))

    def _index(self, where: str) -> _Index:
        return _Index(self, where)


class _Index:
    """The first variant of an index that exists, as a local file (downloaded to a
    temporary directory for http(s), removed on exit)."""

    def __init__(self, owner: MirrorIndex, where: str) -> None:
        self.owner = owner
        self.where = where
        self.temp: Path | None = None

    def __enter__(self) -> Path:
        parts = urlsplit(self.where)
        if parts.scheme in ("copy", "file"):
            base = Path(unquote(parts.path))
            for suffix in SUFFIXES:
                candidate = base.with_name(base.name + suffix)
                if candidate.is_file():
                    return candidate
            raise PatchwardenError(
                f"no package index {base}{{{','.join(s or '' for s in SUFFIXES)}}}"
            )
        if parts.scheme not in ("http", "https"):
            raise PatchwardenError(f"{self.where}: cannot read a {parts.scheme or 'plain'} source")
        self.temp = Path(tempfile.mkdtemp(prefix="patchwarden-index-"))
        last = ""
        for suffix in SUFFIXES:
            url = self.where + suffix
            target = self.temp / f"Packages{suffix}"
            request = urllib.request.Request(
                url, headers={"User-Agent": f"patchwarden/{__version__}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=self.owner.timeout) as response:
                    size = 0
                    with target.open("wb") as out:
                        while block := response.read(1 << 16):
                            size += len(block)
                            if size > self.owner.max_bytes:
                                raise PatchwardenError(
                                    f"{url}: larger than {self.owner.max_bytes >> 20} MiB"
                                )
                            out.write(block)
                return target
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                reason = getattr(exc, "reason", exc)
                raise PatchwardenError(f"{url}: cannot download ({reason})") from None
        raise PatchwardenError(f"no package index at {self.where}{{.xz,.gz,}} ({last})")

    def __exit__(self, *_: object) -> None:
        if self.temp is not None:
            shutil.rmtree(self.temp, ignore_errors=True)
