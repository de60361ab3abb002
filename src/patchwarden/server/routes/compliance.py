"""``/api/v1/compliance``: per-node patch compliance and the fleet summary."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from patchwarden.adapters.storage.queries import compliance as reads
from patchwarden.pipeline.fleet.compliance import summarize
from patchwarden.server.auth import Viewer
from patchwarden.server.db import ReadDB
from patchwarden.server.errors import not_found
from patchwarden.server.fleet.views import compliance_view, tag_filters

router = APIRouter(prefix="/api/v1/compliance", tags=["compliance"])
GROUPINGS = {"patch_group", "operating_system", "baseline", "severity"}


@router.get("/summary")
def fleet_summary(
    _: Viewer,
    session: ReadDB,
    by: Literal["patch_group", "operating_system", "baseline", "severity"] = "patch_group",
    tag: Annotated[list[str] | None, Query(description="KEY=VALUE, repeatable")] = None,
) -> dict[str, Any]:
    """Counts of COMPLIANT / NON_COMPLIANT / UNREPORTED nodes, grouped ``by`` patch group,
    operating system, baseline or NonCompliantSeverity, plus the fleet totals."""
    return summarize(reads.fleet_states(session, tag_filters(tag)), by)


@router.get("")
def list_compliance(
    _: Viewer,
    session: ReadDB,
    tag: Annotated[list[str] | None, Query(description="KEY=VALUE, repeatable")] = None,
    compliance: Literal["COMPLIANT", "NON_COMPLIANT"] | None = None,
    patch_group: str | None = None,
) -> list[dict[str, Any]]:
    """Each reporting node's compliance summary (DescribeInstancePatchStates)."""
    found = reads.reported(
        session, tags=tag_filters(tag), compliance=compliance, patch_group=patch_group
    )
    return [
        {
            **compliance_view(record),
            "node_name": node.name,
            "patch_group": node.patch_group,
            "operating_system": node.operating_system,
        }
        for record, node in found
    ]


@router.get("/{node_id}")
def node_compliance(
    node_id: str,
    _: Viewer,
    session: ReadDB,
    state: Annotated[list[str] | None, Query(description="patch states to keep")] = None,
) -> dict[str, Any]:
    """A node's summary and patch states (DescribeInstancePatches)."""
    node, record = reads.node_compliance(session, node_id)
    if node is None:
        raise not_found(f"node {node_id}")
    if record is None:
        raise not_found(f"compliance of node {node_id} (no RunPatchBaseline reported yet)")
    view = {
        **compliance_view(record, items=True),
        "node_name": node.name,
        "patch_group": node.patch_group,
        "operating_system": node.operating_system,
    }
    if state:
        wanted = set(state)
        view["patches"] = [p for p in view["patches"] if p.get("state") in wanted]
    return view
