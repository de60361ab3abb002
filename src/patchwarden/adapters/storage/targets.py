"""Command targets in SQL: the active nodes a :class:`TargetSelection` selects."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage import nodes
from patchwarden.adapters.storage.tables import Node, NodeTag
from patchwarden.pipeline.fleet.records import TargetNode, TargetSelection

NodeRow = Node
"""The stored node (for callers that still work on rows)."""


def target_rows(session: Session, selection: TargetSelection) -> list[Node]:
    """Active nodes matching every criterion of ``selection``, by id."""
    query = select(Node).where(Node.deregistered_at.is_(None)).order_by(Node.id)
    for key in selection.tag_keys:
        query = query.where(Node.id.in_(select(NodeTag.node_id).where(NodeTag.key == key)))
    query = nodes.filtered(
        query, ids=selection.ids, tags=selection.tags, patch_groups=selection.patch_groups
    )
    return list(session.scalars(query))


class SqlNodeDirectory:
    """The :class:`~patchwarden.pipeline.fleet.ports.NodeDirectory` of a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def targets(self, selection: TargetSelection) -> list[TargetNode]:
        """Active nodes matching ``selection``, by id."""
        return [
            TargetNode(n.id, n.operating_system, n.patch_group)
            for n in target_rows(self._session, selection)
        ]
