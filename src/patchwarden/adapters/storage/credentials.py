"""Node credentials and check-ins as the poll path's node cache needs them
(:mod:`patchwarden.server.fleet.nodecache`): one node's credential, the nodes whose credential
changed since a moment, and a batch of check-ins written in one statement."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from patchwarden.adapters.storage.tables import Node


@dataclass(frozen=True)
class NodeCredential:
    """What authenticating a node needs of its row."""

    credential_hash: str
    name: str
    deregistered: bool
    last_seen_at: datetime | None


def node_credential(sessions: sessionmaker[Session], node_id: str) -> NodeCredential | None:
    """The credential of ``node_id`` (one read); None when there is no such node."""
    with sessions() as session:
        row = session.execute(
            select(Node.credential_hash, Node.name, Node.deregistered_at, Node.last_seen_at).where(
                Node.id == node_id
            )
        ).first()
    if row is None:
        return None
    deregistered = row.deregistered_at is not None
    return NodeCredential(row.credential_hash, row.name, deregistered, row.last_seen_at)


def credentials_changed_since(sessions: sessionmaker[Session], since: datetime) -> list[str]:
    """Nodes whose credential changed (registration, rotation, deregistration) at or after
    ``since``."""
    with sessions() as session:
        query = select(Node.id).where(Node.credential_changed_at >= since)
        return list(session.scalars(query))


def write_checkins(sessions: sessionmaker[Session], seen: Mapping[str, datetime]) -> None:
    """Set ``last_seen_at`` of each node in ``seen`` in one transaction and statement."""
    rows = [{"id": n, "last_seen_at": at} for n, at in sorted(seen.items())]  # lock order
    if not rows:
        return
    with sessions() as session, session.begin():
        session.execute(update(Node), rows)  # ORM bulk UPDATE by primary key
