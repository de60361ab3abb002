"""Per-patch compliance states and the node rollup (reference §3.1, §3.2).

:func:`evaluate` judges an :class:`~patchwarden.core.model.Inventory` against a
:class:`~patchwarden.core.baseline.PatchBaseline`: one :class:`PatchItem` per installed
(name, arch), plus NOT_APPLICABLE items for approved-list names that are not installed.
:func:`summarize` computes the node rollup from any list of items.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from types import MappingProxyType

from patchwarden.core.baseline import Judge, PatchBaseline, UpdateChoice, bind, preferred
from patchwarden.core.baseline.patterns import RENDERERS, is_glob, is_update_id
from patchwarden.core.model import (
    Compliance,
    ComplianceLevel,
    ComplianceSummary,
    InstalledPackage,
    Inventory,
    Operation,
    Package,
    PatchItem,
    PatchState,
)
from patchwarden.core.versions import COMPARATORS

Key = tuple[str, str]
"""(name, arch)."""

_NO_FAILURES: Mapping[Key, str] = MappingProxyType({})
_ABSENT = frozenset({"config-files", "not-installed"})
"""Package-database states that mean "not on the node": such records are skipped."""


@dataclass(frozen=True)
class ComplianceResult:
    """The items of one evaluation and their rollup."""

    items: tuple[PatchItem, ...]
    summary: ComplianceSummary


def evaluate(
    inventory: Inventory,
    baseline: PatchBaseline,
    now: datetime,
    *,
    operation: Operation = Operation.SCAN,
    pending_reboot: frozenset[Key] = frozenset(),
    failed: Mapping[Key, str] = _NO_FAILURES,
) -> ComplianceResult:
    """Judge every installed package of ``inventory`` against ``baseline`` at ``now``.

    Per (name, arch), first match wins: in ``failed`` → FAILED (detail = its message); not
    fully installed (dpkg ``half-installed``, ``unpacked`` …) → FAILED; an approved update
    in ``inventory.updates`` → MISSING on Scan, FAILED on Install (a phased update apt
    keeps back is not missing: it is the item's ``deferred_version``); installed version on
    RejectedPatches with BLOCK → INSTALLED_REJECTED; in ``pending_reboot`` →
    INSTALLED_PENDING_REBOOT; installed version approved → INSTALLED; otherwise
    INSTALLED_OTHER (an InstallOverrideList install the baseline does not approve, too).
    """
    run = _Run(
        bind(baseline, product=inventory.os.product, now=now, scheme=inventory.scheme),
        operation,
        pending_reboot,
        failed,
    )
    updates: dict[Key, list[Package]] = {}
    for update in inventory.updates:
        updates.setdefault(update.key, []).append(update)
    items = [
        run.judge_one(record, updates.get(record.package.key, []))
        for record in _newest_records(inventory)
    ]
    items.extend(_not_applicable(baseline, inventory))
    items.sort(key=lambda item: (item.state.compliant, item.name, item.arch))
    return ComplianceResult(tuple(items), summarize(items))


def _newest_records(inventory: Inventory) -> Iterable[InstalledPackage]:
    """One record per (name, arch): the highest version when several are installed
    (rpm install-only packages such as kernels)."""
    chosen: dict[Key, InstalledPackage] = {}
    for record in inventory.installed:
        if record.status in _ABSENT:
            continue
        key = record.package.key
        seen = chosen.get(key)
        if seen is None:
            chosen[key] = record
        else:
            compare = COMPARATORS[inventory.scheme]
            if compare(record.package.version, seen.package.version) > 0:
                chosen[key] = record
    return chosen.values()


@dataclass(frozen=True)
class _Run:
    """The bound baseline and the facts of the operation being reported."""

    judge: Judge
    operation: Operation
    pending_reboot: frozenset[Key]
    failed: Mapping[Key, str]

    def judge_one(self, record: InstalledPackage, candidates: Sequence[Package]) -> PatchItem:
        """The state of one installed (name, arch); the order of the tests is the spec."""
        judge, pkg = self.judge, record.package
        key = pkg.key
        choice = judge.select_update(candidates)
        deferred: Package | None = None
        if choice is not None and choice.package.kept_back:
            deferred, choice = choice.package, None  # apt holds it back: not installable yet
        notes = _Notes(judge, pkg, candidates, choice, deferred)
        if key in self.failed or not record.is_installed:
            detail = self.failed.get(key) or (
                f"package database state is {record.status!r}, not 'installed' "
                "(an interrupted install; dpkg --configure -a may finish it)"
            )
            level = choice.approval.level if choice else judge.approve(pkg).level
            return notes.item(PatchState.FAILED, level, detail)
        if choice is not None:
            if self.operation is Operation.INSTALL:
                detail = f"approved update {choice.package.version} is still not installed"
                return notes.item(PatchState.FAILED, choice.approval.level, detail)
            return notes.item(PatchState.MISSING, choice.approval.level, notes.why_chosen())
        verdict = judge.approve(pkg)
        if verdict.rejected and judge.baseline.blocks_rejected:
            detail = "on RejectedPatches (RejectedPatchesAction BLOCK)"
            return notes.item(PatchState.INSTALLED_REJECTED, verdict.level, detail)
        level = verdict.level if verdict.approved else ComplianceLevel.UNSPECIFIED
        if key in self.pending_reboot:
            detail = "installed, reboot pending"
            return notes.item(PatchState.INSTALLED_PENDING_REBOOT, level, detail)
        if verdict.approved:
            return notes.item(PatchState.INSTALLED, level, notes.unapproved())
        if verdict.rejected:
            detail = "on RejectedPatches (RejectedPatchesAction ALLOW_AS_DEPENDENCY)"
        else:
            detail = notes.unapproved()
        return notes.item(PatchState.INSTALLED_OTHER, level, detail)


@dataclass(frozen=True)
class _Notes:
    """One (name, arch) being judged: builds its item and explains the choice."""

    judge: Judge
    installed: Package
    candidates: Sequence[Package]
    choice: UpdateChoice | None
    deferred: Package | None

    @cached_property
    def candidate(self) -> Package | None:
        """The package manager's own pick when it is newer than what the item reports."""
        top = preferred(self.candidates, self.judge.scheme)
        floor = self.choice.package if self.choice else self.deferred
        if top is None or top is floor:
            return None
        if floor is not None and COMPARATORS[self.judge.scheme](top.version, floor.version) <= 0:
            return None
        return top

    def why_chosen(self) -> str:
        """Why a MISSING item reports this version (when it is not the obvious one)."""
        assert self.choice is not None
        notes = []
        if self.choice.security_fix is not None:
            notes.append(
                f"newest version of the release with security fix "
                f"{self.choice.security_fix.version} (Patchwarden.SecurityUpdates "
                "NEWEST_IN_RELEASE)"
            )
        if (top := self.candidate) is not None:
            notes.append(
                f"newer version {top.version}{_where(top)} not approved: "
                f"{self.judge.approve(top).reason}"
            )
        return "; ".join(notes)

    def unapproved(self) -> str:
        """Why the available updates (none approved, or one deferred) are not MISSING."""
        notes = []
        if (held := self.deferred) is not None:
            notes.append(
                f"phased update {held.version} deferred: apt keeps it back on this node "
                f"for now (Phased-Update-Percentage {held.phasing})"
            )
        for c in self.candidates:
            if c is not held:
                notes.append(f"update {c.version} not approved: {self.judge.approve(c).reason}")
        return "; ".join(notes)

    def item(self, state: PatchState, level: ComplianceLevel, detail: str) -> PatchItem:
        installed, choice = self.installed, self.choice
        source = choice.package if choice else installed
        # a newer version standing in for a security fix is still that security fix
        kind = (choice.security_fix or choice.package) if choice else installed
        top = self.candidate
        return PatchItem(
            name=installed.name,
            arch=installed.arch,
            installed_version=installed.version,
            available_version=choice.package.version if choice else None,
            state=state,
            classification=kind.classification,
            severity=level,
            vendor_severity=kind.severity,
            repository=source.repository,
            release_date=source.release_date,
            cves=choice.cves if choice else installed.cve_ids,
            detail=detail,
            candidate_version=top.version if top is not None else None,
            deferred_version=self.deferred.version if self.deferred is not None else None,
        )


def _where(pkg: Package) -> str:
    return f" ({pkg.repository})" if pkg.repository else ""


def _not_applicable(baseline: PatchBaseline, inventory: Inventory) -> list[PatchItem]:
    """ApprovedPatches entries naming a package the node does not have (exact names only:
    no patterns, no CVE/advisory/Bugzilla ids)."""
    packages = [r.package for r in inventory.installed if r.status not in _ABSENT]
    packages.extend(inventory.updates)
    present = {pkg.name.lower() for pkg in packages}
    entries = [
        e
        for e in dict.fromkeys(baseline.approved_patches)
        if e.lower() not in present and not is_glob(e) and not is_update_id(e)
    ]
    if entries:  # not a bare name: look at every rendering (name.arch, name-version …)
        render = RENDERERS[inventory.scheme]
        for pkg in packages:
            present.update(render(pkg.name, pkg.arch, pkg.version))
    level = baseline.approved_patches_compliance_level
    return [
        PatchItem(
            name=entry,
            arch="",
            installed_version=None,
            available_version=None,
            state=PatchState.NOT_APPLICABLE,
            severity=level,
            detail="on ApprovedPatches but not installed",
        )
        for entry in entries
        if entry.lower() not in present
    ]


def summarize(items: Iterable[PatchItem]) -> ComplianceSummary:
    """The node rollup of reference §3.2: NON_COMPLIANT if any item is INSTALLED_REJECTED,
    INSTALLED_PENDING_REBOOT, MISSING or FAILED; NonCompliantSeverity is the highest item
    severity among those (floor INFORMATIONAL); counts per state and per kind."""
    counts = dict.fromkeys((state.value for state in PatchState), 0)
    worst: ComplianceLevel | None = None
    critical = security = other = 0
    for item in items:
        counts[item.state.value] += 1
        if item.state.compliant:
            continue
        if worst is None or item.severity.rank > worst.rank:
            worst = item.severity
        is_critical = item.severity is ComplianceLevel.CRITICAL
        is_security = item.classification.lower() == "security"
        critical += is_critical
        security += is_security
        other += not (is_critical or is_security)
    if worst is None:
        return ComplianceSummary(Compliance.COMPLIANT, None, counts)
    if worst.rank < ComplianceLevel.INFORMATIONAL.rank:
        worst = ComplianceLevel.INFORMATIONAL
    return ComplianceSummary(Compliance.NON_COMPLIANT, worst, counts, critical, security, other)
