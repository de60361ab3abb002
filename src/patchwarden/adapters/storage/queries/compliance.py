"""Nodes' patch compliance (the last RunPatchBaseline report of each), as the API lists
and counts it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage import nodes as node_filters
from patchwarden.adapters.storage.tables import ComplianceRecord, Node
from patchwarden.pipeline.fleet.compliance import NodeCompliance


@dataclass(frozen=True)
class Compliance:
    """A node's stored compliance summary and patch states."""

    node_id: str
    compliance: str
    severity: str | None
    baseline: str
    baseline_id: str | None
    snapshot_id: str | None
    operation: str
    command_id: str | None
    generated_at: datetime | None
    reported_at: datetime
    summary: dict[str, Any]
    items: list[Any]


@dataclass(frozen=True)
class NodeLabel:
    """What a compliance listing says of the node."""

    name: str
    patch_group: str | None
    operating_system: str


def _compliance(row: ComplianceRecord) -> Compliance:
    return Compliance(
        node_id=row.node_id,
        compliance=row.compliance,
        severity=row.severity,
        baseline=row.baseline,
        baseline_id=row.baseline_id,
        snapshot_id=row.snapshot_id,
        operation=row.operation,
        command_id=row.command_id,
        generated_at=row.generated_at,
        reported_at=row.reported_at,
        summary=row.summary,
        items=row.items,
    )


def fleet_states(session: Session, tags: Mapping[str, Sequence[str]]) -> list[NodeCompliance]:
    """Every active node with the tags, reported or not."""
    query = (
        select(Node, ComplianceRecord)
        .outerjoin(ComplianceRecord, ComplianceRecord.node_id == Node.id)
        .where(Node.deregistered_at.is_(None))
    )
    query = node_filters.filtered(query, tags=tags)
    return [
        NodeCompliance(
            patch_group=node.patch_group,
            operating_system=node.operating_system,
            compliance=record.compliance if record else None,
            severity=record.severity if record else None,
            baseline=record.baseline if record else None,
        )
        for node, record in session.execute(query)
    ]


def reported(
    session: Session,
    *,
    tags: Mapping[str, Sequence[str]],
    compliance: str | None,
    patch_group: str | None,
) -> list[tuple[Compliance, NodeLabel]]:
    """Each active reporting node's compliance (only ``compliance`` when given) with the
    tags, in ``patch_group`` when given; by node id."""
    query = (
        select(Node, ComplianceRecord)
        .join(ComplianceRecord, ComplianceRecord.node_id == Node.id)
        .where(Node.deregistered_at.is_(None))
        .order_by(Node.id)
    )
    query = node_filters.filtered(
        query, tags=tags, patch_groups=[patch_group] if patch_group else []
    )
    if compliance:
        query = query.where(ComplianceRecord.compliance == compliance)
    return [
        (_compliance(record), NodeLabel(node.name, node.patch_group, node.operating_system))
        for node, record in session.execute(query)
    ]


def node_compliance(session: Session, node_id: str) -> tuple[NodeLabel | None, Compliance | None]:
    """The node (None when there is no such node), and its compliance (None before its
    first report)."""
    node = session.get(Node, node_id)
    if node is None:
        return None, None
    label = NodeLabel(node.name, node.patch_group, node.operating_system)
    record = session.get(ComplianceRecord, node_id)
    return label, _compliance(record) if record is not None else None
