"""The zypper/rpm adapter: inventory, available updates and installs of a SUSE root.

Works on ``/`` or on any root directory (SUSE Linux Enterprise Server, openSUSE Leap).
Installed packages come from the root's rpm database (the dnf adapter's
:mod:`~patchwarden.adapters.os.dnf.rpmdb` reader: SUSE keeps it in ``/usr/lib/sysimage/rpm``,
older releases in ``/var/lib/rpm``); available versions from zypper itself, reading only its
metadata cache (``--no-refresh search --details``: every version newer than an installed
one); their patch facts from ``list-patches --all`` and the updateinfo zypper cached
(:mod:`.patches`).  zypper runs with the options of :mod:`.execute`, so a sandbox or image
root is configured by its own files, exactly as a real host is by ``/etc``.  The collected
inventory is cached on disk, keyed by the files it was read from.
"""

from __future__ import annotations

import configparser
import socket
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from patchwarden import zyppercmd
from patchwarden.adapters.os.dnf import facts as dnf_facts
from patchwarden.adapters.os.dnf import rpmdb
from patchwarden.adapters.os.inventory_cache import PickleCache, stat_key
from patchwarden.adapters.os.osrelease import read_os_info
from patchwarden.adapters.os.zypper import execute as zx
from patchwarden.adapters.os.zypper import patches as zp
from patchwarden.adapters.runner import LocalRunner
from patchwarden.core.model import InstalledPackage, Inventory, OsInfo, Package
from patchwarden.errors import EnvironmentProblem
from patchwarden.ports import InstallOutcome, InstallPlan, Runner
from patchwarden.versions import compare

NEED_REBOOT = (
    "kernel-default",
    "kernel-azure",
    "kernel-rt",
    "kernel-firmware",
    "glibc",
    "systemd",
    "dbus-1",
    "udev",
    "ucode-intel",
    "ucode-amd",
    "installhint(reboot-needed)",
)
"""What libzypp's ``/etc/zypp/needreboot`` lists: one of these installed since boot means
a reboot (matched by what packages provide)."""
_CACHE_FORMAT = 1
_VOLATILE = ("-shm", ".lock", ".pid")

NoticeIndex = dict[tuple[str, int, str, str, str], list[zp.Patch]]


class ZypperPackageManager:
    """:class:`patchwarden.ports.PackageManager` for SUSE (rpm/zypper) roots."""

    scheme = "rpm"

    def __init__(
        self,
        root: str = "/",
        *,
        runner: Runner | None = None,
        cache_dir: str | None = None,
        os_info: OsInfo | None = None,
        last_boot: datetime | None = None,
    ) -> None:
        """``last_boot``: the boot of the machine whose root this is, when it is not this
        host's; ``/`` asks ``zypper needs-rebooting``."""
        self.root = str(Path(root).resolve()) if root != "/" else "/"
        self._base = Path(self.root)
        self._runner = runner or LocalRunner()
        self._cache = PickleCache(Path(cache_dir) if cache_dir else None, "zypper", self.root)
        self._os_info = os_info
        self._last_boot = last_boot

    @property
    def dbpath(self) -> str:
        """The root's rpm database directory (rpm's ``--dbpath``, inside the root)."""
        if not self._base.is_dir():
            raise EnvironmentProblem(f"root {self.root!r} does not exist or is not a directory")
        found = rpmdb.find_dbpath(self._base)
        if found is None:
            places = ", ".join(rpmdb.DB_LOCATIONS)
            raise EnvironmentProblem(f"no rpm database in root {self.root!r} (looked in {places})")
        return found

    def target(self) -> zx.ZypperTarget:
        """How zypper reaches this root (see :mod:`.execute`)."""
        return zx.ZypperTarget(self.root, self.dbpath)

    def _os(self) -> OsInfo:
        if self._os_info is None:
            self._os_info = read_os_info(self.root)
        return self._os_info

    # -- collecting -------------------------------------------------------------------------

    def _cache_key(self, dbpath: str) -> str:
        root = self._base
        cache = root / zx.CACHE_DIR
        paths = [root / "etc/os-release", root / "etc/hostname", root / zx.CONFIG]
        folders = [root / dbpath.lstrip("/"), root / zx.REPO_DIR, root / "etc/zypp/services.d"]
        for sub in ("solv", "raw"):
            if (cache / sub).is_dir():
                folders += sorted(p for p in (cache / sub).iterdir() if p.is_dir())
                folders += sorted(p / "repodata" for p in (cache / sub).iterdir() if p.is_dir())
        for folder in folders:
            if folder.is_dir():
                paths += sorted(p for p in folder.iterdir() if not p.name.endswith(_VOLATILE))
        boot = self._last_boot if self.root != "/" else None
        return stat_key([f"{_CACHE_FORMAT}", self.root, dbpath, str(boot)], paths)

    def collect(self) -> Inventory:
        """Installed packages, every newer version with its patch facts, reboot flag."""
        dbpath = self.dbpath
        key = self._cache_key(dbpath) if self.root != "/" else None
        if key is not None:
            cached = self._cache.load(key)
            if isinstance(cached, Inventory):
                return cached
        inventory = self._collect(dbpath)
        if key is not None:
            self._cache.store(key, inventory)
        return inventory

    def _collect(self, dbpath: str) -> Inventory:
        headers = rpmdb.installed(self._runner, self.root, dbpath)
        target = zx.ZypperTarget(self.root, dbpath)
        self._check_cached()
        available = zx.solvables(self._runner, target)
        patches = [zp.parse_patch(e) for e in zx.list_patches(self._runner, target)]
        shipped = zp.patch_packages(self._base, (p.repository for p in patches), self._runner)
        index = zp.index_patches(patches, shipped)
        arches = _arches(headers)
        installed = tuple(
            InstalledPackage(
                _package(
                    h.name, h.arch, (h.epoch, h.version, h.release, h.arch), "", index, h.sourcerpm
                )
            )
            for h in sorted(headers, key=lambda h: (h.name, h.arch, h.installtime))
        )
        newest: dict[tuple[str, str], str] = {}
        for h in headers:
            old = newest.get((h.name, h.arch))
            if old is None or compare("rpm", h.evr, old) > 0:
                newest[(h.name, h.arch)] = h.evr
        updates: list[Package] = []
        seen: set[tuple[str, str, str]] = set()
        for s in available:
            if s.installed or s.name not in arches:
                continue
            slot = dnf_facts.slot(s.name, s.arch, arches)
            current = newest.get((s.name, slot))
            if current is None or compare("rpm", s.edition, current) <= 0:
                continue
            if (s.name, slot, s.edition) in seen:
                continue  # the same version in two repositories: the first one zypper listed
            seen.add((s.name, slot, s.edition))
            epoch, version, release = rpmdb.split_evr(s.edition)
            updates.append(
                _package(s.name, slot, (epoch, version, release, s.arch), s.repository, index)
            )
        pending = self._reboot_packages(dbpath)
        return Inventory(
            os=self._os(),
            hostname=self._hostname(),
            root=self.root,
            scheme=self.scheme,
            installed=installed,
            updates=tuple(updates),
            reboot_required=bool(pending),
            reboot_packages=pending,
            last_boot=dnf_facts.boot_time() if self.root == "/" else self._last_boot,
        )

    def _check_cached(self) -> None:
        """Every enabled repository of the root has zypper metadata cached."""
        missing: list[str] = []
        for alias, enabled in _repo_aliases(self._base / zx.REPO_DIR):
            if enabled and not (self._base / zx.CACHE_DIR / "solv" / alias / "solv").is_file():
                missing.append(alias)
        if missing:
            raise EnvironmentProblem(
                f"no zypper metadata cached for repository {', '.join(missing)} in root "
                f"{self.root!r}: refresh it first (patchwarden scan --refresh, or zypper refresh)"
            )

    def _reboot_packages(self, dbpath: str) -> tuple[str, ...]:
        if self.root == "/":
            if zx.needs_rebooting(self._runner, zx.ZypperTarget("/", dbpath)):
                return ("zypper needs-rebooting",)
            return ()
        if self._last_boot is None:
            return ()
        provided = rpmdb.providers(self._runner, self.root, dbpath, NEED_REBOOT)
        return dnf_facts.needing_reboot(provided, self._last_boot)

    def _hostname(self) -> str:
        if self.root == "/":
            return socket.gethostname()
        try:
            return (self._base / "etc/hostname").read_text().strip() or self._base.name
        except OSError:
            return self._base.name

    # -- acting -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """``zypper refresh`` for the root."""
        zx.refresh(self._runner, self.target())

    @staticmethod
    def spec(pkg: Package) -> str:
        """``name.arch=edition``: the exact version zypper is asked for."""
        return zyppercmd.spec(pkg.name, pkg.arch, pkg.version)

    def plan(self, packages: Sequence[Package]) -> InstallPlan:
        """Simulate installing exactly these versions (``zypper install --dry-run``)."""
        if not packages:
            return InstallPlan((), ())
        rows = zx.simulate(self._runner, self.target(), [self.spec(p) for p in packages])
        headers = rpmdb.installed(self._runner, self.root, self.dbpath)
        arches = _arches(headers)
        actions: list[str] = []
        touched: list[tuple[str, str, str]] = []
        for row in rows:
            if row.action == "remove":
                actions.append(f"remove {row.name}.{row.arch} {row.version}")
                continue
            slot = dnf_facts.slot(row.name, row.arch, arches)
            old = row.old_version or "-"
            actions.append(f"{row.action} {row.name}.{row.arch} {old} -> {row.version}")
            touched.append((row.name, slot, row.version))
        return InstallPlan(tuple(packages), tuple(actions), tuple(touched))

    def install(self, packages: Sequence[Package]) -> list[InstallOutcome]:
        """Install exactly these versions, then check each one in the rpm database."""
        specs = [self.spec(p) for p in packages]
        error = zx.install(self._runner, self.target(), specs)
        after = rpmdb.installed(self._runner, self.root, self.dbpath)
        have = {(h.name, h.evr) for h in after}
        newest = {h.name: h.evr for h in sorted(after, key=lambda h: h.installtime)}
        outcomes: list[InstallOutcome] = []
        for pkg in packages:
            ok = (pkg.name, pkg.version) in have
            detail = "" if ok else (error or f"still at {newest.get(pkg.name, '-')} after zypper")
            outcomes.append(InstallOutcome(pkg.name, pkg.arch, pkg.version, ok, detail))
        return outcomes


def _package(
    name: str,
    slot_arch: str,
    nevra: tuple[int, str, str, str],
    repository: str,
    index: NoticeIndex,
    sourcerpm: str = "",
) -> Package:
    """One version, with the facts of the patches covering exactly that NEVRA."""
    epoch, version, release, arch = nevra
    facts = zp.patch_facts(index.get((name, epoch, version, release, arch), ()))
    return dnf_facts.package_with(name, slot_arch, nevra, sourcerpm, repository, facts)


def _repo_aliases(folder: Path) -> list[tuple[str, bool]]:
    """(alias, enabled) of every section of the root's ``etc/zypp/repos.d/*.repo``."""
    found: list[tuple[str, bool]] = []
    for path in sorted(folder.glob("*.repo")) if folder.is_dir() else []:
        parser = configparser.RawConfigParser(strict=False)
        try:
            parser.read_string(path.read_text(encoding="utf-8", errors="replace"), str(path))
        except (OSError, configparser.Error):
            continue
        for section in parser.sections():
            enabled = parser[section].get("enabled", "1").strip().lower() in {
                "1",
                "yes",
                "true",
                "on",
            }
            found.append((section, enabled))
    return found


def _arches(headers: Sequence[rpmdb.RpmHeader]) -> dict[str, set[str]]:
    arches: dict[str, set[str]] = {}
    for h in headers:
        arches.setdefault(h.name, set()).add(h.arch)
    return arches
