"""``POST /api/v1/register`` (activation id + code → node id + credential) and
``POST /api/v1/agent/credential`` (rotation)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from patchwarden.adapters.storage.activations import SqlActivations
from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.node_admin import Sha256Secrets, SqlNodes
from patchwarden.pipeline.fleet import registration
from patchwarden.pipeline.fleet.records import HostFacts
from patchwarden.server import governance
from patchwarden.server.auth import NodeCaller
from patchwarden.server.db import Now, WriteDB
from patchwarden.server.outcomes import answered
from patchwarden.server.schemas import Body, NodeFacts, Short, Tags

router = APIRouter(prefix="/api/v1", tags=["agent"])


class Registration(Body):
    """What ``patchwarden agent register`` sends."""

    activation_id: str = Field(min_length=1, max_length=64)
    activation_code: str = Field(min_length=1, max_length=256)
    name: Short = ""
    tags: Tags = Field(default_factory=dict, max_length=50)
    facts: NodeFacts = NodeFacts()


@router.post("/register", status_code=201, response_model=None)
def register_node(body: Registration, session: WriteDB, at: Now) -> dict[str, Any]:
    """Register a node; the credential (``<node id>.<secret>``) is returned only here."""
    request = registration.Registration(
        activation_id=body.activation_id,
        activation_code=body.activation_code,
        name=body.name,
        tags=body.tags,
        facts=HostFacts(**body.facts.model_dump()),
    )
    with answered():
        done = registration.register_node(
            SqlActivations(session),
            SqlNodes(session),
            Sha256Secrets(),
            SqlAuditLog(session),
            request,
            at,
            lambda node_id: governance.changed(session, node_id, at),  # a new resource
        )
    return {"node_id": done.node_id, "credential": done.credential, "tags": done.tags}


@router.post("/agent/credential", response_model=None)
def rotate_credential(who: NodeCaller, session: WriteDB, at: Now) -> dict[str, Any]:
    """Issue a new credential for the calling node; the old one stops working."""
    credential = registration.rotate_credential(
        SqlNodes(session), Sha256Secrets(), SqlAuditLog(session), who.id, who.actor, at
    )
    return {"node_id": who.id, "credential": credential}
