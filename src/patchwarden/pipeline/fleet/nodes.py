"""Managed nodes: deregistration and tag changes (which also move a node between patch
groups and command tag targets)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from patchwarden.pipeline.fleet.errors import NotFound
from patchwarden.pipeline.fleet.ports import AuditLog, NodeRepository
from patchwarden.pipeline.fleet.records import NodeRecord


def existing(nodes: NodeRepository, node_id: str) -> NodeRecord:
    """The node; :class:`NotFound` otherwise."""
    node = nodes.get(node_id)
    if node is None:
        raise NotFound(f"node {node_id}")
    return node


def deregister_node(
    nodes: NodeRepository, audit: AuditLog, node_id: str, actor: str, at: datetime
) -> NodeRecord:
    """DeregisterManagedInstance: the credential stops working, the history stays; a second
    deregistration changes nothing."""
    node = existing(nodes, node_id)
    if node.deregistered_at is None:
        nodes.deregister(node_id, at)
        audit.record(actor, "node.deregister", node_id, at)
        node = existing(nodes, node_id)
    return node


def retag_node(
    nodes: NodeRepository,
    audit: AuditLog,
    node_id: str,
    tags: Mapping[str, str],
    actor: str,
    at: datetime,
    tags_changed: Callable[[str], None],
) -> NodeRecord:
    """Replace the node's tags with ``tags``; ``tags_changed`` runs (with the node id) when
    they differ.  The node as it is afterwards."""
    node = existing(nodes, node_id)
    before = dict(node.tags)
    if before != tags:
        nodes.set_tags(node_id, tags)
        audit.record(actor, "node.tags", node_id, at, {"from": before, "to": dict(tags)})
        tags_changed(node_id)
    return existing(nodes, node_id)
