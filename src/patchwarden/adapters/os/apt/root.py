"""Small facts of a Debian-family root that a scan reads besides the package indices."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from patchwarden.adapters.os.apt.conf import get, get_bool
from patchwarden.adapters.os.apt.phasing import Phasing
from patchwarden.adapters.os.apt.policy import Pin, parse_preferences
from patchwarden.errors import PatchwardenError
from patchwarden.ports import Runner


def phasing(
    base: Path, conf: dict[str, str], environ: Mapping[str, str], *, chroot: bool = False
) -> Phasing:
    """apt's phased-update settings for this root (see :class:`.phasing.Phasing`);
    ``chroot``: apt on this machine runs in a chroot (:func:`in_chroot`)."""

    def flag(name: str) -> bool:
        return get_bool(conf, f"APT::Get::{name}", get_bool(conf, f"Update-Manager::{name}"))

    machine_id = get(conf, "APT::Machine-ID").strip()
    if not machine_id:
        try:
            lines = (base / "etc/machine-id").read_text().splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []
        machine_id = lines[0].strip() if lines else ""
    return Phasing(
        machine_id=machine_id,
        legacy_policy=get_bool(conf, "APT::Get::Phase-Policy"),
        always_include=flag("Always-Include-Phased-Updates"),
        never_include=flag("Never-Include-Phased-Updates"),
        reproducible="SOURCE_DATE_EPOCH" in environ,
        chroot=chroot,
    )


def in_chroot(runner: Runner, conf: dict[str, str]) -> bool:
    """Whether apt would consider itself in a chroot: it runs ``ischroot -t`` (exit 0: a
    chroot, or cannot tell) from ``Dir::Bin::ischroot``; a missing program means no."""
    program = get(conf, "Dir::Bin::ischroot") or "/usr/bin/ischroot"
    try:
        return runner.run([program, "-t"]).returncode == 0
    except PatchwardenError:
        return False


def preferences(base: Path) -> list[Pin]:
    """Pins of ``etc/apt/preferences`` and ``preferences.d/*`` (no or ``.pref`` suffix)."""
    paths = [base / "etc/apt/preferences"]
    parts = base / "etc/apt/preferences.d"
    if parts.is_dir():
        paths += sorted(p for p in parts.iterdir() if p.is_file() and p.suffix in ("", ".pref"))
    pins: list[Pin] = []
    for path in paths:
        try:
            pins += parse_preferences(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
    return pins


def foreign_arches(base: Path) -> list[str]:
    """Architectures added with ``dpkg --add-architecture``."""
    try:
        return (base / "var/lib/dpkg/arch").read_text().split()
    except OSError:
        return []


def reboot_required(base: Path) -> tuple[bool, tuple[str, ...]]:
    """``run/reboot-required`` and the packages listed in ``reboot-required.pkgs``."""
    for run_dir in ("run", "var/run"):
        if (base / run_dir / "reboot-required").exists():
            try:
                pkgs = (base / run_dir / "reboot-required.pkgs").read_text().split()
            except OSError:
                pkgs = []
            return True, tuple(dict.fromkeys(pkgs))
    return False, ()


def hostname(root: str) -> str:
    """This host's name for ``/``; ``etc/hostname`` (or the directory name) for other roots."""
    if root == "/":
        return socket.gethostname()
    try:
        return (Path(root) / "etc/hostname").read_text().strip() or Path(root).name
    except OSError:
        return Path(root).name


def last_boot(root: str) -> datetime | None:
    """Boot time of this host (``/proc/stat`` btime); ``None`` for other roots."""
    if root != "/":
        return None
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return datetime.fromtimestamp(int(line.split()[1]), UTC)
    except (OSError, ValueError):
        pass
    return None
