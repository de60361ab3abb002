"""The apt/dpkg adapter: inventory and candidate updates of a Debian-family root.

Works on ``/`` or on any root directory (like ``dpkg --root``): the dpkg status database,
apt's downloaded lists and its preferences are read from the root; apt-get runs with an
``APT_CONFIG`` that points every directory into the root (:mod:`.execute`).

Collecting is pure reading (no apt process): parse the status file, the paragraphs of the
lists that name installed packages, and apply apt's pin policy (:mod:`.policy`): every
newer version apt could choose is an update, with its pin priority and phasing facts
(:mod:`.candidates`), so the baseline can judge each one.  The
result is cached on disk, keyed by the size and mtime of every input file, so a second scan
with unchanged indices costs a stat per file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from patchwarden.adapters.os.apt import execute as apt_exec
from patchwarden.adapters.os.apt import root as apt_root
from patchwarden.adapters.os.apt.candidates import AptPolicy
from patchwarden.adapters.os.apt.changelog import changelog_text, newest_entry_date
from patchwarden.adapters.os.apt.conf import get, read_apt_conf
from patchwarden.adapters.os.apt.facts import (
    arch_slot,
    cached_deb,
    installed_entries,
    package_facts,
)
from patchwarden.adapters.os.apt.index import iter_index, iter_paragraphs, read_index
from patchwarden.adapters.os.apt.lists import ListFile, find_package_lists
from patchwarden.adapters.os.apt.policy import VersionChoice, file_priority
from patchwarden.adapters.os.apt.root import foreign_arches
from patchwarden.adapters.os.inventory_cache import PickleCache, stat_key
from patchwarden.adapters.os.osrelease import read_os_info
from patchwarden.adapters.runner import LocalRunner
from patchwarden.core.baseline import preferred
from patchwarden.core.model import InstalledPackage, Inventory, OsInfo, Package
from patchwarden.core.versions import COMPARATORS
from patchwarden.core.vuln import Advisory
from patchwarden.errors import AdapterError, EnvironmentProblem
from patchwarden.ports import InstallOutcome, InstallPlan, Runner

if TYPE_CHECKING:  # the changelog CVE reader is imported only when asked for
    from patchwarden.adapters.os.apt.changelog_cves import ChangelogCache, UpdateChangelog

_CACHE_FORMAT = 2
_deb_compare = COMPARATORS["deb"]


def candidates(updates: Sequence[Package]) -> list[Package]:
    """apt's candidate among the updates of each (name, arch)."""
    by_key: dict[tuple[str, str], list[Package]] = {}
    for u in updates:
        by_key.setdefault(u.key, []).append(u)
    found = (preferred(versions, "deb") for versions in by_key.values())
    return [u for u in found if u is not None]


class AptPackageManager:
    """:class:`patchwarden.ports.PackageManager` for apt/dpkg roots."""

    scheme = "deb"

    def __init__(
        self,
        root: str = "/",
        *,
        runner: Runner | None = None,
        cache_dir: str | None = None,
        os_info: OsInfo | None = None,
        lock_timeout: int = 300,
    ) -> None:
        self.root = str(Path(root).resolve()) if root != "/" else "/"
        self._base = Path(self.root)
        self._runner = runner or LocalRunner()
        self._cache = PickleCache(Path(cache_dir) if cache_dir else None, "apt", self.root)
        self._os_info = os_info
        self._lock_timeout = lock_timeout
        self._native_arch: str | None = None

    # -- collecting -------------------------------------------------------------------------

    @property
    def status_path(self) -> Path:
        """The dpkg status database of the root."""
        return self._base / "var/lib/dpkg/status"

    @property
    def lists_dir(self) -> Path:
        """Where apt keeps the downloaded package lists of the root."""
        return self._base / "var/lib/apt/lists"

    def collect(self) -> Inventory:
        """Installed packages and every version apt could upgrade them to (module docstring)."""
        if not self.status_path.is_file():
            raise EnvironmentProblem(f"no dpkg database at {self.status_path}")
        lists = find_package_lists(self.lists_dir)
        key = self._cache_key(lists)
        cached = self._load_cache(key)
        if cached is None:
            cached = self._collect(lists)
            self._store_cache(key, cached)
        return replace(cached, last_boot=apt_root.last_boot(self.root))

    def _collect(self, lists: list[ListFile]) -> Inventory:
        os_info = self._os_info or read_os_info(self.root)
        status = read_index(self.status_path)
        raw_installed = list(iter_paragraphs(status))
        native = self._native(raw_installed)
        conf = read_apt_conf(self._base)
        pins = apt_root.preferences(self._base)
        general = [p for p in pins if not p.packages]
        specific = [p for p in pins if p.packages]
        files = [lf.index for lf in lists]
        default_release = get(conf, "APT::Default-Release")
        file_prios = [file_priority(f, general, default_release) for f in files]

        entries = installed_entries(raw_installed, native)
        installed = {key: fields for key, (fields, _) in entries.items()}
        states = {key: state for key, (_, state) in entries.items()}

        names = {name for name, _ in installed}
        choices = self._choices(lists, names, native)
        chroot = apt_root.in_chroot(self._runner, conf)
        phasing = apt_root.phasing(self._base, conf, os.environ, chroot=chroot)
        policy = AptPolicy(files, file_prios, specific, phasing)
        inst_pkgs: list[InstalledPackage] = []
        updates: list[Package] = []
        for (name, arch), fields in sorted(installed.items()):
            version = fields.get("Version", "")
            slot = arch_slot(arch, native)
            by_version = choices.get((name, slot), {})
            present = by_version.get(version)
            facts = package_facts(fields, present, files, name, arch)
            inst_pkgs.append(InstalledPackage(facts, states[(name, arch)]))
            if states[(name, arch)] != "installed" or not by_version:
                continue
            updates.extend(policy.updates(name, arch, version, by_version))

        reboot, reboot_pkgs = apt_root.reboot_required(self._base)
        return Inventory(
            os=os_info,
            hostname=apt_root.hostname(self.root),
            root=self.root,
            scheme=self.scheme,
            installed=tuple(inst_pkgs),
            updates=tuple(updates),
            reboot_required=reboot,
            reboot_packages=reboot_pkgs,
        )

    def _choices(
        self, lists: list[ListFile], names: set[str], native: str
    ) -> dict[tuple[str, str], dict[str, VersionChoice]]:
        found: dict[tuple[str, str], dict[str, VersionChoice]] = {}
        for i, lf in enumerate(lists):
            if (
                lf.index.arch
                and lf.index.arch not in (native, "all")
                and lf.index.arch not in foreign_arches(self._base)
            ):
                continue
            try:
                paragraphs = list(iter_index(lf.path, names))
            except AdapterError as exc:
                raise EnvironmentProblem(f"unreadable apt index: {exc}") from exc
            for fields in paragraphs:
                slot = arch_slot(fields.get("Architecture", native), native)
                by_version = found.setdefault((fields["Package"], slot), {})
                version = fields.get("Version", "")
                choice = by_version.get(version)
                if choice is None:
                    choice = by_version[version] = VersionChoice(version, fields=fields)
                choice.files.append(i)
        return found

    def _native(self, raw_installed: list[dict[str, str]]) -> str:
        if self._native_arch:
            return self._native_arch
        for fields in raw_installed:
            if fields.get("Package") == "dpkg" and fields.get("Architecture"):
                self._native_arch = fields["Architecture"]
                return self._native_arch
        result = self._runner.run(["dpkg", "--print-architecture"], check=True)
        self._native_arch = result.stdout.strip()
        return self._native_arch

    # -- cache ------------------------------------------------------------------------------

    def _cache_key(self, lists: list[ListFile]) -> str:
        """Size and mtime of every file the inventory is derived from."""
        paths = [
            self.status_path,
            self._base / "etc/os-release",
            self._base / "usr/lib/os-release",
            self._base / "etc/hostname",
            self._base / "etc/apt/preferences",
            self._base / "etc/apt/apt.conf",
            self._base / "etc/machine-id",
            self._base / "var/lib/dpkg/arch",
        ]
        for run_dir in ("run", "var/run"):
            paths += [self._base / run_dir / "reboot-required"]
            paths += [self._base / run_dir / "reboot-required.pkgs"]
        for d in ("etc/apt/preferences.d", "etc/apt/apt.conf.d", "var/lib/apt/lists"):
            folder = self._base / d
            if folder.is_dir():
                paths += sorted(folder.iterdir())
        return stat_key([f"{_CACHE_FORMAT}", self.root, *(str(lf.path) for lf in lists)], paths)

    def _load_cache(self, key: str) -> Inventory | None:
        value = self._cache.load(key)
        return value if isinstance(value, Inventory) else None

    def _store_cache(self, key: str, inventory: Inventory) -> None:
        self._cache.store(key, replace(inventory, last_boot=None))

    def changelog_date(self, pkg: Package) -> tuple[bool, datetime | None]:
        """(whether its .deb is in apt's cache, date of its newest changelog entry)."""
        deb = self._deb_in_cache(pkg)
        if deb is None:
            return False, None
        text = changelog_text(self._runner, deb, pkg.name)
        return True, (newest_entry_date(text) if text else None)

    # -- changelog CVEs ---------------------------------------------------------------------

    def changelog_cves(
        self,
        inventory: Inventory,
        *,
        updates: Sequence[Package] | None = None,
        download: bool = True,
        cache: ChangelogCache | None = None,
    ) -> list[UpdateChangelog]:
        """The CVE ids each pending update's changelog names since the installed version.

        ``updates`` defaults to apt's candidate of each package (its changelog holds every
        entry since the installed version, those of older updates too).  The .debs are read
        from apt's cache of the root; with ``download`` the missing ones are fetched there
        first (``apt-get download``, one call per wave).  ``cache`` (the local state)
        remembers the result per (update, installed version), so a repeated scan downloads
        and unpacks nothing.  Never raises for a package whose .deb or changelog cannot be
        had: its result says ``found=False``.
        """
        from patchwarden.adapters.os.apt.changelog_cves import ChangelogReader, apt_download

        installed = {ip.package.key: ip.package.version for ip in inventory.installed}
        chosen = candidates(inventory.updates) if updates is None else updates
        targets = [(u, installed[u.key]) for u in chosen if u.key in installed]

        def fetch(packages: Sequence[Package]) -> None:
            apt_download(self._runner, self.root, self._native_or_host(), packages)

        reader = ChangelogReader(
            self._runner,
            locate=self._deb_in_cache,
            fetch=fetch if download else None,
            compare=_deb_compare,
        )
        return reader.read(targets, root=self.root, cache=cache)

    def update_cves(
        self,
        inventory: Inventory,
        *,
        updates: Sequence[Package] | None = None,
        download: bool = True,
        cache: ChangelogCache | None = None,
    ) -> dict[tuple[str, str, str], tuple[str, ...]]:
        """(name, arch, version) of each pending update → the CVE ids its changelog names
        since the installed version (see :meth:`changelog_cves`); no vulnerability DB needed."""
        found = self.changelog_cves(inventory, updates=updates, download=download, cache=cache)
        return {(r.name, r.arch, r.version): r.cves for r in found}

    def changelog_advisories(
        self,
        inventory: Inventory,
        *,
        updates: Sequence[Package] | None = None,
        download: bool = True,
        cache: ChangelogCache | None = None,
    ) -> list[Advisory]:
        """The changelog CVEs as ``Advisory(source="changelog", status=FIXED)`` values for the
        matcher (package: the source name; fixed version: the oldest entry naming it)."""
        from patchwarden.adapters.os.apt.changelog_cves import (
            changelog_advisories,
            release_ecosystem,
        )

        found = self.changelog_cves(inventory, updates=updates, download=download, cache=cache)
        return changelog_advisories(found, release_ecosystem(inventory.os))

    def _deb_in_cache(self, pkg: Package) -> Path | None:
        for arch in dict.fromkeys((pkg.arch, "all")):
            deb = cached_deb(self._base, replace(pkg, arch=arch))
            if deb.is_file():
                return deb
        return None

    # -- acting -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """``apt-get update`` for the root."""
        apt_exec.update(self._runner, self.root, self._native_or_host())

    def plan(self, packages: Sequence[Package]) -> InstallPlan:
        """Simulate installing exactly these versions (``apt-get -s install``)."""
        return apt_exec.plan(self._runner, self.root, self._native_or_host(), packages)

    def install(self, packages: Sequence[Package]) -> list[InstallOutcome]:
        """Install exactly these versions, then check each one in the dpkg database."""
        errors = apt_exec.install(
            self._runner, self.root, self._native_or_host(), packages, self._lock_timeout
        )
        after = {
            (f.get("Package", ""), f.get("Architecture", "")): f
            for f in iter_paragraphs(read_index(self.status_path))
        }
        outcomes: list[InstallOutcome] = []
        for pkg in packages:
            got = after.get((pkg.name, pkg.arch), {})
            ok = got.get("Version") == pkg.version and got.get("Status", "").endswith(" installed")
            detail = (
                ""
                if ok
                else (errors.get(pkg.key) or f"still at {got.get('Version', '-')} after apt-get")
            )
            outcomes.append(InstallOutcome(pkg.name, pkg.arch, pkg.version, ok, detail))
        return outcomes

    def _native_or_host(self) -> str:
        if self._native_arch is None:
            self._native(list(iter_paragraphs(read_index(self.status_path), {"dpkg"})))
        assert self._native_arch is not None
        return self._native_arch
