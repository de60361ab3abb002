"""The dnf/rpm adapter: inventory, available updates and installs of a RHEL-family root.

Works on ``/`` or on any root directory.  Installed packages come from the root's rpm
database (:mod:`.rpmdb`); available updates from dnf itself, reading only its metadata cache
(``dnf -C repoquery --upgrades --show-duplicates``: every newer version, with dnf's own
excludes, module filtering and architecture rules); their notice facts from the cached
``updateinfo`` of each enabled repository (:mod:`.repos`, :mod:`.facts`).  dnf runs
with the options of :mod:`.execute`, so a sandbox or image root is configured by its own
files, exactly as a real host is by ``/etc``.  The collected inventory is cached on disk
(:mod:`.cache`).
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from patchwarden import dnfcmd
from patchwarden.adapters.os.dnf import execute as dnf_exec
from patchwarden.adapters.os.dnf import facts as dnf_facts
from patchwarden.adapters.os.dnf import rpmdb
from patchwarden.adapters.os.dnf.cache import Collected, InventoryCache, cache_key
from patchwarden.adapters.os.dnf.execute import DnfTarget
from patchwarden.adapters.os.dnf.repos import load_notices, repositories, updateinfo_files
from patchwarden.adapters.os.osrelease import read_os_info
from patchwarden.adapters.runner import LocalRunner
from patchwarden.core.model import InstalledPackage, Inventory, OsInfo, Package
from patchwarden.errors import EnvironmentProblem
from patchwarden.ports import InstallOutcome, InstallPlan, Runner


class DnfPackageManager:
    """:class:`patchwarden.ports.PackageManager` for rpm/dnf roots."""

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
        host's (a node's root rebuilt on the server); ``/`` always uses this host's."""
        self.root = str(Path(root).resolve()) if root != "/" else "/"
        self._base = Path(self.root)
        self._runner = runner or LocalRunner()
        self._cache = InventoryCache(Path(cache_dir) if cache_dir else None, self.root)
        self._os_info = os_info
        self._last_boot = last_boot
        self._target: DnfTarget | None = None
        self._real_arch: dict[tuple[str, str, str], str] = {}
        """(name, arch as reported, version) → arch in the repository, when they differ."""

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

    def target(self) -> DnfTarget:
        """How dnf reaches this root (see :mod:`.execute`)."""
        if self._target is None:
            dbpath, releasever = self.dbpath, None
            if self.root != "/" and not rpmdb.providers(
                self._runner, self.root, dbpath, ["system-release(releasever)"]
            ):
                releasever = self._os().version_id or None
            self._target = DnfTarget(self.root, dbpath, releasever)
        return self._target

    def _os(self) -> OsInfo:
        if self._os_info is None:
            self._os_info = read_os_info(self.root)
        return self._os_info

    # -- collecting -------------------------------------------------------------------------

    def collect(self) -> Inventory:
        """Installed packages, every newer version with its notice facts, reboot flag.

        ``last_boot`` is this host's boot for ``/`` and the constructor's ``last_boot``
        (usually ``None``: its recorded boots are the pipeline's business) for any other
        root; without a boot there is no reboot hint.
        """
        dbpath = self.dbpath
        boot = dnf_facts.boot_time() if self.root == "/" else self._last_boot
        key = cache_key(self._base, dbpath, boot)
        collected = self._cache.load(key)
        if collected is None:
            collected = self._collect(dbpath, boot)
            self._cache.store(key, collected)
        inventory, self._real_arch = collected
        return inventory

    def _collect(self, dbpath: str, boot: datetime | None) -> Collected:
        headers = rpmdb.installed(self._runner, self.root, dbpath)
        target = self.target()
        available, uncached = dnf_exec.upgrades(self._runner, target)
        repos = repositories(self._base)
        skippable = {r.id for r in repos if r.skip_if_unavailable}
        missing = [r for r in uncached if r not in skippable]
        if missing:
            raise EnvironmentProblem(
                f"no dnf metadata cached for repository {', '.join(missing)} in root "
                f"{self.root!r}: refresh it first (patchwarden scan --refresh, or dnf makecache)"
            )
        notices = load_notices(updateinfo_files(target.cachedir, repos), self._runner)
        arches = _arches(headers)
        installed = tuple(
            InstalledPackage(
                dnf_facts.package(
                    h.name,
                    h.arch,
                    (h.epoch, h.version, h.release, h.arch),
                    h.sourcerpm,
                    "",
                    notices,
                )
            )
            for h in sorted(headers, key=lambda h: (h.name, h.arch, h.installtime))
        )
        updates: list[Package] = []
        real_arch: dict[tuple[str, str, str], str] = {}
        seen: set[tuple[str, int, str, str, str]] = set()
        for a in available:
            nevra = (a.epoch, a.version, a.release, a.arch)
            if (a.name, *nevra) in seen:
                continue  # the same build in two repositories: the first one dnf listed
            seen.add((a.name, *nevra))
            slot = dnf_facts.slot(a.name, a.arch, arches)
            pkg = dnf_facts.package(a.name, slot, nevra, a.sourcerpm, a.repoid, notices)
            updates.append(pkg)
            if slot != a.arch:
                real_arch[(pkg.name, slot, pkg.version)] = a.arch
        pending = self._reboot_packages(dbpath, boot)
        inventory = Inventory(
            os=self._os(),
            hostname=self._hostname(),
            root=self.root,
            scheme=self.scheme,
            installed=installed,
            updates=tuple(updates),
            reboot_required=bool(pending),
            reboot_packages=pending,
            last_boot=boot,
        )
        return inventory, real_arch

    def _reboot_packages(self, dbpath: str, boot: datetime | None) -> tuple[str, ...]:
        """NEED_REBOOT packages installed after ``boot`` (none when the boot is unknown)."""
        if boot is None:
            return ()
        names = {*dnf_facts.NEED_REBOOT, *dnf_facts.extra_reboot_names(self._base)}
        provided = rpmdb.providers(self._runner, self.root, dbpath, names)
        return dnf_facts.needing_reboot(provided, boot)

    def _hostname(self) -> str:
        if self.root == "/":
            return socket.gethostname()
        try:
            return (self._base / "etc/hostname").read_text().strip() or self._base.name
        except OSError:
            return self._base.name

    # -- acting -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """``dnf makecache --refresh`` for the root."""
        dnf_exec.makecache(self._runner, self.target())

    def spec(self, pkg: Package) -> str:
        """``name-[epoch:]version-release.arch``: the exact NEVRA dnf is asked for (the
        architecture in the repository, known once :meth:`collect` ran)."""
        arch = self._real_arch.get((pkg.name, pkg.arch, pkg.version), pkg.arch)
        return dnfcmd.spec(pkg.name, arch, pkg.version)

    def plan(self, packages: Sequence[Package]) -> InstallPlan:
        """Simulate installing exactly these versions (``dnf --assumeno install``)."""
        if not packages:
            return InstallPlan((), ())
        rows = dnf_exec.simulate(self._runner, self.target(), [self.spec(p) for p in packages])
        headers = rpmdb.installed(self._runner, self.root, self.dbpath)
        current = {(h.name, h.arch): h.evr for h in headers}
        arches = _arches(headers)
        actions: list[str] = []
        touched: list[tuple[str, str, str]] = []
        for row in rows:
            if row.action == "remove":
                actions.append(f"remove {row.name}.{row.arch} {row.version}")
                continue
            slot = dnf_facts.slot(row.name, row.arch, arches)
            old = current.get((row.name, slot), "-")
            actions.append(f"{row.action} {row.name}.{row.arch} {old} -> {row.version}")
            touched.append((row.name, slot, row.version))
        return InstallPlan(tuple(packages), tuple(actions), tuple(touched))

    def install(self, packages: Sequence[Package]) -> list[InstallOutcome]:
        """Install exactly these versions, then check each one in the rpm database."""
        specs = [self.spec(p) for p in packages]
        error = dnf_exec.install(self._runner, self.target(), specs)
        self._target = None  # a new system-release package may change the releasever
        after = rpmdb.installed(self._runner, self.root, self.dbpath)
        have = {(h.name, h.arch, h.evr) for h in after}
        newest = {h.name: h.evr for h in sorted(after, key=lambda h: h.installtime)}
        outcomes: list[InstallOutcome] = []
        for pkg, spec in zip(packages, specs, strict=True):
            ok = (pkg.name, spec.rsplit(".", 1)[1], pkg.version) in have
            detail = "" if ok else (error or f"still at {newest.get(pkg.name, '-')} after dnf")
            outcomes.append(InstallOutcome(pkg.name, pkg.arch, pkg.version, ok, detail))
        return outcomes


def _arches(headers: Sequence[rpmdb.RpmHeader]) -> dict[str, set[str]]:
    arches: dict[str, set[str]] = {}
    for h in headers:
        arches.setdefault(h.name, set()).add(h.arch)
    return arches
