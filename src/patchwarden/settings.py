"""Where Patchwarden keeps its files: ``$PATCHWARDEN_HOME``."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """The data directory (not created here)."""
    env = os.environ.get("PATCHWARDEN_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local/share"
    return base / "patchwarden"


def cache_dir() -> Path:
    """Disposable caches (collected inventories)."""
    return data_dir() / "cache"


def state_path() -> Path:
    """The local state database (first-seen dates, install history)."""
    return data_dir() / "state.db"
