"""Node queries: tag filters (AND across keys, OR across values), patch groups, ping status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.tables import Node, NodeTag
from patchwarden.core import presence

PATCH_GROUP_KEYS = ("Patch Group", "PatchGroup")
"""Tag keys naming a node's patch group (reference §2; case-sensitive)."""


def patch_group_of(tags: Mapping[str, str]) -> str | None:
    """The patch group a node's tags put it in (``Patch Group`` wins over ``PatchGroup``)."""
    for key in PATCH_GROUP_KEYS:
        if key in tags:
            return tags[key]
    return None


def set_tags(session: Session, node: Node, tags: Mapping[str, str]) -> None:
    """Replace a node's tags (and its patch group)."""
    node.tags = dict(tags)
    node.patch_group = patch_group_of(tags)
    session.execute(delete(NodeTag).where(NodeTag.node_id == node.id))
    session.add_all(NodeTag(node_id=node.id, key=k, value=v) for k, v in tags.items())


Q = TypeVar("Q", bound="Select[*tuple[Any, ...]]")


def filtered(
    query: Q,
    *,
    ids: Sequence[str] = (),
    tags: Mapping[str, Sequence[str]] | None = None,
    patch_groups: Sequence[str] = (),
) -> Q:
    """``query`` narrowed to nodes matching every given criterion."""
    if ids:
        query = query.where(Node.id.in_(list(ids)))
    for key, values in (tags or {}).items():
        sub = select(NodeTag.node_id).where(NodeTag.key == key)
        if "*" not in values:
            sub = sub.where(NodeTag.value.in_(list(values)))
        query = query.where(Node.id.in_(sub))
    if patch_groups:
        query = query.where(Node.patch_group.in_(list(patch_groups)))
    return query


def active_nodes(session: Session, **criteria: object) -> list[Node]:
    """Registered (not deregistered) nodes matching the criteria of :func:`filtered`."""
    query = select(Node).where(Node.deregistered_at.is_(None)).order_by(Node.id)
    return list(session.scalars(filtered(query, **criteria)))  # type: ignore[arg-type]


def ping_status(node: Node, now: datetime, online_seconds: int, inactive_days: int) -> str:
    """``Online`` / ``ConnectionLost`` / ``Inactive`` from the last check-in
    (:func:`patchwarden.core.presence.ping_status` of the row)."""
    return presence.ping_status(
        last_seen_at=node.last_seen_at,
        registered_at=node.registered_at,
        deregistered_at=node.deregistered_at,
        now=now,
        online_seconds=online_seconds,
        inactive_days=inactive_days,
    )


def registered_ids(session: Session) -> set[str]:
    """The ids of every node not deregistered."""
    return set(session.scalars(select(Node.id).where(Node.deregistered_at.is_(None))))
