"""The on-disk cache of a dnf root's collected inventory.

Collecting runs rpm and dnf and parses updateinfo; the result depends only on files, so it
is kept (pickled, under Patchwarden's cache directory) with a key made of the size and
mtime of every input: the rpm database, os-release, dnf.conf, repo files, dnf variables,
needs-restarting.d, and dnf's metadata cache of the root.  A scan with nothing changed then
costs a few ``stat`` calls.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from patchwarden.adapters.os.dnf.repos import repo_files
from patchwarden.adapters.os.inventory_cache import PickleCache, stat_key
from patchwarden.core.model import Inventory

_FORMAT = 1
_VOLATILE = ("-shm", ".lock", ".pid")
"""Files that change when rpm or dnf merely read (sqlite's shared memory, lock files)."""
Collected = tuple[Inventory, dict[tuple[str, str, str], str]]
"""The inventory and the real architecture of updates reported under another one."""


def cache_key(root: Path, dbpath: str, boot: datetime | None) -> str:
    """A digest of everything :meth:`DnfPackageManager.collect` reads."""
    cachedir = root / "var/cache/dnf"
    paths = [root / "etc/os-release", root / "etc/hostname", root / "etc/dnf/dnf.conf"]
    paths += repo_files(root)
    folders = [root / dbpath.lstrip("/"), cachedir]
    folders += [root / d for d in ("etc/dnf/vars", "etc/yum/vars")]
    folders.append(root / "etc/dnf/plugins/needs-restarting.d")
    if cachedir.is_dir():
        folders += sorted(p / "repodata" for p in cachedir.iterdir() if p.is_dir())
    for folder in folders:
        if folder.is_dir():
            paths += sorted(p for p in folder.iterdir() if not p.name.endswith(_VOLATILE))
    return stat_key([f"{_FORMAT}", str(root), dbpath, str(boot)], paths)


class InventoryCache:
    """The dnf adapter's view of :class:`PickleCache`: (inventory, real arches) per root."""

    def __init__(self, cache_dir: Path | None, root: str) -> None:
        self._cache = PickleCache(cache_dir, "dnf", root)

    def load(self, key: str) -> Collected | None:
        """What was stored under ``key``; ``None`` when missing, stale or unreadable."""
        value = self._cache.load(key)
        if not (isinstance(value, tuple) and len(value) == 2):
            return None
        inventory, real_arch = value
        return (inventory, real_arch) if isinstance(inventory, Inventory) else None

    def store(self, key: str, collected: Collected) -> None:
        """Keep ``collected`` under ``key``."""
        self._cache.store(key, collected)
