"""``/api/v1/baselines``: patch baselines (operators edit, viewers read)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.baselines import SqlBaselines
from patchwarden.adapters.storage.queries import baselines as reads
from patchwarden.documents import BaselineDocument
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.fleet import baselines
from patchwarden.pipeline.fleet.records import StoredBaseline
from patchwarden.server.auth import Operator, Viewer
from patchwarden.server.db import Now, ReadDB, WriteDB
from patchwarden.server.errors import bad_request, not_found
from patchwarden.server.fleet.baselines import parse_baseline
from patchwarden.server.outcomes import answered

router = APIRouter(prefix="/api/v1/baselines", tags=["baselines"])


def view(row: StoredBaseline, *, document: bool = False) -> dict[str, Any]:
    """A stored baseline as the API shows it."""
    out: dict[str, Any] = {
        "baseline_id": row.id,
        "name": row.name,
        "operating_system": row.operating_system,
        "description": row.description,
        "created_at": row.created_at,
        "modified_at": row.modified_at,
    }
    if document:
        out["document"] = row.document
    return out


def _parse(raw: Any, where: str) -> BaselineDocument:
    if not isinstance(raw, dict):
        raise bad_request(f"{where}: expected a JSON object")
    try:
        return parse_baseline(raw, where)
    except PatchwardenError as exc:
        raise bad_request(str(exc)) from None


@router.get("")
def list_baselines(_: Viewer, session: ReadDB) -> list[dict[str, Any]]:
    """Every stored baseline."""
    return [view(r) for r in reads.baselines(session)]


@router.get("/{name}")
def get_baseline(name: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
    """One baseline with its document and registrations."""
    found = reads.baseline_detail(session, name)
    if found is None:
        raise not_found(f"baseline {name!r}")
    return {
        **view(found.baseline, document=True),
        "patch_groups": found.patch_groups,
        "default_for_operating_system": found.default_for_operating_system,
    }


@router.put("/{name}")
def put_baseline(
    name: str, who: Operator, session: WriteDB, at: Now, document: Any = Body()
) -> dict[str, Any]:
    """Create or replace a baseline from its PatchBaseline document."""
    doc = _parse(document, "document")
    if doc.name != name:
        raise bad_request(f"metadata.name: {doc.name!r} differs from the URL's {name!r}")
    with answered():
        row, created = baselines.save_baseline(
            SqlBaselines(session), SqlAuditLog(session), doc, who.actor, at
        )
    return {**view(row, document=True), "created": created}


@router.post("/import", status_code=201)
def import_aws(who: Operator, session: WriteDB, at: Now, raw: Any = Body()) -> dict[str, Any]:
    """Import raw ``aws ssm get-patch-baseline`` JSON (create or replace by Name)."""
    if isinstance(raw, dict) and "apiVersion" in raw:
        raise bad_request("this is a Patchwarden document: PUT it to /api/v1/baselines/NAME")
    doc = _parse(raw, "aws baseline")
    with answered():
        row, created = baselines.save_baseline(
            SqlBaselines(session), SqlAuditLog(session), doc, who.actor, at, imported=True
        )
    return {**view(row, document=True), "created": created}


@router.delete("/{name}")
def delete_baseline(name: str, who: Operator, session: WriteDB, at: Now) -> dict[str, Any]:
    """Delete a baseline that no patch group or default registration uses."""
    with answered():
        row = baselines.delete_baseline(
            SqlBaselines(session), SqlAuditLog(session), name, who.actor, at
        )
    return view(row)
