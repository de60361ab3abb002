"""Where Patchwarden keeps its files: ``$PATCHWARDEN_HOME``."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from patchwarden.errors import InputError


def data_dir() -> Path:
    """The data directory (not created here)."""
    env = os.environ.get("PATCHWARDEN_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local/share"
    return base / "patchwarden"


def deployments_dir() -> Path:
    """Local deployments (``deploy start``): the run store and each group's runc and nginx
    state."""
    return data_dir() / "deployments"


def cache_dir() -> Path:
    """Disposable caches (collected inventories)."""
    return data_dir() / "cache"


def images_dir() -> Path:
    """The local image store (``image build``): catalog, OCI layouts, build scratch."""
    return data_dir() / "images"


def state_path() -> Path:
    """The local state database (first-seen dates, install history)."""
    return data_dir() / "state.db"


DEFAULT_DB_MAX_AGE = timedelta(days=3)
DEFAULT_DB_MAX_DOWNLOAD = 1 << 30
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZES = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def vulndb_path() -> Path:
    """The local vulnerability database (built by ``patchwarden db update``)."""
    return data_dir() / "vulndb.sqlite"


def parse_age(text: str) -> timedelta:
    """``3d``, ``72h``, ``90m``, ``1w`` or a plain number of days."""
    value = text.strip().lower()
    unit = value[-1:] if value[-1:] in _UNITS else "d"
    number = value[:-1] if value[-1:] in _UNITS else value
    try:
        amount = float(number)
    except ValueError:
        raise InputError(f"not an age: {text!r} (expected e.g. 3d, 72h, 90m)") from None
    if amount <= 0:
        raise InputError(f"not a positive age: {text!r}")
    return timedelta(seconds=amount * _UNITS[unit])


def parse_size(text: str) -> int:
    """``1G``, ``500M``, ``64K``, ``1GiB`` or a plain number of bytes."""
    value = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = value[-1:] if value[-1:] in ("k", "m", "g") else ""
    try:
        amount = float(value[: len(value) - len(unit)])
    except ValueError:
        raise InputError(f"not a size: {text!r} (expected e.g. 1G, 500M)") from None
    if amount <= 0:
        raise InputError(f"not a positive size: {text!r}")
    return int(amount * _SIZES[unit])


def vulndb_max_age() -> timedelta:
    """Age after which the vulnerability database is stale: ``$PATCHWARDEN_DB_MAX_AGE``
    (default 3 days)."""
    env = os.environ.get("PATCHWARDEN_DB_MAX_AGE")
    return parse_age(env) if env else DEFAULT_DB_MAX_AGE


def vulndb_max_download() -> int:
    """Largest feed file ``db update`` accepts: ``$PATCHWARDEN_DB_MAX_DOWNLOAD``
    (default 1 GiB)."""
    env = os.environ.get("PATCHWARDEN_DB_MAX_DOWNLOAD")
    return parse_size(env) if env else DEFAULT_DB_MAX_DOWNLOAD
