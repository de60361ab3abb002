"""Install: put the approved missing patches on a root, then report, then maybe reboot.

RunPatchBaseline Install semantics (reference §4): only approved, applicable, missing
patches are installed, at exactly the versions the baseline approved; rejected packages are
never pulled in under ``BLOCK`` (the patch that needs one is FAILED instead); the final
report has FAILED where Scan would say MISSING; with ``RebootIfNeeded`` the node reboots when
anything was installed or a pending reboot was found, with ``NoReboot`` new patches stay
INSTALLED_PENDING_REBOOT until the next boot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from patchwarden.core.baseline import PatchBaseline, RejectedPatchesAction, approve
from patchwarden.core.compliance import evaluate
from patchwarden.core.model import Inventory, Operation, Package, PatchState
from patchwarden.core.report import NodeFacts, Report
from patchwarden.errors import AdapterError, InputError
from patchwarden.pipeline.scan import collect, pending_reboot_keys
from patchwarden.ports import InstallPlan, PackageManager, StateStore


class RebootOption(StrEnum):
    """AWS-RunPatchBaseline RebootOption."""

    REBOOT_IF_NEEDED = "RebootIfNeeded"
    NO_REBOOT = "NoReboot"

    @classmethod
    def parse(cls, value: str) -> RebootOption:
        """Parse the AWS spelling; :class:`InputError` otherwise."""
        for member in cls:
            if member.value.lower() == value.lower():
                return member
        raise InputError(f"RebootOption: expected RebootIfNeeded or NoReboot, got {value!r}")


RebootAction = Callable[[], None]


@dataclass(frozen=True)
class OverridePatch:
    """One entry of an AWS ``InstallOverrideList`` (``patches: [{id, title}]``)."""

    id: str
    title: str = ""


def parse_override_list(
    data: object, where: str = "InstallOverrideList"
) -> tuple[OverridePatch, ...]:
    """The patches of an InstallOverrideList: AWS's ``{"patches": [{"id", "title"}]}`` (the
    YAML file's shape) or the bare list; :class:`InputError` naming the entry otherwise."""
    entries = data.get("patches") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{where}: expected a non-empty list of patches ({{id, title}})")
    found = []
    for i, entry in enumerate(entries):
        if isinstance(entry, str):
            entry = {"id": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("id", ""), str):
            raise InputError(f"{where}[{i}]: expected an object with an id, got {entry!r}")
        title = entry.get("title") or ""
        if not entry.get("id") and not title:
            raise InputError(f"{where}[{i}]: needs an id or a title")
        found.append(OverridePatch(str(entry.get("id") or title), str(title)))
    return tuple(found)


def override_baseline(baseline: PatchBaseline, patches: Sequence[OverridePatch]) -> PatchBaseline:
    """A baseline approving exactly the listed patches (security or not), for Install."""
    return PatchBaseline(
        name=f"{baseline.name}-override"[:128],
        operating_system=baseline.operating_system,
        approved_patches=tuple(dict.fromkeys(p.title or p.id for p in patches)),
        approved_patches_enable_non_security=True,
    )


@dataclass(frozen=True)
class InstallDecision:
    """What an Install would do before doing it (the ``--dry-run`` answer)."""

    install: tuple[Package, ...]
    blocked: dict[tuple[str, str], str]
    plan: InstallPlan


def approved_missing(inventory: Inventory, baseline: PatchBaseline, now: datetime) -> list[Package]:
    """The update versions a Scan reports MISSING: what an Install must put on the node."""
    result = evaluate(inventory, baseline, now, operation=Operation.SCAN)
    wanted = {
        (i.name, i.arch, i.available_version) for i in result.items if i.state is PatchState.MISSING
    }
    return [u for u in inventory.updates if (u.name, u.arch, u.version) in wanted]


def decide(
    pm: PackageManager, inventory: Inventory, baseline: PatchBaseline, now: datetime
) -> InstallDecision:
    """Plan the install; under BLOCK, drop every patch whose transaction needs a rejected one."""
    wanted = approved_missing(inventory, baseline, now)
    blocked: dict[tuple[str, str], str] = {}
    if not wanted:
        return InstallDecision((), blocked, InstallPlan((), ()))
    plan = pm.plan(wanted)
    if baseline.rejected_patches_action is RejectedPatchesAction.BLOCK:
        by_key = {u.key: u for u in inventory.updates}
        if _rejected_in(plan, baseline, inventory, by_key, now):
            for pkg in wanted:
                single = pm.plan([pkg])
                hit = _rejected_in(single, baseline, inventory, by_key, now)
                if hit:
                    blocked[pkg.key] = f"needs rejected package {hit[0]} (BLOCK)"
            wanted = [p for p in wanted if p.key not in blocked]
            plan = pm.plan(wanted) if wanted else InstallPlan((), ())
    return InstallDecision(tuple(wanted), blocked, plan)


def _rejected_in(
    plan: InstallPlan,
    baseline: PatchBaseline,
    inventory: Inventory,
    by_key: dict[tuple[str, str], Package],
    now: datetime,
) -> list[str]:
    hits = []
    for name, arch, version in plan.touched:
        pkg = by_key.get((name, arch)) or Package(name=name, arch=arch, version=version)
        if approve(
            baseline, replace(pkg, version=version), inventory.os.product, now, inventory.scheme
        ).rejected:
            hits.append(f"{name}={version}")
    return hits


@dataclass(frozen=True)
class Prepared:
    """An Install's first half: the root before, the baseline that judges it, the decision."""

    before: Inventory
    baseline: PatchBaseline
    decision: InstallDecision


def prepare(
    pm: PackageManager,
    baseline: PatchBaseline | None,
    now: datetime,
    *,
    state: StateStore | None = None,
    override_list: Sequence[OverridePatch] = (),
) -> Prepared:
    """Collect the root and decide what to install (with an ``override_list``: exactly the
    listed patches, whatever the baseline says)."""
    before, chosen = collect(pm, now, state, baseline)
    to_install = override_baseline(chosen, override_list) if override_list else chosen
    return Prepared(before, chosen, decide(pm, before, to_install, now))


def conclude(
    pm: PackageManager,
    prepared: Prepared,
    installed: Sequence[tuple[str, str, str]],
    failed: dict[tuple[str, str], str],
    now: datetime,
    *,
    state: StateStore | None = None,
    reboot_option: RebootOption = RebootOption.REBOOT_IF_NEEDED,
    reboot: RebootAction | None = None,
    snapshot_id: str = "",
    overridden: bool = False,
) -> Report:
    """An Install's second half, once the packages went on (or did not): record the
    installs, collect the root again, judge it, and reboot when the option says so.

    ``failed`` maps (name, arch) to why it was not installed (blocked or refused);
    ``overridden``: the patches came from an InstallOverrideList, so the report judges the
    node as a Scan would (what the baseline approves and is still missing stays MISSING).
    """
    chosen = prepared.baseline
    if state is not None and installed:
        state.record_installs(prepared.before.root, list(installed), now, reboot_pending=True)
    after, _ = collect(pm, now, state, chosen)
    pending = pending_reboot_keys(after, state)
    do_reboot = reboot_option is RebootOption.REBOOT_IF_NEEDED and bool(installed or pending)
    if do_reboot:
        pending = frozenset()
    result = evaluate(
        after,
        chosen,
        now,
        operation=Operation.SCAN if overridden else Operation.INSTALL,
        pending_reboot=pending,
        failed=failed,
    )
    report = Report(
        node=NodeFacts(after.hostname, after.root, after.os),
        baseline=chosen.name,
        operation=Operation.INSTALL,
        generated_at=now,
        items=result.items,
        summary=result.summary,
        reboot_required=after.reboot_required,
        rebooted=do_reboot,
        snapshot_id=snapshot_id,
        inventory=after,
    )
    if do_reboot:
        if reboot is not None:
            reboot()
        if state is not None and after.root != "/":
            state.record_boot(after.root, now)
    return report


def install(
    pm: PackageManager,
    baseline: PatchBaseline | None,
    now: datetime,
    *,
    state: StateStore | None = None,
    reboot_option: RebootOption = RebootOption.REBOOT_IF_NEEDED,
    reboot: RebootAction | None = None,
    refresh: bool = False,
    snapshot_id: str = "",
    override_list: Sequence[OverridePatch] = (),
) -> Report:
    """RunPatchBaseline Install on one root; returns the post-install report.

    With an ``override_list`` (AWS InstallOverrideList) exactly the listed patches are
    installed, whatever the baseline says; the report then judges the node against the
    baseline as a Scan would (what it approves and is still missing stays MISSING), so the
    listed patches it does not approve are INSTALLED_OTHER.
    """
    if refresh:
        pm.refresh()
    prepared = prepare(pm, baseline, now, state=state, override_list=override_list)
    decision = prepared.decision
    failed: dict[tuple[str, str], str] = dict(decision.blocked)
    installed: list[tuple[str, str, str]] = []
    if decision.install:
        try:
            outcomes = pm.install(decision.install)
        except AdapterError as exc:
            outcomes = []
            failed.update({p.key: str(exc) for p in decision.install})
        for o in outcomes:
            if o.ok:
                installed.append((o.name, o.arch, o.version))
            else:
                failed[(o.name, o.arch)] = o.detail or "install failed"
    return conclude(
        pm,
        prepared,
        installed,
        failed,
        now,
        state=state,
        reboot_option=reboot_option,
        reboot=reboot,
        snapshot_id=snapshot_id,
        overridden=bool(override_list),
    )


def dry_run(
    pm: PackageManager,
    baseline: PatchBaseline | None,
    now: datetime,
    *,
    state: StateStore | None = None,
    override_list: Sequence[OverridePatch] = (),
) -> InstallDecision:
    """What :func:`install` would do, changing nothing but first-seen records."""
    inventory, chosen = collect(pm, now, state, baseline)
    if override_list:
        chosen = override_baseline(chosen, override_list)
    return decide(pm, inventory, chosen, now)
