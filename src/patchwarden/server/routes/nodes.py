"""``/api/v1/nodes``: managed nodes, filtered by tags, with ping status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.node_admin import SqlNodes
from patchwarden.adapters.storage.queries import nodes as reads
from patchwarden.core.presence import PING_STATUSES
from patchwarden.pipeline.fleet import nodes
from patchwarden.server import governance
from patchwarden.server.auth import Admin, Operator, Viewer
from patchwarden.server.db import Now, ReadDB, Settings, WriteDB
from patchwarden.server.errors import bad_request, not_found
from patchwarden.server.fleet.views import node_view, tag_filters
from patchwarden.server.outcomes import answered
from patchwarden.server.schemas import Body, Tags

router = APIRouter(prefix="/api/v1/nodes", tags=["nodes"])


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
    found = reads.nodes(
        session,
        tags=tag_filters(tag),
        patch_group=patch_group,
        include_deregistered=include_deregistered,
    )
    views = [node_view(n, at, settings) for n in found]
    if ping_status:
        views = [v for v in views if v["ping_status"] == ping_status]
    return views


@router.get("/{node_id}")
def get_node(node_id: str, _: Viewer, session: ReadDB, at: Now, settings: Settings) -> Any:
    """One node."""
    node = reads.node(session, node_id)
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
    items = reads.inventory(session, node_id, kind)
    if items is None:
        raise not_found(f"node {node_id}")
    return items


@router.delete("/{node_id}")
def deregister_node(
    node_id: str, who: Admin, session: WriteDB, at: Now, settings: Settings
) -> dict[str, Any]:
    """DeregisterManagedInstance: the credential stops working; history stays."""
    with answered():
        node = nodes.deregister_node(
            SqlNodes(session), SqlAuditLog(session), node_id, who.actor, at
        )
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
    with answered():
        node = nodes.retag_node(
            SqlNodes(session),
            SqlAuditLog(session),
            node_id,
            body.tags,
            who.actor,
            at,
            lambda changed: governance.changed(session, changed, at),  # e.g. required-tags
        )
    return node_view(node, at, settings)
