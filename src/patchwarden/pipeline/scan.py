"""Scan: collect a root's inventory, judge it against a baseline, report compliance.

The same function serves ``patchwarden scan``, the agent's RunPatchBaseline Scan, and image
scans of a root filesystem.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime

from patchwarden.core.baseline import PatchBaseline, default_baseline
from patchwarden.core.compliance import evaluate
from patchwarden.core.model import Inventory, Operation, Package
from patchwarden.core.report import NodeFacts, Report
from patchwarden.ports import PackageManager, StateStore


def baseline_for(inventory: Inventory, baseline: PatchBaseline | None) -> PatchBaseline:
    """The explicit baseline, or the predefined default for the node's OS."""
    return baseline if baseline is not None else default_baseline(inventory.os.operating_system)


def collect(
    pm: PackageManager,
    now: datetime,
    state: StateStore | None,
    baseline: PatchBaseline | None = None,
) -> tuple[Inventory, PatchBaseline]:
    """The root's inventory (release dates filled in) and the baseline that judges it."""
    inventory = pm.collect()
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
    last_boot = inventory.last_boot or (state.last_boot(root) if root != "/" else None)
    return replace(inventory, updates=tuple(updates), last_boot=last_boot)


def _suites(pkg: Package) -> list[str]:
    return [o.archive or o.codename or "-" for o in pkg.origins] or ["-"]


def _changelog_dates(
    pm: PackageManager, inventory: Inventory, state: StateStore
) -> dict[tuple[str, str], datetime | None]:
    reader: Callable[[Package], tuple[bool, datetime | None]] | None = getattr(
        pm, "changelog_date", None
    )
    known = state.changelog_dates(inventory.root)
    if reader is None:
        return known
    todo = [u for u in inventory.updates if (u.name, u.version) not in known]
    fresh: dict[tuple[str, str], datetime | None] = {}
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for u, (looked, date) in zip(todo, pool.map(reader, todo), strict=True):
            if looked:  # no cached .deb yet: look again next time
                fresh[(u.name, u.version)] = date
    if fresh:
        state.record_changelog_dates(inventory.root, fresh)
    return {**known, **fresh}


def pending_reboot_keys(
    inventory: Inventory, state: StateStore | None
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
) -> Report:
    """RunPatchBaseline Scan: never installs, never reboots."""
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
    return Report(
        node=NodeFacts(inventory.hostname, inventory.root, inventory.os),
        baseline=chosen.name,
        operation=Operation.SCAN,
        generated_at=now,
        items=result.items,
        summary=result.summary,
        reboot_required=inventory.reboot_required,
        snapshot_id=snapshot_id,
    )
