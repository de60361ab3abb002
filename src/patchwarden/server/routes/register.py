"""``POST /api/v1/register`` (activation id + code → node id + credential) and
``POST /api/v1/agent/credential`` (rotation)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import update

from patchwarden.adapters.storage import nodes
from patchwarden.adapters.storage.secrets import hash_secret, new_secret, node_id, verify
from patchwarden.adapters.storage.tables import Activation, Node
from patchwarden.server import audit, governance
from patchwarden.server.auth import NodeCaller
from patchwarden.server.db import Now, WriteDB
from patchwarden.server.errors import ApiError
from patchwarden.server.schemas import Body, NodeFacts, Short, Tags

router = APIRouter(prefix="/api/v1", tags=["agent"])


class Registration(Body):
    """What ``patchwarden agent register`` sends."""

    activation_id: str = Field(min_length=1, max_length=64)
    activation_code: str = Field(min_length=1, max_length=256)
    name: Short = ""
    tags: Tags = Field(default_factory=dict, max_length=50)
    facts: NodeFacts = NodeFacts()


def _refused(code: str, message: str) -> ApiError:
    return ApiError(403, code, message)


@router.post("/register", status_code=201, response_model=None)
def register_node(body: Registration, session: WriteDB, at: Now) -> dict[str, Any]:
    """Register a node; the credential (``<node id>.<secret>``) is returned only here."""
    activation = session.get(Activation, body.activation_id)
    if activation is None or not verify(body.activation_code, activation.code_hash):
        raise ApiError(401, "invalid_activation", "unknown activation id or wrong code")
    if at >= activation.expires_at:
        raise _refused("activation_expired", f"activation {activation.id} has expired")
    claimed = session.execute(
        update(Activation)
        .where(
            Activation.id == activation.id,
            Activation.registration_count < Activation.registration_limit,
        )
        .values(registration_count=Activation.registration_count + 1)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise _refused(
            "registration_limit",
            f"activation {activation.id} reached its limit of "
            f"{activation.registration_limit} registration(s)",
        )
    secret = new_secret()
    facts = body.facts
    tags = {**activation.tags, **body.tags}
    node = Node(
        id=node_id(),
        name=body.name or activation.default_instance_name or facts.hostname,
        activation_id=activation.id,
        credential_hash=hash_secret(secret),
        tags=tags,
        hostname=facts.hostname,
        os_id=facts.os_id,
        os_version=facts.os_version,
        operating_system=facts.operating_system,
        product=facts.product,
        agent_version=facts.agent_version,
        registered_at=at,
        last_seen_at=at,
        credential_changed_at=at,
        deregistered_at=None,
    )
    session.add(node)
    session.flush()
    nodes.set_tags(session, node, tags)
    audit.record(
        session, f"activation:{activation.id}", "node.register", node.id, at, {"tags": tags}
    )
    governance.changed(session, node.id, at)  # a new resource: change-triggered rules
    return {"node_id": node.id, "credential": f"{node.id}.{secret}", "tags": tags}


@router.post("/agent/credential", response_model=None)
def rotate_credential(who: NodeCaller, session: WriteDB, at: Now) -> dict[str, Any]:
    """Issue a new credential for the calling node; the old one stops working."""
    node = session.get(Node, who.id)
    assert node is not None
    secret = new_secret()
    node.credential_hash = hash_secret(secret)
    node.credential_changed_at = at
    node.last_seen_at = at
    audit.record(session, who, "node.rotate_credential", node.id, at)
    return {"node_id": node.id, "credential": f"{node.id}.{secret}"}
