"""Managed nodes as registration and administration change them (ORM changes, so the
commit tells the poll path's node cache: :mod:`.commit_watch`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from patchwarden.adapters.storage import nodes, secrets
from patchwarden.adapters.storage.inventories import capability_list
from patchwarden.adapters.storage.tables import Node
from patchwarden.pipeline.fleet.records import NewNode, NodeRecord


def node_record(row: Node) -> NodeRecord:
    """The row as a plain value (never its credential's hash)."""
    return NodeRecord(
        id=row.id,
        name=row.name,
        hostname=row.hostname,
        activation_id=row.activation_id,
        tags=row.tags,
        patch_group=row.patch_group,
        os_id=row.os_id,
        os_version=row.os_version,
        operating_system=row.operating_system,
        product=row.product,
        agent_version=row.agent_version,
        registered_at=row.registered_at,
        last_seen_at=row.last_seen_at,
        deregistered_at=row.deregistered_at,
    )


class SqlNodes:
    """The :class:`~patchwarden.pipeline.fleet.ports.NodeRepository` of a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _row(self, node_id: str) -> Node:
        row = self._session.get(Node, node_id)
        assert row is not None
        return row

    def get(self, node_id: str) -> NodeRecord | None:
        """The node (registered or not)."""
        row = self._session.get(Node, node_id)
        return node_record(row) if row is not None else None

    def add(self, node: NewNode) -> str:
        """Store a new node with its tags; its new id (``mi-`` + 17 hex)."""
        facts = node.facts
        row = Node(
            id=secrets.node_id(),
            name=node.name,
            activation_id=node.activation_id,
            credential_hash=node.credential_hash,
            tags=dict(node.tags),
            hostname=facts.hostname,
            os_id=facts.os_id,
            os_version=facts.os_version,
            operating_system=facts.operating_system,
            product=facts.product,
            agent_version=facts.agent_version,
            capabilities=capability_list(facts.capabilities),
            registered_at=node.at,
            last_seen_at=node.at,
            credential_changed_at=node.at,
            deregistered_at=None,
        )
        self._session.add(row)
        self._session.flush()
        nodes.set_tags(self._session, row, node.tags)
        return row.id

    def set_tags(self, node_id: str, tags: Mapping[str, str]) -> None:
        """Replace the node's tags (and so its patch group)."""
        nodes.set_tags(self._session, self._row(node_id), tags)

    def deregister(self, node_id: str, at: datetime) -> None:
        """Mark the node deregistered: its credential changed (to none)."""
        row = self._row(node_id)
        row.deregistered_at = row.credential_changed_at = at

    def set_credential(self, node_id: str, credential_hash: str, at: datetime) -> None:
        """Replace the node's credential; a rotation is also a check-in."""
        row = self._row(node_id)
        row.credential_hash = credential_hash
        row.credential_changed_at = at
        row.last_seen_at = at


class Sha256Secrets:
    """The :class:`~patchwarden.pipeline.fleet.ports.Secrets` of :mod:`.secrets`."""

    def new_secret(self) -> str:
        """A fresh URL-safe secret (256 bits)."""
        return secrets.new_secret()

    def hash(self, secret: str) -> str:
        """SHA-256 hex of the secret."""
        return secrets.hash_secret(secret)

    def verify(self, secret: str, stored_hash: str) -> bool:
        """Constant-time check of the secret against its stored hash."""
        return secrets.verify(secret, stored_hash)
