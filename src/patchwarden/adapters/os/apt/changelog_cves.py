"""CVE ids of pending Debian/Ubuntu updates from their changelogs, as Vuls' deep mode does.

For each pending update: the changelog of the candidate .deb (downloaded into apt's own
cache of the root when it is not there yet), the entries newer than the installed version,
and the ``CVE-YYYY-N`` ids they name.  Results are remembered per (update, installed
version) in the local state, so a second scan neither downloads nor unpacks anything.
The .deb reading and the changelog parser live in :mod:`.changelog`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from patchwarden.adapters.os.apt.changelog import (
    ChangelogEntry,
    cve_ids,
    parse_changelog,
    read_doc,
    source_changelog,
    strip_binnmu,
)
from patchwarden.adapters.os.apt.execute import apt_env
from patchwarden.core import matching
from patchwarden.core.model import OsInfo, Package
from patchwarden.core.versions import Comparator
from patchwarden.core.vuln import Advisory, AdvisoryStatus
from patchwarden.errors import InputError
from patchwarden.ports import Runner

CveEntries = tuple[tuple[str, tuple[str, ...]], ...]
"""(changelog entry version, CVE ids it names) for the entries that name CVEs, newest first."""


class ChangelogCache(Protocol):
    """Where extracted CVE lists are remembered (:class:`patchwarden.adapters.state.LocalState`)."""

    def changelog_cves(self, root: str) -> dict[tuple[str, str, str], CveEntries | None]:
        """{(name, version, installed version): entries since installed, ``None``: no changelog}."""
        ...

    def record_changelog_cves(
        self, root: str, found: dict[tuple[str, str, str], CveEntries | None]
    ) -> None:
        """Remember extracted entries."""
        ...


@dataclass(frozen=True)
class UpdateChangelog:
    """The CVE ids a pending update's changelog names since the installed version."""

    name: str
    arch: str
    version: str
    installed_version: str
    source: str
    entries: CveEntries
    """Entries newer than the installed version (binNMU suffix stripped) that name CVEs."""
    found: bool
    """Whether a changelog was read (``False``: no .deb could be had, or it has none)."""

    @property
    def cves(self) -> tuple[str, ...]:
        """Every CVE id of :attr:`entries`, sorted, without duplicates."""
        return cve_ids(" ".join(c for _, ids in self.entries for c in ids))


def cves_since(
    entries: Iterable[ChangelogEntry], installed: str, compare: Comparator
) -> CveEntries:
    """(version, CVE ids) of the entries newer than ``installed`` (its ``+bN`` stripped)."""
    floor = strip_binnmu(installed)
    found = []
    for entry in entries:
        ids = entry.cves
        try:
            if ids and compare(entry.version, floor) > 0:
                found.append((entry.version, ids))
        except InputError:
            continue  # a malformed entry version orders nowhere: skip it
    return tuple(found)


Target = tuple[Package, str]
"""A pending update and the installed version it replaces."""

_Group = tuple[str, str]
_Key = tuple[str, str, str]


class ChangelogReader:
    """Reads the changelogs of pending updates from their .debs in apt's cache.

    The changelog belongs to a source version, so one .deb per (source, source version) is
    enough: binaries already in the cache first, then the one named like the source, then
    the shortest name that is not ``-dev``/``-dbg``/``-doc``.  ``fetch`` downloads the
    missing .debs of a wave in one call (apt parallelises the downloads itself); a .deb
    without a changelog (a symlinked doc dir) sends its group to the next wave with the
    link target, then the other binaries of the source (at most :attr:`waves` waves).
    """

    waves = 3

    def __init__(
        self,
        runner: Runner,
        *,
        locate: Callable[[Package], Path | None],
        fetch: Callable[[Sequence[Package]], None] | None,
        compare: Comparator,
        workers: int = 4,
    ) -> None:
        self._runner, self._locate, self._fetch = runner, locate, fetch
        self._compare, self._workers = compare, workers

    def read(
        self, targets: Sequence[Target], *, root: str, cache: ChangelogCache | None = None
    ) -> list[UpdateChangelog]:
        """One result per target, from ``cache`` when it knows the (update, installed) pair.

        Fresh results are recorded in ``cache``, except for groups whose .debs could not all
        be had (a failed download is tried again next time).
        """
        known = cache.changelog_cves(root) if cache is not None else {}
        todo = [t for t in targets if _key(t) not in known]
        fresh = self._extract(todo) if todo else {}
        if cache is not None and fresh:
            cache.record_changelog_cves(root, fresh)
        merged = {**known, **fresh}
        results = []
        for pkg, installed in targets:
            entries = merged.get(_key((pkg, installed)))
            results.append(
                UpdateChangelog(
                    name=pkg.name,
                    arch=pkg.arch,
                    version=pkg.version,
                    installed_version=installed,
                    source=pkg.source_name or pkg.name,
                    entries=entries or (),
                    found=entries is not None,
                )
            )
        return results

    def _extract(self, todo: Sequence[Target]) -> dict[_Key, CveEntries | None]:
        groups: dict[_Group, list[Target]] = {}
        for pkg, installed in todo:
            group = (pkg.source_name or pkg.name, pkg.source_version or pkg.version)
            groups.setdefault(group, []).append((pkg, installed))
        parsed, incomplete = self._parse_groups(groups)
        fresh: dict[_Key, CveEntries | None] = {}
        for group, members in groups.items():
            for target in members:
                if group in parsed:
                    fresh[_key(target)] = cves_since(parsed[group], target[1], self._compare)
                elif group not in incomplete:
                    fresh[_key(target)] = None  # every candidate .deb read: it has no changelog
        return fresh

    def _parse_groups(
        self, groups: Mapping[_Group, list[Target]]
    ) -> tuple[dict[_Group, list[ChangelogEntry]], set[_Group]]:
        """Changelog entries per group, and the groups where a .deb could not be had."""
        candidates = {g: self._ordered(g[0], [p for p, _ in ts]) for g, ts in groups.items()}
        tried: dict[_Group, set[str]] = {g: set() for g in groups}
        parsed: dict[_Group, list[ChangelogEntry]] = {}
        incomplete: set[_Group] = set()
        wave = {g: c[0] for g, c in candidates.items()}
        for _ in range(self.waves):
            if not wave:
                break
            if self._fetch is not None and (
                missing := [p for p in wave.values() if not self._has(p)]
            ):
                self._fetch(missing)
            with ThreadPoolExecutor(max_workers=self._workers) as pool:
                looked = dict(zip(wave, pool.map(self._examine, wave.values()), strict=True))
            following: dict[_Group, Package] = {}
            for group, (entries, link, available) in looked.items():
                tried[group].add(wave[group].name)
                if entries is not None:
                    parsed[group] = entries
                    continue
                if not available:
                    incomplete.add(group)
                linked = [replace(wave[group], name=os.path.basename(link))] if link else []
                nxt = next(
                    (p for p in linked + candidates[group] if p.name not in tried[group]), None
                )
                if nxt is not None:
                    following[group] = nxt
            wave = following
        return parsed, incomplete | set(wave)

    def _has(self, pkg: Package) -> bool:
        return self._locate(pkg) is not None

    def _ordered(self, source: str, packages: list[Package]) -> list[Package]:
        def rank(p: Package) -> tuple[bool, bool, bool, int, str]:
            odd = p.name.endswith(("-dev", "-dbg", "-dbgsym", "-doc"))
            return (not self._has(p), p.name != source, odd, len(p.name), p.name)

        return sorted(packages, key=rank)

    def _examine(self, pkg: Package) -> tuple[list[ChangelogEntry] | None, str, bool]:
        """(entries or ``None``, doc-dir link target, whether a .deb was there to read)."""
        path = self._locate(pkg)
        doc = read_doc(self._runner, path, pkg.name) if path is not None else None
        if doc is None:
            return None, "", False
        text = source_changelog(doc)
        return (parse_changelog(text) if text else None), doc.link, True


def _key(target: Target) -> _Key:
    return (target[0].name, target[0].version, target[1])


def apt_download(runner: Runner, root: str, native: str, packages: Sequence[Package]) -> None:
    """``apt-get download`` into ``<root>/var/cache/apt/archives`` under apt's own file names,
    all packages in one call (apt fetches from several hosts at once and pipelines per host:
    measured faster than several processes); when apt refuses the batch, one call each."""
    archives = Path(root) / "var/cache/apt/archives"
    try:
        archives.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # a read-only root: only what is cached can be read
    specs = [
        f"{p.name}={p.version}"
        if p.arch in (native, "all", "")
        else f"{p.name}:{p.arch}={p.version}"
        for p in packages
    ]
    # `apt-get download` writes to the working directory; env --chdir sets it without a shell
    argv = ["env", f"--chdir={archives}", "apt-get", "-q", "-o", "APT::Sandbox::User=root"]
    with apt_env(root, native) as env:
        result = runner.run([*argv, "download", *specs], env=env, timeout=1800)
        if result.returncode != 0 and len(specs) > 1:
            for spec in specs:
                runner.run([*argv, "download", spec], env=env, timeout=1800)


def changelog_advisories(results: Iterable[UpdateChangelog], ecosystem: str) -> list[Advisory]:
    """``Advisory(source="changelog", status=FIXED)`` per (CVE, source package); the fixed
    version is the oldest changelog entry (newer than the installed one) that names it."""
    found: dict[tuple[str, str], Advisory] = {}
    for result in results:
        first: dict[str, str] = {}
        for version, ids in result.entries:  # newest first: the last write is the oldest
            for cve in ids:
                first[cve] = version
        for cve, version in first.items():
            advisory = Advisory(
                id=cve,
                source="changelog",
                ecosystem=ecosystem,
                package=result.source,
                status=AdvisoryStatus.FIXED,
                fixed_version=version,
            )
            found.setdefault((cve, result.source), advisory)
    return sorted(found.values(), key=lambda a: (a.package, a.id))


def release_ecosystem(os_info: OsInfo) -> str:
    """OSV-style release of a Debian-family root (``Debian:12``, ``Ubuntu:22.04:LTS``), as the
    matcher names it; ``<Id>:<version or codename>`` for a release it has no mapping for."""
    known = matching.ecosystem_of(os_info)
    return known or f"{os_info.id.capitalize()}:{os_info.version_id or os_info.codename}"
