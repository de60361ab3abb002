"""Matching: which advisories affect which installed packages of one node, as Findings.

The rules, in the order they apply:

1. **Per distribution release.**  A node's OS maps to one OSV-style ecosystem
   (:mod:`patchwarden.core.ecosystems`: Debian ``VERSION_ID`` 12 → ``Debian:12``, Ubuntu 22.04 →
   ``Ubuntu:22.04:LTS``, Rocky 9.3 → ``Rocky Linux:9``); only advisories of that ecosystem
   count, and versions compare in its scheme (:data:`ECOSYSTEM_SCHEMES`).
2. **Binary → source.**  Debian, Ubuntu and Alpine data is keyed by *source* package, and
   fixed versions are source versions: a binary is judged by its ``source_name`` at its
   ``source_version`` (a binNMU ``1.0-1+b1`` is source ``1.0-1``; ``gcc`` 4:12.2.0-3 is
   source ``gcc-defaults`` 1.203).  rpm data may name binary or source rpms: both are looked up.
3. **Status** (:func:`evaluate`): FIXED → affected iff the version is below ``fixed_version``;
   AFFECTED / UNDETERMINED / WONT_FIX → affected, no fix (shown, never dropped);
   NOT_AFFECTED → never; OSV events → the OSV ``IsVulnerable`` algorithm (:func:`osv_affected`).
4. **Aliases** (:mod:`patchwarden.core.aliases`): ids joined by aliases are one vulnerability,
   one finding per installed package, named by its CVE.
5. **Precedence** (:data:`SOURCE_PRECEDENCE`): for one vulnerability and one package, only the
   most specific source that speaks about it decides status and fixed version; a distribution
   tracker saying "not affected" silences OSV's generic range (no backport false positives).
6. **Findings**: fixed version or none, fix YES/NO/PARTIAL (PARTIAL: the vulnerability has a
   fix for some of the node's affected packages and not for others), severity
   (:func:`patchwarden.core.cvss.severity_of`: CVSS band, else vendor rating, else UNTRIAGED).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cmp_to_key
from operator import attrgetter
from typing import NamedTuple

from patchwarden.core.aliases import AliasGroups, cve_key, is_cve
from patchwarden.core.cvss import severity_of
from patchwarden.core.ecosystems import (
    ECOSYSTEM_SCHEMES,
    OS_ECOSYSTEMS,
    ecosystem_of,
    lookups,
    query_names,
    release_ecosystems,
    scheme_of,
    spans_ecosystems,
)
from patchwarden.core.model import Inventory, Package
from patchwarden.core.versions import COMPARATORS, Comparator
from patchwarden.core.vuln import Advisory, AdvisoryStatus, Finding, FindingStatus, FixAvailable
from patchwarden.errors import InputError

__all__ = [
    "ECOSYSTEM_SCHEMES",
    "OS_ECOSYSTEMS",
    "SOURCE_PRECEDENCE",
    "MatchResult",
    "Verdict",
    "ecosystem_of",
    "evaluate",
    "match",
    "osv_affected",
    "patch_cves",
    "query_names",
    "release_ecosystems",
    "scheme_of",
    "spans_ecosystems",
]

SOURCE_PRECEDENCE: dict[str, int] = {
    "debian-tracker": 3,
    "ubuntu-tracker": 3,
    "alpine-secdb": 3,
    "alas": 3,
    "redhat-csaf": 3,
    "updateinfo": 3,
    "changelog": 2,
    "osv": 1,
}
"""Data source → specificity; the highest that speaks about a (vulnerability, package) wins.
Unknown sources rank 0."""


class Verdict(NamedTuple):
    """What one advisory says about one installed version (a tuple: made 50,000 times)."""

    affected: bool
    fixed_version: str | None
    status: AdvisoryStatus


def osv_affected(
    version: str, events: Sequence[tuple[str, str]], compare: Comparator
) -> tuple[bool, str | None]:
    """OSV ``IsVulnerable`` over one ECOSYSTEM range, and the first ``fixed`` above ``version``.

    Events are sorted in the scheme's order (``introduced: "0"`` first), then toggled:
    introduced ≤ v → vulnerable; fixed ≤ v → not; last_affected < v → not.  ``limit``
    events bound the range from above (``*`` = no bound).
    """
    if len(events) == 2 and events[0] == ("introduced", "0") and events[1][0] == "fixed":
        fixed = events[1][1]  # the usual shape: everything below one fix
        return (True, fixed) if compare(version, fixed) < 0 else (False, None)
    limits = [v for kind, v in events if kind == "limit"]
    if limits and not any(lim == "*" or compare(version, lim) < 0 for lim in limits):
        return False, None

    def order(a: tuple[str, str], b: tuple[str, str]) -> int:
        if a[1] == "0" or b[1] == "0":
            return (b[1] == "0") - (a[1] == "0")
        return compare(a[1], b[1])

    vulnerable = False
    for kind, v in sorted((e for e in events if e[0] != "limit"), key=cmp_to_key(order)):
        if kind == "introduced":
            vulnerable = vulnerable or v == "0" or compare(version, v) >= 0
        elif kind in ("fixed", "last_affected"):
            past = compare(version, v)
            if past > 0 or (past == 0 and kind == "fixed"):
                vulnerable = False
    if not vulnerable:
        return False, None
    above = [v for kind, v in events if kind == "fixed" and compare(v, version) > 0]
    return True, (min(above, key=cmp_to_key(compare)) if above else None)


def evaluate(adv: Advisory, version: str, compare: Comparator) -> Verdict:
    """What ``adv`` says about source (or rpm) version ``version``; raises InputError for a
    version the scheme cannot parse.  A verdict that is not affected carries no version."""
    status = adv.status
    if status is AdvisoryStatus.NOT_AFFECTED:
        return _CLEAR
    if adv.events:
        affected, fixed = osv_affected(version, adv.events, compare)
        if not affected:
            return _CLEAR
        if fixed:
            return Verdict(True, fixed, AdvisoryStatus.FIXED)
        return Verdict(True, None, AdvisoryStatus.AFFECTED if status is _FIXED else status)
    if status is _FIXED:
        if not adv.fixed_version:  # no version given: affected, fix unknown
            return _UNKNOWN_FIX
        if compare(version, adv.fixed_version) >= 0:
            return _CLEAR
        return Verdict(True, adv.fixed_version, status)
    return _UNFIXED[status]


_FIXED = AdvisoryStatus.FIXED
_CLEAR = Verdict(False, None, AdvisoryStatus.NOT_AFFECTED)
_UNKNOWN_FIX = Verdict(True, None, AdvisoryStatus.AFFECTED)
_UNFIXED = {s: Verdict(True, None, s) for s in AdvisoryStatus}
"""Shared verdicts: the matcher evaluates tens of thousands of advisories per node."""


@dataclass(frozen=True)
class MatchResult:
    """Findings of one node (ACTIVE, ordered by id, package, arch) and notes on skipped data."""

    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()


Pair = tuple[Advisory, Verdict]
Said = tuple[dict[str, list[Pair]], dict[str, int]]
"""What the advisories of one (package, version) say, per vulnerability: the affected
verdicts, and the precedence of the most specific source that says "not affected"."""


def _decide(
    pairs: list[Pair], cleared: int, compare: Comparator
) -> tuple[Verdict, list[Pair]] | None:
    """The verdict about one vulnerability and the statements that decided it (``None``:
    not affected).  ``pairs`` are the affected verdicts, ``cleared`` the precedence of the
    most specific source saying "not affected" (-1: none); the most specific wins, and
    among equals any "affected" does, with the highest fix."""
    rank = SOURCE_PRECEDENCE.get
    if len(pairs) == 1:  # the usual case: one source, one statement
        return (pairs[0][1], pairs) if rank(pairs[0][0].source, 0) >= cleared else None
    top = max(rank(a.source, 0) for a, _ in pairs)
    if top < cleared:
        return None
    best = [(a, v) for a, v in pairs if rank(a.source, 0) == top]
    fixes = [v.fixed_version for _, v in best]
    if all(fixes):
        return Verdict(True, max((f for f in fixes if f), key=cmp_to_key(compare)), _FIXED), best
    unfixed = [v.status for _, v in best if not v.fixed_version]
    status = AdvisoryStatus.AFFECTED if AdvisoryStatus.AFFECTED in unfixed else unfixed[0]
    return Verdict(True, None, status), best


def match(
    inventory: Inventory,
    advisories: Iterable[Advisory],
    ecosystem: str,
    observed: datetime | None = None,
) -> MatchResult:
    """Findings of ``inventory`` against ``advisories`` of ``ecosystem`` (others are ignored),
    first and last observed at ``observed``.

    Raises :class:`~patchwarden.errors.InputError` when the ecosystem's scheme has no
    comparator (callers check :func:`scheme_of` first and report a warning instead).
    """
    scheme = scheme_of(ecosystem) or ""
    if scheme not in COMPARATORS:
        raise InputError(f"{ecosystem}: no version comparator for scheme {scheme or '?'!r}")
    compare = COMPARATORS[scheme]
    by_name: dict[str, list[Advisory]] = {}
    for adv in advisories:
        if adv.ecosystem == ecosystem:
            by_name.setdefault(adv.package, []).append(adv)
    groups = AliasGroups([a for advs in by_name.values() for a in advs], SOURCE_PRECEDENCE)
    bad: list[str] = []
    evaluated: dict[tuple[str, str], Said] = {}
    decided: dict[tuple[tuple[str, str], ...], list[Finding]] = {}
    members: dict[str, tuple[list[Advisory], tuple[str, ...]]] = {}
    findings: list[Finding] = []
    for ip in inventory.installed:
        if ip.status == "config-files":
            continue
        pkg = ip.package
        keys = lookups(pkg, scheme)
        done = decided.get(keys)
        if done is not None:  # another binary of the same source (at the same version)
            findings.extend(_for_package(f, pkg) for f in done)
            continue
        for key in keys:
            if key not in evaluated:
                evaluated[key] = _evaluate_all(by_name.get(key[0], ()), key, groups, compare, bad)
        hits, cleared = evaluated[keys[0]] if len(keys) == 1 else _merge(evaluated, keys)
        decided[keys] = done = [
            _finding(pkg, groups, members, root, *d, observed)
            for root, pairs in hits.items()
            if (d := _decide(pairs, cleared.get(root, -1), compare)) is not None
        ]
        findings.extend(done)
    return MatchResult(_with_partial(findings), tuple(_notes(bad)))


def _evaluate_all(
    advs: Iterable[Advisory],
    key: tuple[str, str],
    groups: AliasGroups,
    compare: Comparator,
    bad: list[str],
) -> Said:
    hits: dict[str, list[Pair]] = {}
    cleared: dict[str, int] = {}
    rank = SOURCE_PRECEDENCE.get
    for adv in advs:
        try:
            verdict = evaluate(adv, key[1], compare)
        except InputError:
            bad.append(f"{adv.id} ({adv.source}, {adv.package})")
            continue
        root = groups.root(adv)
        roots = (root,) if root is not None else groups.roots(adv)
        if verdict.affected:
            for r in roots:
                hits.setdefault(r, []).append((adv, verdict))
        else:
            level = rank(adv.source, 0)
            for r in roots:
                if cleared.get(r, -1) < level:
                    cleared[r] = level
    return hits, cleared


def _merge(evaluated: Mapping[tuple[str, str], Said], keys: Iterable[tuple[str, str]]) -> Said:
    """What several (package, version) lookups of one rpm say together."""
    hits: dict[str, list[Pair]] = {}
    cleared: dict[str, int] = {}
    for key in keys:
        more, clear = evaluated[key]
        for root, pairs in more.items():
            hits.setdefault(root, []).extend(pairs)
        for root, level in clear.items():
            cleared[root] = max(level, cleared.get(root, -1))
    return hits, cleared


def _finding(
    pkg: Package,
    groups: AliasGroups,
    ordered: dict[str, tuple[list[Advisory], tuple[str, ...]]],
    root: str,
    verdict: Verdict,
    best: list[Pair],
    observed: datetime | None,
) -> Finding:
    primary, aliases = groups.names(root)
    known = ordered.get(root)
    if known is None:
        members = groups.members(root)
        if len(members) > 1:
            members.sort(key=_member_order)
        sources = tuple(sorted({a.source for a in members}, key=_precedence_order))
        known = ordered[root] = (members, sources)
    members, sources = known
    specific = [best[0][0]] if len(best) == 1 else sorted((a for a, _ in best), key=_member_order)
    severity, how, score, vector, vendor = severity_of(specific, members)
    title = next((a.summary for a in specific if a.summary), "") or next(
        (a.summary for a in members if a.summary), ""
    )
    return Finding(
        vulnerability_id=primary,
        aliases=aliases,
        package_name=pkg.name,
        package_version=pkg.version,
        package_arch=pkg.arch,
        source_name=pkg.source_name or pkg.name,
        fixed_version=verdict.fixed_version,
        fix_available=FixAvailable.YES if verdict.fixed_version else FixAvailable.NO,
        severity=severity,
        severity_source=how,
        advisory_status=verdict.status,
        sources=sources,
        status=FindingStatus.ACTIVE,
        cvss_score=score,
        cvss_vector=vector,
        vendor_severity=vendor,
        title=title,
        first_observed=observed,
        last_observed=observed,
    )


def _for_package(f: Finding, pkg: Package) -> Finding:
    """``f`` (decided for a source package) for another binary of that source."""
    return Finding(
        vulnerability_id=f.vulnerability_id,
        aliases=f.aliases,
        package_name=pkg.name,
        package_version=pkg.version,
        package_arch=pkg.arch,
        source_name=f.source_name,
        fixed_version=f.fixed_version,
        fix_available=f.fix_available,
        severity=f.severity,
        severity_source=f.severity_source,
        advisory_status=f.advisory_status,
        sources=f.sources,
        cvss_score=f.cvss_score,
        cvss_vector=f.cvss_vector,
        vendor_severity=f.vendor_severity,
        title=f.title,
        first_observed=f.first_observed,
        last_observed=f.last_observed,
    )


def _precedence_order(source: str) -> tuple[int, str]:
    return (-SOURCE_PRECEDENCE.get(source, 0), source)


def _member_order(a: Advisory) -> tuple[int, str, str, str]:
    """Most specific source first; then a fixed order, so the result never depends on the
    order the store returned advisories in."""
    return (-SOURCE_PRECEDENCE.get(a.source, 0), a.source, a.package, a.id)


def _with_partial(findings: list[Finding]) -> tuple[Finding, ...]:
    """Fix PARTIAL where one vulnerability has fixed and unfixed packages on the node."""
    fixed = {f.vulnerability_id for f in findings if f.fixed_version is not None}
    unfixed = {f.vulnerability_id for f in findings if f.fixed_version is None}
    partial = fixed & unfixed
    out = [
        replace(f, fix_available=FixAvailable.PARTIAL) if f.vulnerability_id in partial else f
        for f in findings
    ]
    return tuple(sorted(out, key=_KEY))


_KEY = attrgetter("vulnerability_id", "package_name", "package_arch")


def _notes(bad: list[str]) -> list[str]:
    if not bad:
        return []
    more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
    return [f"{len(bad)} advisories skipped: unparsable versions in {', '.join(bad[:3])}{more}"]


def patch_cves(
    findings: Iterable[Finding], updates: Iterable[Package], scheme: str
) -> Mapping[tuple[str, str, str], tuple[str, ...]]:
    """(name, arch, version) of each update → the CVE ids installing it fixes (sorted).

    An update fixes an open finding of the same package slot when its (source) version is at
    or above the finding's fixed version.
    """
    compare = COMPARATORS.get(scheme)
    open_: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.fixed_version and f.status is not FindingStatus.CLOSED:
            open_.setdefault((f.package_name, f.package_arch), []).append(f)
    out: dict[tuple[str, str, str], tuple[str, ...]] = {}
    if compare is None:
        return out
    for u in updates:
        cves: set[str] = set()
        version = u.source_version or u.version
        for f in open_.get((u.name, u.arch), ()):
            try:
                fixes = f.fixed_version is not None and compare(version, f.fixed_version) >= 0
            except InputError:
                continue
            if fixes:
                cves.update(i for i in (f.vulnerability_id, *f.aliases) if is_cve(i))
        if cves:
            out[(u.name, u.arch, u.version)] = tuple(sorted(cves, key=cve_key))
    return out
