"""``/api/v1/baselines``: patch baselines (operators edit, viewers read)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body
from sqlalchemy import select

from patchwarden.adapters.storage.tables import Baseline, DefaultBaseline, PatchGroupRegistration
from patchwarden.errors import PatchwardenError
from patchwarden.server import audit
from patchwarden.server.auth import Operator, Viewer
from patchwarden.server.baselines import by_name, parse_baseline, store
from patchwarden.server.db import Now, ReadDB, WriteDB
from patchwarden.server.errors import bad_request, conflict

router = APIRouter(prefix="/api/v1/baselines", tags=["baselines"])


def view(row: Baseline, *, document: bool = False) -> dict[str, Any]:
    """A stored baseline as the API shows it."""
    out: dict[str, Any] = {
        "baseline_id": row.id,
        "name": row.name,
        "operating_system": row.operating_system,
        "description": row.document.get("spec", {}).get("Description"),
        "created_at": row.created_at,
        "modified_at": row.modified_at,
    }
    if document:
        out["document"] = row.document
    return out


def _parse(raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise bad_request(f"{where}: expected a JSON object")
    try:
        return parse_baseline(raw, where)
    except PatchwardenError as exc:
        raise bad_request(str(exc)) from None


@router.get("")
def list_baselines(_: Viewer, session: ReadDB) -> list[dict[str, Any]]:
    """Every stored baseline."""
    return [view(r) for r in session.scalars(select(Baseline).order_by(Baseline.name))]


@router.get("/{name}")
def get_baseline(name: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
    """One baseline with its document and registrations."""
    row = by_name(session, name)
    groups = session.scalars(
        select(PatchGroupRegistration.patch_group).where(
            PatchGroupRegistration.baseline_id == row.id
        )
    ).all()
    default = session.get(DefaultBaseline, row.operating_system)
    return {
        **view(row, document=True),
        "patch_groups": sorted(groups),
        "default_for_operating_system": default is not None and default.baseline_id == row.id,
    }


@router.put("/{name}")
def put_baseline(
    name: str, who: Operator, session: WriteDB, at: Now, document: Any = Body()
) -> dict[str, Any]:
    """Create or replace a baseline from its PatchBaseline document."""
    doc = _parse(document, "document")
    if doc.name != name:
        raise bad_request(f"metadata.name: {doc.name!r} differs from the URL's {name!r}")
    row, created = store(session, doc, at)
    audit.record(session, who, "baseline.create" if created else "baseline.update", name, at)
    return {**view(row, document=True), "created": created}


@router.post("/import", status_code=201)
def import_aws(who: Operator, session: WriteDB, at: Now, raw: Any = Body()) -> dict[str, Any]:
    """Import raw ``aws ssm get-patch-baseline`` JSON (create or replace by Name)."""
    if isinstance(raw, dict) and "apiVersion" in raw:
        raise bad_request("this is a Patchwarden document: PUT it to /api/v1/baselines/NAME")
    doc = _parse(raw, "aws baseline")
    row, created = store(session, doc, at)
    audit.record(session, who, "baseline.import", row.name, at, {"created": created})
    return {**view(row, document=True), "created": created}


@router.delete("/{name}")
def delete_baseline(name: str, who: Operator, session: WriteDB, at: Now) -> dict[str, Any]:
    """Delete a baseline that no patch group or default registration uses."""
    row = by_name(session, name)
    used = session.scalar(
        select(PatchGroupRegistration.patch_group).where(
            PatchGroupRegistration.baseline_id == row.id
        )
    )
    if used is not None:
        raise conflict(f"baseline {name!r} is registered for patch group {used!r}")
    if session.scalar(select(DefaultBaseline).where(DefaultBaseline.baseline_id == row.id)):
        raise conflict(f"baseline {name!r} is the default for {row.operating_system}")
    session.delete(row)
    audit.record(session, who, "baseline.delete", name, at)
    return view(row)
