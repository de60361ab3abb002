"""ApprovedPatches / RejectedPatches matching (reference §1.7).

A package is *rendered* in several textual forms (name, name.arch, name-version, …); a list
entry matches when it equals one rendering, or, when it contains ``*``, ``?`` or ``[..]``,
when it fnmatch-es one.  Everything is compared lower-cased.  The approved list of rpm
baselines also accepts advisory, CVE and Bugzilla ids.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from patchwarden.core.model import Package

_GLOB = re.compile(r"[*?]|\[.+\]")
_CVE = re.compile(r"^CVE-\d{4}-\d+$", re.IGNORECASE)
_BUGZILLA = re.compile(r"^\d+$")
_ADVISORY = re.compile(
    r"^[A-Z][A-Z0-9]*-\d{4}[:-]\d+$"  # RHSA-2024:1234, ALAS-2023-123, ALSA-2024:0001
    r"|^FEDORA(?:-EPEL)?(?:-[A-Z0-9]+)?-\d{4}-[0-9a-f]{10}$"  # FEDORA-2024-0a1b2c3d4e
)


def is_glob(entry: str) -> bool:
    """Whether a list entry or filter value is a pattern (``*``, ``?`` or ``[..]``)."""
    return _GLOB.search(entry) is not None


def is_update_id(entry: str) -> bool:
    """Whether an entry looks like a CVE, Bugzilla (digits only) or advisory id."""
    return bool(_CVE.match(entry) or _BUGZILLA.match(entry) or _ADVISORY.match(entry))


def apt_renderings(name: str, arch: str, version: str) -> tuple[str, ...]:
    """The apt forms ``n, v, na, nv, av, nav``: ``name``, ``1.2-3``, ``name.amd64``,
    ``name-1.2-3``, ``amd64:1.2-3`` and ``name.amd64:1.2-3`` (lower-cased)."""
    n, a, v = name.lower(), arch.lower(), version.lower()
    return (n, v, f"{n}.{a}", f"{n}-{v}", f"{a}:{v}", f"{n}.{a}:{v}")


def rpm_renderings(name: str, arch: str, version: str) -> tuple[str, ...]:
    """The rpm forms ``n, na, nv, nvr, nvra, nevr, nevra, envra, v, vr, evr, naevr``.

    ``version`` is ``[epoch:]version-release``; a missing epoch renders as ``0`` as dnf
    does, so ``bash-0:5.1-2.el9.x86_64`` (nevra) and ``bash.x86_64:0:5.1-2.el9`` (naevr)
    are both forms of ``bash-5.1-2.el9.x86_64`` (nvra).
    """
    n, a = name.lower(), arch.lower()
    epoch, sep, rest = version.lower().partition(":")
    if not sep:
        epoch, rest = "0", epoch
    v, _, r = rest.partition("-")
    vr = f"{v}-{r}" if r else v
    return (
        n,
        f"{n}.{a}",
        f"{n}-{v}",
        f"{n}-{vr}",
        f"{n}-{vr}.{a}",
        f"{n}-{epoch}:{vr}",
        f"{n}-{epoch}:{vr}.{a}",
        f"{epoch}:{n}-{vr}.{a}",
        v,
        vr,
        f"{epoch}:{vr}",
        f"{n}.{a}:{epoch}:{vr}",
    )


def apk_renderings(name: str, arch: str, version: str) -> tuple[str, ...]:
    """The apk forms ``n, v, na, nv, n=v, nva``: ``musl``, ``1.2.4-r2``, ``musl.x86_64``,
    ``musl-1.2.4-r2`` (apk's own package file stem), ``musl=1.2.4-r2`` (apk's constraint
    syntax) and ``musl-1.2.4-r2.x86_64`` (lower-cased)."""
    n, a, v = name.lower(), arch.lower(), version.lower()
    return (n, v, f"{n}.{a}", f"{n}-{v}", f"{n}={v}", f"{n}-{v}.{a}")


RENDERERS: dict[str, Callable[[str, str, str], tuple[str, ...]]] = {
    "deb": apt_renderings,
    "rpm": rpm_renderings,
    "apk": apk_renderings,
}
"""Renderings per version scheme."""


@dataclass(frozen=True)
class NameList:
    """A compiled ApprovedPatches or RejectedPatches list."""

    entries: tuple[str, ...]
    exact: frozenset[str]
    pattern: re.Pattern[str] | None

    @classmethod
    def compile(cls, entries: Iterable[str]) -> NameList:
        """Lower-case the entries once and fold every glob into one regular expression."""
        kept = tuple(entries)
        lowered = [e.lower() for e in kept]
        globs = [e for e in lowered if is_glob(e)]
        pattern = re.compile("|".join(fnmatch.translate(g) for g in globs)) if globs else None
        return cls(kept, frozenset(lowered), pattern)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def matches(self, renderings: tuple[str, ...]) -> bool:
        """Whether one entry equals or fnmatch-es one of ``renderings`` (lower-cased)."""
        if not self.exact.isdisjoint(renderings):
            return True
        match = self.pattern
        return match is not None and any(match.match(r) for r in renderings)

    def matches_ids(self, pkg: Package) -> bool:
        """Whether one entry is an advisory, CVE or Bugzilla id of the package's notice."""
        exact = self.exact
        return any(
            i.lower() in exact
            for ids in (pkg.advisory_ids, pkg.cve_ids, pkg.bugzilla_ids)
            for i in ids
        )
