"""Which available version to report and install for one (name, arch) (reference §1.4).

AWS Patch Manager judges every available version of a package and reports the **highest
version that matches the baseline**.  On apt "highest" is apt's own preference among the
approved versions: the highest pin priority, then the newest — exactly the version apt
would install if the versions the baseline does not approve did not exist.  So a baseline
that approves everything reports apt's candidate, and a security-only baseline reports the
newest security-pocket version even when a point release or ``-updates`` offers a newer
one.  rpm versions carry no priority: the newest approved version wins.

Beyond AWS, :attr:`SecurityUpdates.NEWEST_IN_RELEASE` trades the approved security version
for the newest version of the same release that contains it (see :func:`_newest_in_release`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from patchwarden.core.baseline.model import Approval, SecurityUpdates
from patchwarden.core.model import Package
from patchwarden.core.versions import COMPARATORS

_SECURITY_SUFFIX = "-security"


@dataclass(frozen=True)
class UpdateChoice:
    """The update to report for one (name, arch)."""

    package: Package
    """The version to install: the highest approved candidate (or, with
    ``NEWEST_IN_RELEASE``, the newest of its release)."""
    approval: Approval
    cves: tuple[str, ...]
    """CVEs of the chosen update and of every candidate it skips over (sorted)."""
    security_fix: Package | None = None
    """With ``NEWEST_IN_RELEASE``: the approved security version ``package`` stands in for."""


def preference_key(scheme: str) -> Callable[[Package], Any]:
    """Sort key of the package manager's own preference: pin priority, then version."""
    version_key = functools.cmp_to_key(COMPARATORS[scheme])

    def key(pkg: Package) -> tuple[int, Any]:
        return (pkg.pin_priority or 0, version_key(pkg.version))

    return key


def preferred(candidates: Iterable[Package], scheme: str) -> Package | None:
    """The version the package manager would pick itself (apt's candidate): the highest
    pin priority, the newest on ties; ``None`` when there is no candidate."""
    return max(candidates, key=preference_key(scheme), default=None)


def select(
    approve: Callable[[Package], Approval],
    candidates: Iterable[Package],
    *,
    scheme: str,
    installed_version: str | None = None,
    security_updates: SecurityUpdates = SecurityUpdates.AS_APPROVED,
) -> UpdateChoice | None:
    """The update to report among ``candidates`` (see the module docstring); ties between
    equal versions go to the highest compliance level.  ``None`` when nothing is approved.

    Candidates not newer than ``installed_version`` (when given) are ignored.
    """
    compare = COMPARATORS[scheme]
    pool = [
        c
        for c in candidates
        if installed_version is None or compare(c.version, installed_version) > 0
    ]
    key = preference_key(scheme)
    best: tuple[Package, Approval] | None = None
    for candidate in pool:
        verdict = approve(candidate)
        if not verdict.approved:
            continue
        if best is None:
            best = (candidate, verdict)
            continue
        mine, theirs = key(candidate), key(best[0])
        if mine > theirs or (mine == theirs and verdict.level.rank > best[1].level.rank):
            best = (candidate, verdict)
    if best is None:
        return None
    chosen, approval = best
    fix: Package | None = None
    if security_updates is SecurityUpdates.NEWEST_IN_RELEASE and chosen.update_notice:
        newer = _newest_in_release(chosen, pool, approve, scheme)
        if newer is not None:
            chosen, fix = newer, chosen
    cves: set[str] = set(chosen.cve_ids)
    for candidate in pool:
        if compare(candidate.version, chosen.version) <= 0:
            cves.update(candidate.cve_ids)
    return UpdateChoice(chosen, approval, tuple(sorted(cves)), fix)


def release_pockets(security: Package) -> frozenset[str]:
    """The archives of the release a security version belongs to: ``bookworm-security`` →
    ``bookworm``, ``bookworm-updates`` (Debian's ``oldstable-security`` → ``oldstable``,
    ``oldstable-updates``; Ubuntu's ``jammy-security`` → ``jammy``, ``jammy-updates``)."""
    pockets: set[str] = set()
    for origin in security.origins:
        if origin.archive.endswith(_SECURITY_SUFFIX):
            base = origin.archive[: -len(_SECURITY_SUFFIX)]
            pockets.update((base, f"{base}-updates"))
    return frozenset(pockets)


def _newest_in_release(
    security: Package,
    pool: Sequence[Package],
    approve: Callable[[Package], Approval],
    scheme: str,
) -> Package | None:
    """The preferred version newer than ``security`` published in its release's own pockets
    (never backports or proposed), unless the baseline rejects it."""
    pockets = release_pockets(security)
    compare = COMPARATORS[scheme]
    newer = [
        c
        for c in pool
        if compare(c.version, security.version) > 0
        and any(o.archive in pockets for o in c.origins)
        and not approve(c).rejected
    ]
    return preferred(newer, scheme)
