"""The repositories a root is configured with, and the update notices dnf has cached for them.

Repository files are the root's own ``etc/yum.repos.d/*.repo`` (INI, one section per repo
id, ``enabled`` defaulting to on); ``skip_if_unavailable`` comes from the repo section or
``[main]`` of ``etc/dnf/dnf.conf``.  Notices are read from the ``updateinfo`` file that
dnf's cache holds for each enabled repository (:mod:`.repomd`, :mod:`.updateinfo`).
"""

from __future__ import annotations

import configparser
import contextlib
from dataclasses import dataclass
from pathlib import Path

from patchwarden.adapters.os.dnf.execute import REPO_DIRS
from patchwarden.adapters.os.dnf.repomd import cached_repo_dir, metadata_path, open_metadata
from patchwarden.adapters.os.dnf.updateinfo import Nevra, Notice, index_notices, iter_notices
from patchwarden.ports import Runner

_TRUE = frozenset({"1", "yes", "true", "on"})


@dataclass(frozen=True)
class RepoConfig:
    """One repository section of a ``.repo`` file."""

    id: str
    name: str
    enabled: bool
    skip_if_unavailable: bool
    path: Path


def _read_ini(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    # a file dnf would refuse too contributes no repository
    with contextlib.suppress(OSError, configparser.Error):
        parser.read_string(path.read_text(encoding="utf-8", errors="replace"), str(path))
    return parser


def _flag(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() in _TRUE


def repo_files(root: Path) -> list[Path]:
    """The ``.repo`` files of the root, in dnf's order."""
    files: list[Path] = []
    for folder in REPO_DIRS:
        base = root / folder
        if base.is_dir():
            files.extend(sorted(p for p in base.glob("*.repo") if p.is_file()))
    return files


def repositories(root: Path) -> list[RepoConfig]:
    """Every repository section of the root's repo files (enabled or not)."""
    main = _read_ini(root / "etc/dnf/dnf.conf")
    skip_default = _flag(main.get("main", "skip_if_unavailable", fallback=None), False)
    repos: dict[str, RepoConfig] = {}
    for path in repo_files(root):
        ini = _read_ini(path)
        for section in ini.sections():
            if section == "main" or section in repos:
                continue
            get = ini[section].get
            repos[section] = RepoConfig(
                id=section,
                name=get("name", section) or section,
                enabled=_flag(get("enabled"), True),
                skip_if_unavailable=_flag(get("skip_if_unavailable"), skip_default),
                path=path,
            )
    return list(repos.values())


def updateinfo_files(cachedir: Path, repos: list[RepoConfig]) -> list[Path]:
    """The cached updateinfo file of each enabled repository that publishes one."""
    found: list[Path] = []
    for repo in repos:
        if not repo.enabled:
            continue
        folder = cached_repo_dir(cachedir, repo.id)
        path = metadata_path(folder, "updateinfo") if folder is not None else None
        if path is not None:
            found.append(path)
    return found


def load_notices(paths: list[Path], runner: Runner) -> dict[Nevra, list[Notice]]:
    """The notices of every file, indexed by the NEVRAs they cover."""
    notices: list[Notice] = []
    for path in paths:
        with open_metadata(path, runner) as stream:
            notices.extend(iter_notices(stream, str(path)))
    return index_notices(notices)
