"""``/api/v1/inventory``: which nodes have package X (at version Y)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from patchwarden.adapters.storage.tables import InventoryItem, Node
from patchwarden.server.auth import Viewer
from patchwarden.server.db import ReadDB

router = APIRouter(prefix="/api/v1/inventory", tags=["inventory"])


@router.get("/packages")
def nodes_with_package(
    _: Viewer,
    session: ReadDB,
    name: Annotated[str, Query(min_length=1, max_length=256)],
    version: Annotated[str | None, Query(max_length=256)] = None,
    kind: Annotated[str, Query(pattern="^(installed|update)$")] = "installed",
) -> list[dict[str, Any]]:
    """Nodes whose inventory has ``name`` (at ``version``) installed (or as an update)."""
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
