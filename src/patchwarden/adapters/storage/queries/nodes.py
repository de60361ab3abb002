"""Managed nodes and their inventories, as the API lists them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage import nodes as node_filters
from patchwarden.adapters.storage.node_admin import node_record
from patchwarden.adapters.storage.tables import InventoryItem, Node
from patchwarden.pipeline.fleet.records import NodeRecord


def nodes(
    session: Session,
    *,
    tags: Mapping[str, Sequence[str]],
    patch_group: str | None,
    include_deregistered: bool,
) -> list[NodeRecord]:
    """Nodes with every tag key of ``tags`` (any of its values) in ``patch_group`` (when
    given), by id; deregistered ones only with ``include_deregistered``."""
    query = select(Node).order_by(Node.id)
    if not include_deregistered:
        query = query.where(Node.deregistered_at.is_(None))
    query = node_filters.filtered(
        query, tags=tags, patch_groups=[patch_group] if patch_group else []
    )
    return [node_record(n) for n in session.scalars(query)]


def node(session: Session, node_id: str) -> NodeRecord | None:
    """One node (registered or not)."""
    row = session.get(Node, node_id)
    return node_record(row) if row is not None else None


def inventory(session: Session, node_id: str, kind: str | None) -> list[dict[str, Any]] | None:
    """The node's installed packages and available updates (only ``kind`` when given), by
    kind, name and arch; None when there is no such node."""
    if session.get(Node, node_id) is None:
        return None
    query = select(InventoryItem).where(InventoryItem.node_id == node_id)
    if kind:
        query = query.where(InventoryItem.kind == kind)
    query = query.order_by(InventoryItem.kind, InventoryItem.name, InventoryItem.arch)
    return [
        {
            "kind": i.kind,
            "name": i.name,
            "arch": i.arch,
            "version": i.version,
            "source_name": i.source_name,
            "repository": i.repository,
            "classification": i.classification,
        }
        for i in session.scalars(query)
    ]


def nodes_with_package(
    session: Session, name: str, version: str | None, kind: str
) -> list[dict[str, Any]]:
    """Active nodes whose inventory has ``name`` (at ``version``, when given) as ``kind``
    (``installed`` or ``update``), by node id."""
    query = (
        select(InventoryItem, Node.name)
        .join(Node, Node.id == InventoryItem.node_id)
        .where(
            InventoryItem.name == name,
            InventoryItem.kind == kind,
            Node.deregistered_at.is_(None),
        )
        .order_by(InventoryItem.node_id)
    )
    if version is not None:
        query = query.where(InventoryItem.version == version)
    return [
        {
            "node_id": item.node_id,
            "node_name": node_name,
            "name": item.name,
            "arch": item.arch,
            "version": item.version,
            "kind": item.kind,
        }
        for item, node_name in session.execute(query)
    ]
