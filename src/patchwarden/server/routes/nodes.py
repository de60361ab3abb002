"""``/api/v1/nodes``: managed nodes, filtered by tags, with ping status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy import select

from patchwarden.adapters.storage import nodes
from patchwarden.adapters.storage.tables import InventoryItem, Node
from patchwarden.server import audit, governance
from patchwarden.server.auth import Admin, Operator, Viewer
from patchwarden.server.db import Now, ReadDB, Settings, WriteDB
from patchwarden.server.errors import bad_request, not_found
from patchwarden.server.schemas import Body, Tags
from patchwarden.server.views import node_view, tag_filters

router = APIRouter(prefix="/api/v1/nodes", tags=["nodes"])
PING_STATUSES = ("Online", "ConnectionLost", "Inactive")


@router.get("")
def list_nodes(
    _: Viewer,
    session: ReadDB,
    at: Now,
    settings: Settings,
    tag: Annotated[list[str] | None, Query(description="KEY=VALUE, repeatable")] = None,
    patch_group: str | None = None,
    ping_status: str | None = None,
    include_deregistered: bool = False,
) -> list[dict[str, Any]]:
    """Nodes matching every ``tag`` key (any of its values), the patch group, the status."""
    if ping_status is not None and ping_status not in PING_STATUSES:
        raise bad_request(f"ping_status: must be one of {', '.join(PING_STATUSES)}")
    query = select(Node).order_by(Node.id)
    if not include_deregistered:
        query = query.where(Node.deregistered_at.is_(None))
    query = nodes.filtered(
        query, tags=tag_filters(tag), patch_groups=[patch_group] if patch_group else []
    )
    views = [node_view(n, at, settings) for n in session.scalars(query)]
    if ping_status:
        views = [v for v in views if v["ping_status"] == ping_status]
    return views


@router.get("/{node_id}")
def get_node(node_id: str, _: Viewer, session: ReadDB, at: Now, settings: Settings) -> Any:
    """One node."""
    node = session.get(Node, node_id)
    if node is None:
        raise not_found(f"node {node_id}")
    return node_view(node, at, settings)


@router.get("/{node_id}/inventory")
def node_inventory(
    node_id: str,
    _: Viewer,
    session: ReadDB,
    kind: Annotated[str | None, Query(pattern="^(installed|update)$")] = None,
) -> list[dict[str, Any]]:
    """The node's installed packages and available updates."""
    if session.get(Node, node_id) is None:
        raise not_found(f"node {node_id}")
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


@router.delete("/{node_id}")
def deregister_node(
    node_id: str, who: Admin, session: WriteDB, at: Now, settings: Settings
) -> dict[str, Any]:
    """DeregisterManagedInstance: the credential stops working; history stays."""
    node = session.get(Node, node_id)
    if node is None:
        raise not_found(f"node {node_id}")
    if node.deregistered_at is None:
        node.deregistered_at = node.credential_changed_at = at
        audit.record(session, who, "node.deregister", node.id, at)
    return node_view(node, at, settings)


class NodeTags(Body):
    """``PUT /api/v1/nodes/{id}/tags``: the node's complete tag set."""

    tags: Annotated[Tags, Field(max_length=50)]


@router.put("/{node_id}/tags")
def put_tags(
    node_id: str, body: NodeTags, who: Operator, session: WriteDB, at: Now, settings: Settings
) -> dict[str, Any]:
    """Replace the node's tags (and so its patch group and the commands' tag targets).
    ``patchwarden tag add|remove`` reads the node, changes one key and puts the result."""
    node = session.get(Node, node_id)
    if node is None:
        raise not_found(f"node {node_id}")
    before = dict(node.tags)
    if before != body.tags:
        nodes.set_tags(session, node, body.tags)
        audit.record(session, who, "node.tags", node.id, at, {"from": before, "to": body.tags})
        governance.changed(session, node.id, at)  # e.g. required-tags re-evaluates now
    return node_view(node, at, settings)
