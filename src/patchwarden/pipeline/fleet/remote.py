"""A node component's facts, judged on the server with the pipeline the CLI runs.

The node uploads the files its package manager reads (content-addressed); the server
rebuilds its root from them (a :class:`NodeRoots` port) and runs ``pipeline.scan`` /
``pipeline.install`` there, exactly as ``patchwarden scan`` / ``install`` would on the
node.  Installs run on the node: the server only decides (``plan``: the exact versions,
as :func:`patchwarden.pipeline.install.decide` picks them) and judges the new facts
afterwards (``conclude``: a package counts as installed only when the node's dpkg, rpm or
apk database says so, whatever the return codes).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from patchwarden import wire
from patchwarden.core.baseline import PatchBaseline
from patchwarden.core.model import Inventory, Package
from patchwarden.core.report import NodeFacts, Report
from patchwarden.core.rollout import InvocationStatus
from patchwarden.errors import InputError
from patchwarden.pipeline import install as installing
from patchwarden.pipeline.fleet.errors import Conflict, Forbidden, Invalid, NotFound
from patchwarden.pipeline.inventory_items import keyed_items
from patchwarden.pipeline.scan import baseline_for, scan
from patchwarden.ports import InstallPlan, PackageManager, StateStore

RUN_PATCH_BASELINE = "AWS-RunPatchBaseline"
PHASE_OPERATION = {"scan": "Scan", "plan": "Install", "conclude": "Install"}
"""The RunPatchBaseline Operation each evaluation phase serves."""


class MissingBlobs(Conflict):
    """The facts name blobs the server lacks (409 ``missing_blobs``): upload them first."""

    def __init__(self, missing: Sequence[str]) -> None:
        super().__init__(
            f"{len(missing)} fact file(s) not uploaded yet: PUT /api/v1/agent/blobs/<sha256>"
            " for each hash in `missing`, then send again",
            code="missing_blobs",
        )
        self.missing = list(missing)


class NodeRoot(Protocol):
    """One node's root rebuilt from its facts (locked while open)."""

    @property
    def pm(self) -> PackageManager:
        """The package manager on the rebuilt root (collects and simulates only)."""
        ...

    @property
    def state(self) -> StateStore:
        """The node's local state (first-seen dates, installs, boots), kept on the server."""
        ...

    @property
    def native_arch(self) -> str:
        """The node's native architecture."""
        ...

    def spec(self, pkg: Package) -> str:
        """What the node's package manager is asked for to install exactly ``pkg`` (apt:
        ``name[:arch]=version``; dnf: the NEVRA in the repository; apk: ``name=version``)."""
        ...


class NodeRoots(Protocol):
    """The blob store and the rebuilt roots of the node components."""

    def missing(self, hashes: Sequence[str]) -> list[str]:
        """The blobs among ``hashes`` the server lacks."""
        ...

    def open(self, node_id: str, facts: wire.RootFacts) -> AbstractContextManager[NodeRoot]:
        """The node's root rebuilt from ``facts``, locked for the block."""
        ...


@dataclass(frozen=True)
class FactsInventory:
    """What a node's facts say as a full inventory upload would."""

    facts: wire.NodeFacts
    items: list[wire.InventoryItem]
    content_hash: str
    collected_at: datetime | None


@dataclass(frozen=True)
class EvaluationResult:
    """The answer to one evaluation phase (rendered as :class:`wire.Evaluation`)."""

    report: Report | None = None
    order: wire.InstallOrder | None = None
    reboot: bool = False


def _require_blobs(roots: NodeRoots, facts: wire.RootFacts) -> None:
    missing = roots.missing(facts.hashes())
    if missing:
        raise MissingBlobs(missing)


def _collected_at(facts: wire.RootFacts) -> datetime | None:
    if not facts.collected_at:
        return None
    try:
        return datetime.fromisoformat(facts.collected_at)
    except ValueError:
        raise Invalid(
            f"facts.collected_at: not an ISO 8601 time: {facts.collected_at[:64]!r}"
        ) from None


def node_facts(facts: wire.RootFacts, inventory: Inventory) -> wire.NodeFacts:
    """The node's facts (as registration and inventory uploads set them)."""
    os_info = inventory.os
    return wire.NodeFacts(
        hostname=facts.hostname or inventory.hostname,
        os_id=os_info.id,
        os_version=os_info.version_id,
        operating_system=os_info.operating_system,
        product=os_info.product,
        agent_version=facts.agent_version,
    )


def facts_inventory(roots: NodeRoots, node_id: str, facts: wire.RootFacts) -> FactsInventory:
    """The inventory of the node's facts (:class:`MissingBlobs` when a file is missing)."""
    collected = _collected_at(facts)
    _require_blobs(roots, facts)
    with roots.open(node_id, facts) as root:
        inventory = root.pm.collect()
    items = keyed_items(inventory)
    return FactsInventory(
        node_facts(facts, inventory), list(items.values()), wire.content_hash(items), collected
    )


# -- evaluation of an invocation ----------------------------------------------------------


def check_evaluable(found: tuple[str, str, str] | None, node_id: str, invocation_id: str) -> None:
    """``found``: (owner node, status, document) of the invocation, ``None`` if unknown.
    Refuses another node's invocation (403), an ended one (409)."""
    if found is None:
        raise NotFound(f"invocation {invocation_id}")
    owner, status, document = found
    if owner != node_id:
        raise Forbidden("this invocation belongs to another node")
    if InvocationStatus(status).terminal:
        raise Conflict(f"invocation {invocation_id} has ended ({status})", code="ended")
    if document != RUN_PATCH_BASELINE:
        raise Invalid(f"only {RUN_PATCH_BASELINE} invocations are evaluated, not {document}")


def _baseline(delivery: wire.Delivery) -> PatchBaseline | None:
    from patchwarden.documents import baseline_of

    return baseline_of(delivery.baseline)


def _overrides(params: dict[str, Any]) -> tuple[installing.OverridePatch, ...]:
    given = params.get("InstallOverrideList")
    return installing.parse_override_list(given) if given else ()


def evaluate(
    roots: NodeRoots,
    node_id: str,
    delivery: wire.Delivery,
    request: wire.EvaluateRequest,
    now: datetime,
) -> EvaluationResult:
    """One phase of the invocation ``delivery`` on the node's facts (module docstring)."""
    wanted = PHASE_OPERATION[request.phase]
    if delivery.operation != wanted:
        raise Invalid(
            f"phase {request.phase} is for {wanted} invocations; this one is {delivery.operation}"
        )
    params = delivery.parameters
    try:
        baseline = _baseline(delivery)
        overrides = _overrides(params)
        reboot_option = installing.RebootOption.parse(
            str(params.get("RebootOption", "RebootIfNeeded"))
        )
    except InputError as exc:
        raise Invalid(str(exc)) from None
    facts = request.facts
    _require_blobs(roots, facts)
    snapshot = str(params.get("SnapshotId", ""))
    with roots.open(node_id, facts) as root:
        if request.phase == "scan":
            report = scan(root.pm, baseline, now, state=root.state, snapshot_id=snapshot)
            return EvaluationResult(report=_as_node(report, facts))
        if request.phase == "plan":
            prepared = installing.prepare(
                root.pm, baseline, now, state=root.state, override_list=overrides
            )
            return EvaluationResult(order=_order(prepared.decision, root))
        order = request.order
        assert order is not None and request.results is not None  # checked on decode
        report = _conclude(
            root, baseline, order, request.results, now, reboot_option, snapshot, bool(overrides)
        )
        return EvaluationResult(report=_as_node(report, facts), reboot=report.rebooted)


def _as_node(report: Report, facts: wire.RootFacts) -> Report:
    """The report names the node's own root, not the server's rebuilt copy."""
    return replace(report, node=NodeFacts(report.node.hostname, facts.root, report.node.os))


def _order(decision: installing.InstallDecision, root: NodeRoot) -> wire.InstallOrder:
    packages = [
        wire.PlannedPackage(p.name, p.arch, p.version, root.spec(p)) for p in decision.install
    ]
    blocked = [
        wire.BlockedPackage(name, arch, reason)
        for (name, arch), reason in sorted(decision.blocked.items())
    ]
    return wire.InstallOrder(packages, blocked)


def _conclude(
    root: NodeRoot,
    baseline: PatchBaseline | None,
    order: wire.InstallOrder,
    results: Sequence[wire.PackageResult],
    now: datetime,
    reboot_option: installing.RebootOption,
    snapshot_id: str,
    overridden: bool,
) -> Report:
    """The Install's second half from the order the node carried out and its new facts."""
    after = root.pm.collect()  # only its root is read: the state key of the installs
    have = {(*ip.package.key, ip.package.version) for ip in after.installed if ip.is_installed}
    present = {ip.package.key: ip.package.version for ip in after.installed if ip.is_installed}
    said = {(r.name, r.arch): r for r in results}
    failed: dict[tuple[str, str], str] = {(b.name, b.arch): b.reason for b in order.blocked}
    installed: list[tuple[str, str, str]] = []
    for p in order.packages:
        key = (p.name, p.arch)
        if (p.name, p.arch, p.version) in have:  # install-only packages: several versions
            installed.append((p.name, p.arch, p.version))
            continue
        told = said.get(key)
        failed[key] = (told.error if told is not None else "") or (
            f"still at {present.get(key, '-')} after the install"
        )
    decision = installing.InstallDecision(
        tuple(Package(name=p.name, arch=p.arch, version=p.version) for p in order.packages),
        {(b.name, b.arch): b.reason for b in order.blocked},
        InstallPlan((), ()),
    )
    prepared = installing.Prepared(after, baseline_for(after, baseline), decision)
    return installing.conclude(
        root.pm,
        prepared,
        installed,
        failed,
        now,
        state=root.state,
        reboot_option=reboot_option,
        reboot=None,
        snapshot_id=snapshot_id,
        overridden=overridden,
    )
