"""Scan: collect a root's inventory, judge it against a baseline, report compliance.

The same function serves ``patchwarden scan``, the agent's RunPatchBaseline Scan, and image
scans of a root filesystem.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from patchwarden.core.baseline import PatchBaseline, default_baseline
from patchwarden.core.compliance import evaluate
from patchwarden.core.model import Inventory, Operation, Package
from patchwarden.core.report import NodeFacts, Report
from patchwarden.errors import EnvironmentProblem, InputError
from patchwarden.ports import (
    AdvisoryStore,
    ChangelogDates,
    InstallLog,
    PackageManager,
    ReleaseDates,
    StateStore,
)

if TYPE_CHECKING:  # the vulnerability modules load only when a scan assesses (``--vulns``)
    from patchwarden.core.suppression import Suppression
    from patchwarden.pipeline.assess import AdvisorySource


def baseline_for(inventory: Inventory, baseline: PatchBaseline | None) -> PatchBaseline:
    """The explicit baseline, or the predefined default for the node's OS."""
    if baseline is not None:
        return baseline
    try:
        return default_baseline(inventory.os.operating_system)
    except InputError as exc:
        raise EnvironmentProblem(
            f"no predefined patch baseline for {inventory.os.pretty_name} "
            f"({inventory.os.operating_system}): give one with --baseline"
        ) from exc


def collect(
    pm: PackageManager,
    now: datetime,
    state: StateStore | None,
    baseline: PatchBaseline | None = None,
) -> tuple[Inventory, PatchBaseline]:
    """The root's inventory (release dates filled in) and the baseline that judges it."""
    inventory = pm.collect()
    if state is not None and inventory.last_boot is None and inventory.root != "/":
        # a sandbox or image root has no kernel of its own: its boots are the ones recorded
        inventory = replace(inventory, last_boot=state.last_boot(inventory.root))
    chosen = baseline_for(inventory, baseline)
    dated = with_release_dates(pm, inventory, now, state, changelogs=chosen.uses_release_dates)
    return dated, chosen


def with_release_dates(
    pm: PackageManager,
    inventory: Inventory,
    now: datetime,
    state: StateStore | None,
    *,
    changelogs: bool,
) -> Inventory:
    """Fill in release dates where the package manager has none (Debian/Ubuntu).

    A version's release date is the first time Patchwarden saw it offered by a suite
    (recorded in ``state``), or — when ``changelogs`` and its .deb already sits in apt's
    cache — the date of its newest changelog entry, whichever is earlier.  Changelogs are
    read only when a rule's verdict depends on dates, since unpacking .debs costs time.
    """
    if state is None or inventory.scheme != "deb":
        return inventory
    root = inventory.root
    keys = {u: [(u.name, u.version, suite) for suite in _suites(u)] for u in inventory.updates}
    seen = state.first_seen(root, [k for ks in keys.values() for k in ks], now)
    changelog = _changelog_dates(pm, inventory, state) if changelogs else {}
    updates = []
    for u in inventory.updates:
        dates = [seen[k] for k in keys[u] if k in seen]
        if (cl := changelog.get((u.name, u.version))) is not None:
            dates.append(cl)
        updates.append(replace(u, release_date=min(dates)) if dates else u)
    return replace(inventory, updates=tuple(updates))


def _suites(pkg: Package) -> list[str]:
    return [o.archive or o.codename or "-" for o in pkg.origins] or ["-"]


def _changelog_dates(
    pm: PackageManager, inventory: Inventory, state: ReleaseDates
) -> dict[tuple[str, str], datetime | None]:
    known = state.changelog_dates(inventory.root)
    if not isinstance(pm, ChangelogDates):
        return known
    todo = [u for u in inventory.updates if (u.name, u.version) not in known]
    fresh: dict[tuple[str, str], datetime | None] = {}
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for u, (looked, date) in zip(todo, pool.map(pm.changelog_date, todo), strict=True):
            if looked:  # no cached .deb yet: look again next time
                fresh[(u.name, u.version)] = date
    if fresh:
        state.record_changelog_dates(inventory.root, fresh)
    return {**known, **fresh}


def pending_reboot_keys(
    inventory: Inventory, state: InstallLog | None
) -> frozenset[tuple[str, str]]:
    """(name, arch) installed by an earlier Install whose reboot has not happened yet."""
    if state is None:
        return frozenset()
    pending = state.pending_reboot(inventory.root, inventory.last_boot)
    current = {ip.package.key: ip.package.version for ip in inventory.installed}
    return frozenset((n, a) for n, a, v in pending if current.get((n, a)) == v)


def scan(
    pm: PackageManager,
    baseline: PatchBaseline | None,
    now: datetime,
    *,
    state: StateStore | None = None,
    refresh: bool = False,
    snapshot_id: str = "",
    store: AdvisoryStore | None = None,
    advisory_sources: Sequence[AdvisorySource] = (),
    suppressions: Sequence[Suppression] = (),
    ignore_unfixed: bool = False,
    db_max_age: timedelta | None = None,
    vulns: bool = False,
) -> Report:
    """RunPatchBaseline Scan: never installs, never reboots.

    With ``vulns``, a ``store`` (the vulnerability database) or other ``advisory_sources``
    it also assesses vulnerabilities (:func:`patchwarden.pipeline.assess.assess`; rpm update
    notices count as a source of their own): the report gets
    ``vulnerabilities``, and each MISSING/FAILED patch the CVEs its update fixes.
    """
    if refresh:
        pm.refresh()
    inventory, chosen = collect(pm, now, state, baseline)
    result = evaluate(
        inventory,
        chosen,
        now,
        operation=Operation.SCAN,
        pending_reboot=pending_reboot_keys(inventory, state),
    )
    report = Report(
        node=NodeFacts(inventory.hostname, inventory.root, inventory.os),
        baseline=chosen.name,
        operation=Operation.SCAN,
        generated_at=now,
        items=result.items,
        summary=result.summary,
        reboot_required=inventory.reboot_required,
        snapshot_id=snapshot_id,
        inventory=inventory,
    )
    if not vulns and store is None and not advisory_sources:
        return report
    from patchwarden.pipeline.assess import assess, with_patch_cves

    found = assess(
        inventory,
        now,
        store=store,
        state=state,
        sources=advisory_sources,
        suppressions=suppressions,
        ignore_unfixed=ignore_unfixed,
        max_age=db_max_age,
    )
    return replace(
        report,
        items=with_patch_cves(report.items, found),
        vulnerabilities=found.findings,
        warnings=(*report.warnings, *found.warnings),
    )
