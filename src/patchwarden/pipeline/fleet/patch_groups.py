"""Patch group and default baseline registrations (reference §2): one baseline per
(patch group, OS); a default per OS replaces the predefined one."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from patchwarden.pipeline.fleet.baselines import named
from patchwarden.pipeline.fleet.errors import Conflict, Invalid, NotFound
from patchwarden.pipeline.fleet.ports import AuditLog, BaselineRepository, PatchGroupRepository
from patchwarden.pipeline.fleet.records import GroupRegistration, StoredBaseline


def register_patch_group(
    baselines: BaselineRepository,
    groups: PatchGroupRepository,
    audit: AuditLog,
    patch_group: str,
    baseline_name: str,
    actor: str,
    at: datetime,
) -> GroupRegistration:
    """RegisterPatchBaselineForPatchGroup: a second baseline for the same (group, OS) is a
    :class:`Conflict` ``already_exists``."""
    baseline = named(baselines, baseline_name)
    if groups.registration(patch_group, baseline.operating_system) is not None:
        raise Conflict(
            f"patch group {patch_group!r} already has a {baseline.operating_system} baseline",
            code="already_exists",
        )
    reg = GroupRegistration(patch_group, baseline.operating_system, baseline.name, baseline.id)
    groups.register(reg)
    audit.record(actor, "patch_group.register", patch_group, at, asdict(reg))
    return reg


def deregister_patch_group(
    groups: PatchGroupRepository,
    audit: AuditLog,
    patch_group: str,
    operating_system: str,
    actor: str,
    at: datetime,
) -> GroupRegistration:
    """DeregisterPatchBaselineForPatchGroup; the registration removed."""
    reg = groups.registration(patch_group, operating_system)
    if reg is None:
        raise NotFound(f"registration of patch group {patch_group!r} for {operating_system}")
    groups.deregister(patch_group, operating_system)
    audit.record(actor, "patch_group.deregister", patch_group, at, asdict(reg))
    return reg


def set_default(
    baselines: BaselineRepository,
    groups: PatchGroupRepository,
    audit: AuditLog,
    operating_system: str,
    baseline_name: str,
    actor: str,
    at: datetime,
) -> StoredBaseline:
    """RegisterDefaultPatchBaseline: the baseline must be for ``operating_system``."""
    baseline = named(baselines, baseline_name)
    if baseline.operating_system != operating_system:
        raise Invalid(
            f"baseline {baseline.name!r} is for {baseline.operating_system}, not {operating_system}"
        )
    groups.set_default(operating_system, baseline.id)
    audit.record(actor, "default_baseline.set", operating_system, at, {"baseline": baseline.name})
    return baseline


def reset_default(
    groups: PatchGroupRepository, audit: AuditLog, operating_system: str, actor: str, at: datetime
) -> None:
    """Go back to the predefined default for the OS."""
    if not groups.reset_default(operating_system):
        raise NotFound(f"default baseline for {operating_system}")
    audit.record(actor, "default_baseline.reset", operating_system, at)
