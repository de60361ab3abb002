"""The repositories of an Alpine root and where apk keeps the index of each one.

``etc/apk/repositories`` (then ``etc/apk/repositories.d/*.list``, sorted) lists one
repository per line, as apk-tools reads them (``apk_db_add_repository``)::

    https://dl-cdn.alpinelinux.org/alpine/v3.19/main
    https://dl-cdn.alpinelinux.org/alpine/v3.19/community
    # a comment: lines starting with '#' and blank lines are skipped
    @edge https://dl-cdn.alpinelinux.org/alpine/edge/testing

A leading ``@tag`` makes a *tagged* repository: apk installs from it only packages asked for
as ``name@tag``, so its versions are never updates of untagged packages.

apk keeps the downloaded index of a remote repository in its cache directory as
``APKINDEX.<8 hex>.tar.gz`` (``apk_repo_format_cache_index``): the 8 hex digits are the first
4 bytes (``APK_CACHE_CSUM_BYTES``) of the SHA-1 of the repository URL as written after the
tag (``apk_blob_checksum(brepo, apk_checksum_default(), &repo->csum)``).  The cache directory
is ``etc/apk/cache`` when that exists (usually a link to ``/var/cache/apk``), else
``var/cache/apk``.  A local repository (a path, or ``file://``) is read in place:
``<path>/<arch>/APKINDEX.tar.gz`` with the root's ``etc/apk/arch``, taken inside the root.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

REPOSITORIES = "etc/apk/repositories"
REPOSITORIES_D = "etc/apk/repositories.d"
CACHE_DIRS = ("etc/apk/cache", "var/cache/apk")
ARCH_FILE = "etc/apk/arch"


@dataclass(frozen=True)
class ApkRepository:
    """One line of a repositories file."""

    url: str
    """As written, without the tag (what the cache name is computed from)."""
    tag: str = ""
    """``edge`` for ``@edge``; empty for an untagged repository."""
    source: str = ""
    """``file:line`` it was read from."""

    @property
    def name(self) -> str:
        """The repository (``main``, ``community``, ``testing``): the URL's last part."""
        return PurePosixPath(urlsplit(self.url).path.rstrip("/")).name or self.url

    @property
    def branch(self) -> str:
        """The branch (``v3.19``, ``edge``): the part before the repository; may be empty."""
        parts = PurePosixPath(urlsplit(self.url).path.rstrip("/")).parts
        return parts[-2] if len(parts) >= 2 and parts[-2] != "/" else ""

    @property
    def site(self) -> str:
        """The host of a remote repository (empty for a local one)."""
        return urlsplit(self.url).hostname or ""

    @property
    def local(self) -> bool:
        """A path or ``file://`` URL rather than a download."""
        scheme = urlsplit(self.url).scheme
        return scheme in ("", "file")

    @property
    def cache_name(self) -> str:
        """``APKINDEX.<first 4 bytes of SHA-1(url) in hex>.tar.gz``."""
        digest = hashlib.sha1(self.url.encode("utf-8"), usedforsecurity=False).digest()
        return f"APKINDEX.{digest[:4].hex()}.tar.gz"


def repository_files(root: Path) -> list[Path]:
    """The repositories files of the root, in apk's order (present or not)."""
    files = [root / REPOSITORIES]
    folder = root / REPOSITORIES_D
    if folder.is_dir():
        files.extend(sorted(p for p in folder.glob("*.list") if p.is_file()))
    return files


def parse_repositories(text: str, source: str) -> list[ApkRepository]:
    """The repositories of one file (comments, blank lines and duplicates skipped)."""
    found: list[ApkRepository] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tag = ""
        if line.startswith("@"):
            parts = line.split(None, 1)
            tag, line = parts[0][1:], parts[1].strip() if len(parts) > 1 else ""
            if not line:
                continue  # a tag without a repository: apk adds nothing either
        found.append(ApkRepository(line.split()[0], tag, f"{source}:{number}"))
    return found


def repositories(root: Path) -> list[ApkRepository]:
    """Every repository the root is configured with (first occurrence of each URL)."""
    seen: set[str] = set()
    found: list[ApkRepository] = []
    for path in repository_files(root):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for repo in parse_repositories(text, str(path)):
            if repo.url not in seen:
                seen.add(repo.url)
                found.append(repo)
    return found


def inside(root: Path, path: str) -> Path:
    """``path`` of the root (an absolute path is taken inside the root, not the host)."""
    return root / path.lstrip("/")


def cache_dir(root: Path) -> Path:
    """apk's cache directory in the root: ``etc/apk/cache`` when present, else
    ``var/cache/apk``.  An absolute link (``etc/apk/cache -> /var/cache/apk``) is followed
    inside the root."""
    linked = root / CACHE_DIRS[0]
    if linked.is_symlink():
        target = os.readlink(linked)
        resolved = inside(root, target) if target.startswith("/") else linked.parent / target
        if resolved.is_dir():
            return resolved
    elif linked.is_dir():
        return linked
    return root / CACHE_DIRS[1]


def native_arch(root: Path) -> str:
    """The root's apk architecture (``etc/apk/arch``); empty when unknown."""
    try:
        return (root / ARCH_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def index_path(root: Path, repo: ApkRepository) -> Path:
    """Where the root holds the index of ``repo`` (the file may be missing)."""
    if repo.local:
        path = urlsplit(repo.url).path if repo.url.startswith("file:") else repo.url
        return inside(root, path) / (native_arch(root) or "noarch") / "APKINDEX.tar.gz"
    return cache_dir(root) / repo.cache_name
