"""Assess vulnerabilities: an inventory, the advisory database and other advisory sources →
findings with their status (ACTIVE / SUPPRESSED / CLOSED) and history.

``scan --vulns`` calls :func:`assess` after collecting the inventory; its findings go into
``Report.vulnerabilities`` and the CVEs each pending update fixes into the patch items.
Advisory sources other than the database (changelog CVEs of pending updates, …) are plain
callables ``inventory → advisories``, so any adapter can plug one in.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from patchwarden.core import exploit, matching
from patchwarden.core.aliases import cve_key
from patchwarden.core.model import Inventory, PatchItem, PatchState
from patchwarden.core.suppression import Suppression, suppress, track
from patchwarden.core.versions import COMPARATORS
from patchwarden.core.vuln import Advisory, AdvisoryStatus, Finding, FindingStatus, Severity
from patchwarden.ports import AdvisoryStore, EcosystemIndex, FindingHistory

AdvisorySource = Callable[[Inventory], Iterable[Advisory]]
"""Extra advisories for one inventory (e.g. CVEs named by pending updates' changelogs)."""


def updateinfo_advisories(inventory: Inventory) -> list[Advisory]:
    """The CVE references of rpm update notices as advisories, so an rpm node gets findings
    with fixed versions even without any feed: CVE-X is fixed in every update version whose
    notice names it (the lowest such version is the fix, as the matcher takes the first
    fixed version above the installed one)."""
    ecosystem = matching.ecosystem_of(inventory.os)
    if inventory.scheme != "rpm" or ecosystem is None:
        return []
    found: list[Advisory] = []
    for update in inventory.updates:
        if not update.cve_ids:
            continue
        # one advisory per notice-covered version, as an OSV DSA record names its CVEs: the
        # matcher counts it for each CVE and keeps the notice id as an alias of each
        ids = (*update.advisory_ids, *update.cve_ids)
        found.append(
            Advisory(
                id=ids[0],
                source="updateinfo",
                ecosystem=ecosystem,
                package=update.name,
                status=AdvisoryStatus.FIXED,
                fixed_version=update.version,
                aliases=ids[1:],
                vendor_severity=update.severity,
            )
        )
    return found


@dataclass(frozen=True)
class Assessment:
    """What the assessment of one node found."""

    findings: tuple[Finding, ...]
    """To report: open findings (ACTIVE/SUPPRESSED) and CLOSED ones of the last 30 days,
    most severe first; without the unfixed ones under ``ignore_unfixed``."""
    warnings: tuple[str, ...] = ()
    patch_cves: Mapping[tuple[str, str, str], tuple[str, ...]] = field(default_factory=dict)
    """(name, arch, version) of a pending update → the CVE ids installing it fixes."""
    assessed: bool = True
    """False when the node's release could not be assessed at all (see ``warnings``)."""


def assess(
    inventory: Inventory,
    now: datetime,
    *,
    store: AdvisoryStore | None,
    state: FindingHistory | None = None,
    sources: Sequence[AdvisorySource] = (),
    suppressions: Sequence[Suppression] = (),
    ignore_unfixed: bool = False,
    node_names: Iterable[str] = (),
    max_age: timedelta | None = None,
) -> Assessment:
    """Findings of ``inventory`` at ``now``.

    ``state`` keeps first/last observed and the CLOSED lifecycle per root (no history
    without it); ``node_names`` (beyond hostname and root) are matched by suppressions'
    ``Nodes``; ``max_age``: warn about database feeds updated longer ago than that.
    """
    warnings = _stale(store, now, max_age) if store is not None else []
    ecosystem = matching.ecosystem_of(inventory.os)
    scheme = matching.scheme_of(ecosystem) if ecosystem else None
    if ecosystem is None or scheme not in COMPARATORS:
        why = (
            f"no vulnerability data mapping for {inventory.os.pretty_name or inventory.os.id}"
            if ecosystem is None
            else f"{ecosystem}: version scheme {scheme or '?'!r} is not supported yet"
        )
        return Assessment((), (*warnings, f"vulnerabilities not assessed: {why}"), {}, False)
    names = matching.query_names(inventory, scheme)
    extra = [
        a
        for source in (updateinfo_advisories, *sources)
        for a in source(inventory)
        if a.ecosystem == ecosystem
    ]
    no_data = False
    with _collector_paused():
        held = _ecosystems_of(store, ecosystem)
        advisories = [
            a if a.ecosystem == ecosystem else replace(a, ecosystem=ecosystem)
            for eco in held
            for a in (store.advisories(eco, names) if store is not None else [])
        ]
        if store is not None and not advisories and names:
            no_data = not _store_knows(store, ecosystem)
        result = matching.match(inventory, [*advisories, *extra], ecosystem, now)
        found = _with_exploits(store, result.findings) if store is not None else result.findings
    if no_data:
        warnings.append(
            f"the vulnerability database has no advisories for {ecosystem} "
            f"({len(names)} source packages asked): an end-of-life release, or its "
            "feed was not imported; findings may be missing"
        )
    warnings.extend(result.notes)
    nodes = {inventory.hostname, inventory.root, *node_names} - {""}
    current = suppress(found, suppressions, nodes, now)
    if state is not None:  # no data is no reason to close findings (the notices' stay)
        history = state.finding_history(inventory.root)
        reported, records = track(current, history, now, close_unseen=not no_data)
        state.record_findings(inventory.root, records)
    else:
        reported = current
    fixes = matching.patch_cves(current, inventory.updates, scheme)
    if ignore_unfixed:
        reported = tuple(f for f in reported if f.fixed_version is not None)
    return Assessment(tuple(sorted(reported, key=display_order)), tuple(warnings), fixes)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Reading tens of thousands of advisories and matching them allocates hundreds of
    thousands of objects and no reference cycles: the cyclic collector's full passes over
    them cost a third of the time (bench/matching.py), so it waits until the end."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _with_exploits(store: AdvisoryStore, findings: Sequence[Finding]) -> tuple[Finding, ...]:
    """The findings with the exploit feeds' word on their CVEs (CISA KEV, FIRST EPSS) and
    NVD's CVSS score where nothing better rated them, stored as advisories of reserved
    ecosystems keyed by CVE id (asked only when the store holds those feeds)."""
    cves = exploit.cve_ids(findings)
    held = {f.name for f in store.feeds()}
    ecosystems = [eco for name, eco in exploit.FEED_ECOSYSTEMS.items() if name in held]
    if not cves or not (ecosystems or exploit.NVD_FEED in held):
        return tuple(findings)
    if exploit.NVD_FEED in held:
        findings = exploit.with_nvd(findings, store.advisories(exploit.NVD_ECOSYSTEM, cves))
    looked_up = [a for eco in ecosystems for a in store.advisories(eco, cves)]
    return exploit.enrich(findings, exploit.intel(looked_up))


def display_order(f: Finding) -> tuple[bool, int, str, str, str]:
    """Open before CLOSED, most severe first, then by id, package and arch."""
    closed = f.status is FindingStatus.CLOSED
    return (closed, -_RANK[f.severity], f.vulnerability_id, f.package_name, f.package_arch)


_RANK = {s: s.rank for s in Severity}


def _store_knows(store: AdvisoryStore, ecosystem: str) -> bool:
    """Whether the store says it holds data for ``ecosystem`` (stores that cannot tell
    — not an :class:`EcosystemIndex` — are taken as not holding it)."""
    if not isinstance(store, EcosystemIndex):
        return False
    held = set(store.ecosystems())
    return bool(held.intersection(matching.release_ecosystems(ecosystem, held)))


def _ecosystems_of(store: AdvisoryStore | None, ecosystem: str) -> list[str]:
    """The ecosystems to read for a node of ``ecosystem``: itself, and on SUSE Linux
    Enterprise every module and support phase of its service pack the store holds."""
    if not matching.spans_ecosystems(ecosystem) or not isinstance(store, EcosystemIndex):
        return [ecosystem]
    return matching.release_ecosystems(ecosystem, store.ecosystems())


def _stale(store: AdvisoryStore, now: datetime, max_age: timedelta | None) -> list[str]:
    if max_age is None:
        return []
    from patchwarden.pipeline.dbupdate import staleness_warning

    warning = staleness_warning(store, now, max_age)
    return [warning] if warning else []


def with_patch_cves(items: Iterable[PatchItem], assessment: Assessment) -> tuple[PatchItem, ...]:
    """Patch items whose MISSING/FAILED update fixes CVEs list them in ``cves``."""
    out = []
    for item in items:
        fixed = assessment.patch_cves.get((item.name, item.arch, item.available_version or ""))
        if fixed and item.state in (PatchState.MISSING, PatchState.FAILED):
            merged = tuple(sorted({*item.cves, *fixed}, key=cve_key))
            item = replace(item, cves=merged)
        out.append(item)
    return tuple(out)
