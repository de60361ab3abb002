"""``/api/v1/compliance``: per-node patch compliance and the fleet summary."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from patchwarden.adapters.storage import nodes
from patchwarden.adapters.storage.tables import ComplianceRecord, Node
from patchwarden.server.auth import Viewer
from patchwarden.server.db import ReadDB
from patchwarden.server.errors import not_found
from patchwarden.server.views import compliance_view, tag_filters

router = APIRouter(prefix="/api/v1/compliance", tags=["compliance"])
UNREPORTED = "UNREPORTED"
GROUPINGS = {"patch_group", "operating_system", "severity"}


@router.get("/summary")
def fleet_summary(
    _: Viewer,
    session: ReadDB,
    by: Literal["patch_group", "operating_system", "severity"] = "patch_group",
    tag: Annotated[list[str] | None, Query(description="KEY=VALUE, repeatable")] = None,
) -> dict[str, Any]:
    """Counts of COMPLIANT / NON_COMPLIANT / UNREPORTED nodes, grouped ``by`` patch group,
    operating system or NonCompliantSeverity, plus the fleet totals."""
    query = (
        select(Node, ComplianceRecord)
        .outerjoin(ComplianceRecord, ComplianceRecord.node_id == Node.id)
        .where(Node.deregistered_at.is_(None))
    )
    query = nodes.filtered(query, tags=tag_filters(tag))
    groups: dict[str, Counter[str]] = {}
    total: Counter[str] = Counter()
    for node, record in session.execute(query):
        state = record.compliance if record else UNREPORTED
        if by == "patch_group":
            key = node.patch_group or ""
        elif by == "operating_system":
            key = node.operating_system or ""
        else:
            key = (record.severity if record else None) or ""
        groups.setdefault(key, Counter())[state] += 1
        total[state] += 1

    def counts(c: Counter[str]) -> dict[str, int]:
        return {
            "COMPLIANT": c["COMPLIANT"],
            "NON_COMPLIANT": c["NON_COMPLIANT"],
            UNREPORTED: c[UNREPORTED],
            "nodes": sum(c.values()),
        }

    return {
        "by": by,
        "total": counts(total),
        "groups": [{"key": k or None, **counts(v)} for k, v in sorted(groups.items())],
    }


@router.get("")
def list_compliance(
    _: Viewer,
    session: ReadDB,
    tag: Annotated[list[str] | None, Query(description="KEY=VALUE, repeatable")] = None,
    compliance: Literal["COMPLIANT", "NON_COMPLIANT"] | None = None,
    patch_group: str | None = None,
) -> list[dict[str, Any]]:
    """Each reporting node's compliance summary (DescribeInstancePatchStates)."""
    query = (
        select(Node, ComplianceRecord)
        .join(ComplianceRecord, ComplianceRecord.node_id == Node.id)
        .where(Node.deregistered_at.is_(None))
        .order_by(Node.id)
    )
    query = nodes.filtered(
        query, tags=tag_filters(tag), patch_groups=[patch_group] if patch_group else []
    )
    if compliance:
        query = query.where(ComplianceRecord.compliance == compliance)
    return [
        {
            **compliance_view(record),
            "node_name": node.name,
            "patch_group": node.patch_group,
            "operating_system": node.operating_system,
        }
        for node, record in session.execute(query)
    ]


@router.get("/{node_id}")
def node_compliance(
    node_id: str,
    _: Viewer,
    session: ReadDB,
    state: Annotated[list[str] | None, Query(description="patch states to keep")] = None,
) -> dict[str, Any]:
    """A node's summary and patch states (DescribeInstancePatches)."""
    if session.get(Node, node_id) is None:
        raise not_found(f"node {node_id}")
    record = session.get(ComplianceRecord, node_id)
    if record is None:
        raise not_found(f"compliance of node {node_id} (no RunPatchBaseline reported yet)")
    view = compliance_view(record, items=True)
    if state:
        wanted = set(state)
        view["patches"] = [p for p in view["patches"] if p.get("state") in wanted]
    return view
