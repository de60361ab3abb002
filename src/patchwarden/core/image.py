"""What an image scan reads from a container image: its identity and its OS packages."""

from __future__ import annotations

from dataclasses import dataclass

from patchwarden.core.model import Inventory, OsInfo


@dataclass(frozen=True)
class ImageFacts:
    """The image a report is about (the report's resource, type ``image``)."""

    ref: str
    """The reference as the user gave it (``docker://host/repo:tag``, ``DIR:tag`` …)."""
    digest: str
    """The manifest digest (``sha256:…``); for a ``docker save`` archive, which keeps no
    manifest, the image id (the config's digest)."""
    platform: str = ""
    """``os/architecture[/variant]`` of the image config (``linux/amd64``)."""
    labels: tuple[tuple[str, str], ...] = ()
    """The config's labels, sorted by key."""
    package_count: int = 0
    """Installed OS packages found (dpkg, rpm or apk)."""
    package_database: str = ""
    """Which package database the packages were read from: ``dpkg``, ``rpm``, ``apk``."""


@dataclass(frozen=True)
class ImageContents:
    """An image read for a scan: its facts, its OS and — when its packages can be assessed —
    the inventory of its installed packages (no updates: an image is judged on its
    vulnerabilities, not against a baseline)."""

    facts: ImageFacts
    os: OsInfo
    inventory: Inventory | None
    """``None`` when the packages cannot be assessed yet (apk: see ``warnings``)."""
    warnings: tuple[str, ...] = ()
