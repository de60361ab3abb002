"""``/api/v1/patch-groups`` and ``/api/v1/default-baselines`` (reference §2)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import select

from patchwarden.adapters.storage.tables import Baseline, DefaultBaseline, PatchGroupRegistration
from patchwarden.server import audit
from patchwarden.server.auth import Operator, Viewer
from patchwarden.server.baselines import by_name
from patchwarden.server.db import Now, ReadDB, WriteDB
from patchwarden.server.errors import ApiError, bad_request, not_found
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


def _group_view(reg: PatchGroupRegistration, baseline: Baseline) -> dict[str, Any]:
    return {
        "patch_group": reg.patch_group,
        "operating_system": reg.operating_system,
        "baseline": baseline.name,
        "baseline_id": baseline.id,
    }


@router.get("/patch-groups")
def list_patch_groups(_: Viewer, session: ReadDB) -> list[dict[str, Any]]:
    """Every (patch group, OS) → baseline registration."""
    rows = session.execute(
        select(PatchGroupRegistration, Baseline)
        .join(Baseline, Baseline.id == PatchGroupRegistration.baseline_id)
        .order_by(PatchGroupRegistration.patch_group, PatchGroupRegistration.operating_system)
    )
    return [_group_view(r, b) for r, b in rows]


@router.post("/patch-groups", status_code=201)
def register_patch_group(
    body: GroupRegistration, who: Operator, session: WriteDB, at: Now
) -> dict[str, Any]:
    """One baseline per (group, OS): a second registration is 409 ``already_exists``."""
    baseline = by_name(session, body.baseline)
    key = (body.patch_group, baseline.operating_system)
    if session.get(PatchGroupRegistration, key) is not None:
        raise ApiError(
            409,
            "already_exists",
            f"patch group {body.patch_group!r} already has a {baseline.operating_system} baseline",
        )
    reg = PatchGroupRegistration(
        patch_group=body.patch_group,
        operating_system=baseline.operating_system,
        baseline_id=baseline.id,
    )
    session.add(reg)
    audit.record(
        session, who, "patch_group.register", body.patch_group, at, _group_view(reg, baseline)
    )
    return _group_view(reg, baseline)


@router.delete("/patch-groups")
def deregister_patch_group(
    patch_group: str, operating_system: str, who: Operator, session: WriteDB, at: Now
) -> dict[str, Any]:
    """DeregisterPatchBaselineForPatchGroup."""
    reg = session.get(PatchGroupRegistration, (patch_group, operating_system))
    if reg is None:
        raise not_found(f"registration of patch group {patch_group!r} for {operating_system}")
    baseline = session.get(Baseline, reg.baseline_id)
    assert baseline is not None
    view = _group_view(reg, baseline)
    session.delete(reg)
    audit.record(session, who, "patch_group.deregister", patch_group, at, view)
    return view


@router.get("/default-baselines")
def list_defaults(_: Viewer, session: ReadDB) -> list[dict[str, Any]]:
    """The operator's default baseline per OS (others use the predefined AWS default)."""
    rows = session.execute(
        select(DefaultBaseline, Baseline).join(Baseline, Baseline.id == DefaultBaseline.baseline_id)
    )
    return [
        {"operating_system": d.operating_system, "baseline": b.name, "baseline_id": b.id}
        for d, b in rows
    ]


@router.put("/default-baselines/{operating_system}")
def set_default(
    operating_system: str, body: DefaultRegistration, who: Operator, session: WriteDB, at: Now
) -> dict[str, Any]:
    """Make a baseline the default for its OS."""
    baseline = by_name(session, body.baseline)
    if baseline.operating_system != operating_system:
        raise bad_request(
            f"baseline {baseline.name!r} is for {baseline.operating_system}, not {operating_system}"
        )
    row = session.get(DefaultBaseline, operating_system)
    if row is None:
        session.add(DefaultBaseline(operating_system=operating_system, baseline_id=baseline.id))
    else:
        row.baseline_id = baseline.id
    audit.record(
        session, who, "default_baseline.set", operating_system, at, {"baseline": baseline.name}
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
    row = session.get(DefaultBaseline, operating_system)
    if row is None:
        raise not_found(f"default baseline for {operating_system}")
    session.delete(row)
    audit.record(session, who, "default_baseline.reset", operating_system, at)
    return {"operating_system": operating_system, "baseline": None}
