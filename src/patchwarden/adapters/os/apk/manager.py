"""The apk adapter: inventory, available updates and installs of an Alpine root.

Collecting is pure reading and needs no apk-tools: installed packages come from the root's
``lib/apk/db/installed`` (:mod:`.db`); available updates from the indexes apk last
downloaded for each configured repository (:mod:`.repos`: ``APKINDEX.<hash>.tar.gz`` in
the root's cache).  Every version of an index that is newer than the installed one (same
name, same architecture) is an update, recorded with its repository (``main``,
``community`` …: ``Package.repository``, the ``REPOSITORY`` filter key of ALPINE baselines)
and its build time as release date.  Tagged repositories (``@edge …``) are left out: apk
takes packages from them only when asked for by tag.  apk marks no version as a security
fix, so ``update_notice`` is always false (Alpine's secdb gives the findings).

``refresh`` (``apk update``), ``plan`` and ``install`` (``apk add name=version``) run
apk-tools and need it installed; without it they raise :class:`EnvironmentProblem`.
The collected inventory is cached on disk like the other adapters'.
"""

from __future__ import annotations

import re
import shutil
import socket
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from patchwarden.adapters.os.apk import db as apk_db
from patchwarden.adapters.os.apk.repos import ApkRepository, index_path, repository_files
from patchwarden.adapters.os.apk.repos import repositories as read_repositories
from patchwarden.adapters.os.inventory_cache import PickleCache, stat_key
from patchwarden.adapters.os.osrelease import read_os_info
from patchwarden.adapters.runner import LocalRunner
from patchwarden.core.model import InstalledPackage, Inventory, Origin, OsInfo, Package
from patchwarden.core.versions import COMPARATORS
from patchwarden.errors import AdapterError, EnvironmentProblem, InputError
from patchwarden.ports import InstallOutcome, InstallPlan, Runner, RunResult

INSTALLED_DBS = ("lib/apk/db/installed", "usr/lib/apk/db/installed")
"""Where apk keeps the installed database (``usr/lib`` on apk 3 / merged-usr roots)."""
_CACHE_FORMAT = 1
_NO_APK = "apk-tools is not installed ({what} needs it; scan uses the cached indexes)"
_ACTION = re.compile(
    r"^\(\d+/\d+\)\s+(Installing|Upgrading|Downgrading|Replacing|Reinstalling|Purging)\s+"
    r"(\S+)\s+\((?:(\S+)\s+->\s+)?(\S+)\)"
)
"""One step of ``apk add --simulate``: ``(1/2) Upgrading musl (1.2.4-r1 -> 1.2.4-r2)``."""


def _compare() -> Callable[[str, str], int]:
    try:
        return COMPARATORS["apk"]
    except KeyError:
        raise EnvironmentProblem("no apk version comparator in this Patchwarden") from None


class ApkPackageManager:
    """:class:`patchwarden.ports.PackageManager` for Alpine (apk) roots."""

    scheme = "apk"

    def __init__(
        self,
        root: str = "/",
        *,
        runner: Runner | None = None,
        cache_dir: str | None = None,
        os_info: OsInfo | None = None,
        apk: str | None = None,
    ) -> None:
        """``apk``: the apk-tools binary (default: ``apk`` on ``PATH``, looked up when
        needed)."""
        self.root = str(Path(root).resolve()) if root != "/" else "/"
        self._base = Path(self.root)
        self._runner = runner or LocalRunner()
        self._cache = PickleCache(Path(cache_dir) if cache_dir else None, "apk", self.root)
        self._os_info = os_info
        self._apk = apk

    # -- collecting -------------------------------------------------------------------------

    @property
    def installed_db(self) -> Path:
        """The root's installed database."""
        if not self._base.is_dir():
            raise EnvironmentProblem(f"root {self.root!r} does not exist or is not a directory")
        for rel in INSTALLED_DBS:
            if (self._base / rel).is_file():
                return self._base / rel
        raise EnvironmentProblem(
            f"no apk database in root {self.root!r} (looked in {', '.join(INSTALLED_DBS)})"
        )

    def repositories(self) -> list[ApkRepository]:
        """The untagged repositories of the root: the ones updates come from."""
        return [r for r in read_repositories(self._base) if not r.tag]

    def collect(self) -> Inventory:
        """Installed packages and every newer version the cached indexes offer."""
        installed_db = self.installed_db
        repos = self.repositories()
        indexes = [(r, index_path(self._base, r)) for r in repos]
        paths = [
            installed_db,
            self._base / "etc/os-release",
            self._base / "etc/hostname",
            *repository_files(self._base),
            *(p for _, p in indexes),
        ]
        key = stat_key([str(_CACHE_FORMAT), self.root], paths)
        cached = self._cache.load(key)
        if isinstance(cached, Inventory):
            return cached
        inventory = self._collect(installed_db, indexes)
        self._cache.store(key, inventory)
        return inventory

    def _collect(self, installed_db: Path, indexes: list[tuple[ApkRepository, Path]]) -> Inventory:
        compare = _compare()
        records = apk_db.read_installed(installed_db)
        missing = [r.url for r, p in indexes if not p.is_file()]
        if missing:
            raise EnvironmentProblem(
                f"no apk index cached for repository {', '.join(missing)} in root "
                f"{self.root!r}: refresh it first (patchwarden scan --refresh, or apk update)"
            )
        offered: dict[tuple[str, str], list[Package]] = {}
        for repo, path in indexes:
            for rec in apk_db.read_index(path):
                offered.setdefault((rec.name, rec.arch), []).append(package(rec, repo))
        installed: list[InstalledPackage] = []
        updates: list[Package] = []
        for rec in sorted(records, key=lambda r: (r.name, r.arch)):
            here = [*offered.get((rec.name, rec.arch), ()), *offered.get((rec.name, "noarch"), ())]
            same = next((p for p in here if p.version == rec.version), None)
            pkg = package(rec, None)
            if same is not None:  # the repository that carries the installed version
                pkg = replace(pkg, repository=same.repository, origins=same.origins)
            installed.append(InstalledPackage(pkg))
            seen: set[str] = set()
            for candidate in here:
                if candidate.version in seen:
                    continue  # the same version in two repositories: the first listed
                try:
                    newer = compare(candidate.version, rec.version) > 0
                except InputError:
                    continue  # a version apk could not order either
                if newer:
                    seen.add(candidate.version)
                    updates.append(replace(candidate, arch=rec.arch))
        return Inventory(
            os=self._os(),
            hostname=self._hostname(),
            root=self.root,
            scheme=self.scheme,
            installed=tuple(installed),
            updates=tuple(updates),
        )

    def _os(self) -> OsInfo:
        if self._os_info is None:
            self._os_info = read_os_info(self.root)
        return self._os_info

    def _hostname(self) -> str:
        if self.root == "/":
            return socket.gethostname()
        try:
            return (self._base / "etc/hostname").read_text().strip() or self._base.name
        except OSError:
            return self._base.name

    # -- acting -----------------------------------------------------------------------------

    def _apk_argv(self, what: str, *args: str) -> list[str]:
        binary = self._apk or shutil.which("apk")
        if binary is None:
            raise EnvironmentProblem(_NO_APK.format(what=what))
        return [binary, "--root", self.root, "--no-progress", *args]

    def refresh(self) -> None:
        """``apk update`` for the root (downloads every repository's index)."""
        self._runner.run(self._apk_argv("refresh", "update"), check=True)

    def plan(self, packages: Sequence[Package]) -> InstallPlan:
        """Simulate installing exactly these versions (``apk add --simulate name=version``)."""
        if not packages:
            return InstallPlan((), ())
        specs = [f"{p.name}={p.version}" for p in packages]
        result = self._runner.run(self._apk_argv("plan", "add", "--simulate", *specs))
        if result.returncode != 0:
            raise AdapterError(f"apk add --simulate failed: {_last_line(result)}")
        arches = {p.name: p.arch for p in packages}
        actions: list[str] = []
        touched: list[tuple[str, str, str]] = []
        for line in result.stdout.splitlines():
            step = _ACTION.match(line.strip())
            if step is None:
                continue
            verb, name, old, new = step.groups()
            actions.append(f"{verb.lower()} {name} {old or '-'} -> {new}")
            if verb != "Purging":
                touched.append((name, arches.get(name, ""), new))
        return InstallPlan(tuple(packages), tuple(actions), tuple(touched))

    def install(self, packages: Sequence[Package]) -> list[InstallOutcome]:
        """``apk add name=version`` for each package, then check the installed database.

        apk records ``name=version`` in ``etc/apk/world``: the package stays at that version
        until it is installed again with another one (docs/alpine.md)."""
        errors: dict[str, str] = {}
        for pkg in packages:
            argv = self._apk_argv("install", "add", f"{pkg.name}={pkg.version}")
            result = self._runner.run(argv)
            if result.returncode != 0:
                errors[pkg.name] = f"apk add exited with {result.returncode}: {_last_line(result)}"
        now = {(r.name, r.arch): r.version for r in apk_db.read_installed(self.installed_db)}
        outcomes: list[InstallOutcome] = []
        for pkg in packages:
            have = now.get((pkg.name, pkg.arch))
            ok = have == pkg.version
            detail = "" if ok else errors.get(pkg.name, f"still at {have or '-'} after apk")
            outcomes.append(InstallOutcome(pkg.name, pkg.arch, pkg.version, ok, detail))
        return outcomes


def _last_line(result: RunResult) -> str:
    lines = [ln.strip() for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


def package(rec: apk_db.ApkRecord, repo: ApkRepository | None = None) -> Package:
    """One version; ``repo`` is where it is offered (``None``: the installed database)."""
    origins: tuple[Origin, ...] = ()
    if repo is not None:
        archive = f"{repo.branch}/{repo.name}" if repo.branch else repo.name
        origins = (
            Origin(archive=archive, codename=repo.branch, component=repo.name, site=repo.site),
        )
    return Package(
        name=rec.name,
        arch=rec.arch,
        version=rec.version,
        source_name=rec.origin or rec.name,
        source_version=rec.version,
        repository=repo.name if repo is not None else "",
        origins=origins,
        release_date=rec.build_time if repo is not None else None,
    )
