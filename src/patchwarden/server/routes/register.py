"""``POST /api/v1/register`` (activation id + code → node id + credential) and
``POST /api/v1/agent/credential`` (rotation)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field

from patchwarden.adapters.storage.activations import SqlActivations
from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.node_admin import Sha256Secrets, SqlNodes
from patchwarden.pipeline.fleet import registration
from patchwarden.pipeline.fleet.errors import FleetError
from patchwarden.pipeline.fleet.records import HostFacts
from patchwarden.server import governance
from patchwarden.server.auth import NodeCaller, refusals
from patchwarden.server.db import Now, WriteDB
from patchwarden.server.outcomes import api_error
from patchwarden.server.refusals import REGISTER, claimed, source_of
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
def register_node(
    request: Request, body: Registration, session: WriteDB, at: Now
) -> dict[str, Any]:
    """Register a node; the credential (``<node id>.<secret>``) is returned only here.

    A refused registration is recorded as ``register.refused`` (audited outside this
    transaction, which rolls back); a wrong activation code counts against the client
    address's failed-secret budget."""
    wanted = registration.Registration(
        activation_id=body.activation_id,
        activation_code=body.activation_code,
        name=body.name,
        tags=body.tags,
        facts=HostFacts(**body.facts.model_dump()),
    )
    try:
        done = registration.register_node(
            SqlActivations(session),
            SqlNodes(session),
            Sha256Secrets(),
            SqlAuditLog(session),
            wanted,
            at,
            lambda node_id: governance.changed(session, node_id, at),  # a new resource
        )
    except FleetError as exc:
        error = api_error(exc)
        refusals(request).refused(
            source_of(request),
            REGISTER,
            claimed("activation", body.activation_id),
            error.status,
            error.code,
            wrong_secret=registration.wrong_secret(exc),
        )
        raise error from None
    return {"node_id": done.node_id, "credential": done.credential, "tags": done.tags}


@router.post("/agent/credential", response_model=None)
def rotate_credential(who: NodeCaller, session: WriteDB, at: Now) -> dict[str, Any]:
    """Issue a new credential for the calling node; the old one stops working."""
    credential = registration.rotate_credential(
        SqlNodes(session), Sha256Secrets(), SqlAuditLog(session), who.id, who.actor, at
    )
    return {"node_id": who.id, "credential": credential}
