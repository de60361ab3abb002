"""Hybrid activation (reference §7): a node registers with an activation id and code and
gets its id and credential; it rotates the credential itself later."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from patchwarden.pipeline.fleet.errors import FleetError, Forbidden, Unauthenticated
from patchwarden.pipeline.fleet.ports import ActivationRepository, AuditLog, NodeRepository, Secrets
from patchwarden.pipeline.fleet.records import HostFacts, NewNode, Registered


@dataclass(frozen=True)
class Registration:
    """What ``patchwarden agent register`` sends."""

    activation_id: str
    activation_code: str
    name: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    facts: HostFacts = field(default_factory=HostFacts)


def register_node(
    activations: ActivationRepository,
    nodes: NodeRepository,
    secrets: Secrets,
    audit: AuditLog,
    request: Registration,
    at: datetime,
    node_added: Callable[[str], None],
) -> Registered:
    """Register a node: the activation must exist, match the code, not have expired and
    have a registration left.  The node's tags are the activation's, overridden by its own;
    its name the given one, else the activation's default, else its hostname.
    ``node_added`` runs with the new node's id once it is stored."""
    grant = activations.grant(request.activation_id)
    if grant is None or not secrets.verify(request.activation_code, grant.code_hash):
        raise Unauthenticated("unknown activation id or wrong code", code="invalid_activation")
    if at >= grant.expires_at:
        raise Forbidden(f"activation {grant.id} has expired", code="activation_expired")
    if not activations.claim_slot(grant.id):
        raise Forbidden(
            f"activation {grant.id} reached its limit of "
            f"{grant.registration_limit} registration(s)",
            code="registration_limit",
        )
    secret = secrets.new_secret()
    tags = {**grant.tags, **request.tags}
    node_id = nodes.add(
        NewNode(
            name=request.name or grant.default_instance_name or request.facts.hostname,
            activation_id=grant.id,
            credential_hash=secrets.hash(secret),
            tags=tags,
            facts=request.facts,
            at=at,
        )
    )
    audit.record(f"activation:{grant.id}", "node.register", node_id, at, {"tags": tags})
    node_added(node_id)
    return Registered(node_id, f"{node_id}.{secret}", tags)


def wrong_secret(refusal: FleetError) -> bool:
    """Whether a refusal of :func:`register_node` means a wrong activation code (or an
    unknown activation): a guess, which the server counts against the caller's budget of
    failed secrets; an expired or exhausted activation is not."""
    return isinstance(refusal, Unauthenticated) and refusal.code == "invalid_activation"


def rotate_credential(
    nodes: NodeRepository,
    secrets: Secrets,
    audit: AuditLog,
    node_id: str,
    actor: str,
    at: datetime,
) -> str:
    """A new credential (``<node id>.<secret>``) for the node; the old one stops working."""
    secret = secrets.new_secret()
    nodes.set_credential(node_id, secrets.hash(secret), at)
    audit.record(actor, "node.rotate_credential", node_id, at)
    return f"{node_id}.{secret}"
