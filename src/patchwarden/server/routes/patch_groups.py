"""``/api/v1/patch-groups`` and ``/api/v1/default-baselines`` (reference §2)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from pydantic import Field

from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.baselines import SqlBaselines
from patchwarden.adapters.storage.patch_groups import SqlPatchGroups
from patchwarden.adapters.storage.queries import baselines as reads
from patchwarden.pipeline.fleet import patch_groups
from patchwarden.server.auth import Operator, Viewer
from patchwarden.server.db import Now, ReadDB, WriteDB
from patchwarden.server.outcomes import answered
from patchwarden.server.schemas import Body

router = APIRouter(prefix="/api/v1", tags=["patch groups"])
GROUP_PATTERN = r"^[\w\s.:/=+\-@]*$"


class GroupRegistration(Body):
    """RegisterPatchBaselineForPatchGroup."""

    patch_group: str = Field(min_length=1, max_length=256, pattern=GROUP_PATTERN)
    baseline: str = Field(min_length=1, max_length=128, description="baseline name")


class DefaultRegistration(Body):
    """RegisterDefaultPatchBaseline."""

    baseline: str = Field(min_length=1, max_length=128)


@router.get("/patch-groups")
def list_patch_groups(_: Viewer, session: ReadDB) -> list[dict[str, Any]]:
    """Every (patch group, OS) → baseline registration."""
    return [asdict(r) for r in reads.patch_groups(session)]


@router.post("/patch-groups", status_code=201)
def register_patch_group(
    body: GroupRegistration, who: Operator, session: WriteDB, at: Now
) -> dict[str, Any]:
    """One baseline per (group, OS): a second registration is 409 ``already_exists``."""
    with answered():
        reg = patch_groups.register_patch_group(
            SqlBaselines(session),
            SqlPatchGroups(session),
            SqlAuditLog(session),
            body.patch_group,
            body.baseline,
            who.actor,
            at,
        )
    return asdict(reg)


@router.delete("/patch-groups")
def deregister_patch_group(
    patch_group: str, operating_system: str, who: Operator, session: WriteDB, at: Now
) -> dict[str, Any]:
    """DeregisterPatchBaselineForPatchGroup."""
    with answered():
        reg = patch_groups.deregister_patch_group(
            SqlPatchGroups(session),
            SqlAuditLog(session),
            patch_group,
            operating_system,
            who.actor,
            at,
        )
    return asdict(reg)


@router.get("/default-baselines")
def list_defaults(_: Viewer, session: ReadDB) -> list[dict[str, Any]]:
    """The operator's default baseline per OS (others use the predefined AWS default)."""
    return reads.default_baselines(session)


@router.put("/default-baselines/{operating_system}")
def set_default(
    operating_system: str, body: DefaultRegistration, who: Operator, session: WriteDB, at: Now
) -> dict[str, Any]:
    """Make a baseline the default for its OS."""
    with answered():
        baseline = patch_groups.set_default(
            SqlBaselines(session),
            SqlPatchGroups(session),
            SqlAuditLog(session),
            operating_system,
            body.baseline,
            who.actor,
            at,
        )
    return {
        "operating_system": operating_system,
        "baseline": baseline.name,
        "baseline_id": baseline.id,
    }


@router.delete("/default-baselines/{operating_system}")
def reset_default(
    operating_system: str, who: Operator, session: WriteDB, at: Now
) -> dict[str, Any]:
    """Go back to the predefined default for the OS."""
    with answered():
        patch_groups.reset_default(
            SqlPatchGroups(session), SqlAuditLog(session), operating_system, who.actor, at
        )
    return {"operating_system": operating_system, "baseline": None}
