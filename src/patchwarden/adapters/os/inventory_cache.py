"""The on-disk cache of collected inventories, shared by the package-manager adapters.

A collected inventory depends only on files (package database, indices, configuration), so
it is kept (pickled, under Patchwarden's cache directory, one file per root) with a key made
of the size and mtime of every input.  A scan with nothing changed then costs a few ``stat``
calls.  The cache is disposable: an unreadable or stale file is ignored, a failed write only
costs speed.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def stat_key(header: Iterable[str], paths: Iterable[Path]) -> str:
    """A digest of ``header`` and the size/mtime (or absence) of each path."""
    parts = list(header)
    for p in paths:
        try:
            st = p.stat()
            parts.append(f"{p}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{p}:-")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class PickleCache:
    """One pickle file per (adapter, root) under ``cache_dir``; no cache when it is ``None``."""

    def __init__(self, cache_dir: Path | None, kind: str, root: str) -> None:
        digest = hashlib.sha256(root.encode()).hexdigest()[:16]
        self.path = cache_dir / f"{kind}-inventory-{digest}.pickle" if cache_dir else None

    def load(self, key: str) -> Any:
        """What was stored under ``key``; ``None`` when missing, stale or unreadable."""
        if self.path is None:
            return None
        try:
            with self.path.open("rb") as fh:
                stored_key, value = pickle.load(fh)
        except (OSError, pickle.PickleError, EOFError, ValueError, TypeError, AttributeError):
            return None
        return value if stored_key == key else None

    def store(self, key: str, value: object) -> None:
        """Keep ``value`` under ``key`` (written atomically)."""
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            with tmp.open("wb") as fh:
                pickle.dump((key, value), fh, protocol=5)
            tmp.replace(self.path)
        except OSError:
            pass
