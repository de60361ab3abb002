"""Turning what rpm, dnf and updateinfo say into :class:`Package` facts; reboot facts.

- :func:`package`: one version, with the facts of the notices whose pkglist names its exact
  NEVRA (merged by :func:`~.updateinfo.notice_facts`); a version no notice covers has
  ``update_notice`` false, no classification and no release date (1970 for the baseline).
- :func:`slot`: the installed (name, arch) an update belongs to.
- :data:`NEED_REBOOT`, :func:`boot_time`, :func:`needing_reboot`,
  :func:`extra_reboot_names`: dnf needs-restarting's reboot hint.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

from patchwarden.adapters.os.dnf import rpmdb
from patchwarden.adapters.os.dnf.updateinfo import Nevra, Notice, NoticeFacts, notice_facts
from patchwarden.core.model import Origin, Package

NEED_REBOOT = (
    "kernel",
    "kernel-core",
    "kernel-rt",
    "glibc",
    "linux-firmware",
    "systemd",
    "dbus",
    "dbus-broker",
    "dbus-daemon",
    "microcode_ctl",
)
"""dnf needs-restarting's list (dnf-plugins-core): one of these installed since boot means a
reboot (matched by what packages provide, as dnf does, so ``kernel-core`` counts too)."""

NoticeIndex = dict[Nevra, list[Notice]]


def package(
    name: str,
    slot_arch: str,
    nevra: tuple[int, str, str, str],
    sourcerpm: str,
    repoid: str,
    notices: NoticeIndex,
) -> Package:
    """One version (``nevra`` = epoch, version, release, real arch) reported under
    ``slot_arch``, with the facts of the notices covering exactly that NEVRA."""
    epoch, version, release, arch = nevra
    facts = notice_facts(notices.get((name, epoch, version, release, arch), ()))
    return package_with(name, slot_arch, nevra, sourcerpm, repoid, facts)


def package_with(
    name: str,
    slot_arch: str,
    nevra: tuple[int, str, str, str],
    sourcerpm: str,
    repoid: str,
    facts: NoticeFacts | None,
) -> Package:
    """One version with the merged facts of the advisories covering it (dnf's notices,
    zypper's patches); ``None``: no advisory covers it."""
    epoch, version, release, _arch = nevra
    full = rpmdb.evr(epoch, version, release)
    src, src_version = rpmdb.source_of(sourcerpm, epoch)
    return Package(
        name=name,
        arch=slot_arch,
        version=full,
        source_name=src or name,
        source_version=src_version or full,
        repository=repoid,
        origins=(Origin(archive=repoid),) if repoid else (),
        classification=facts.classification if facts else "",
        severity=facts.severity if facts else "",
        update_notice=facts is not None,
        release_date=facts.release_date if facts else None,
        advisory_ids=facts.advisory_ids if facts else (),
        cve_ids=facts.cve_ids if facts else (),
        bugzilla_ids=facts.bugzilla_ids if facts else (),
    )


def slot(name: str, arch: str, arches: dict[str, set[str]]) -> str:
    """The installed (name, arch) an update belongs to: its own, or — when a package moves
    between ``noarch`` and one architecture — the one architecture installed."""
    have = arches.get(name, set())
    if arch in have or len(have) != 1:
        return arch
    (only,) = have
    return only if "noarch" in (arch, only) else arch


def boot_time() -> datetime | None:
    """This host's boot as dnf needs-restarting takes it: the later of the kernel's
    ``btime`` and the start of PID 1 (a container's own start)."""
    times: list[float] = []
    with contextlib.suppress(OSError):
        times.append(Path("/proc/1").stat().st_mtime)
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                times.append(float(line.split()[1]))
    except (OSError, ValueError, IndexError):
        pass
    return datetime.fromtimestamp(max(times), UTC) if times else None


def needing_reboot(installed_at: dict[str, int], boot: datetime) -> tuple[str, ...]:
    """The packages of ``installed_at`` ({name: INSTALLTIME}) installed after ``boot``."""
    return tuple(sorted(n for n, t in installed_at.items() if t > boot.timestamp()))


def extra_reboot_names(root: Path) -> set[str]:
    """Names listed in the root's ``etc/dnf/plugins/needs-restarting.d/*.conf`` (one per
    line, as dnf reads them)."""
    folder = root / "etc/dnf/plugins/needs-restarting.d"
    names: set[str] = set()
    for path in sorted(folder.glob("*.conf")) if folder.is_dir() else []:
        try:
            names.update(ln.strip() for ln in path.read_text().splitlines() if ln.strip())
        except OSError:
            continue
    return names
