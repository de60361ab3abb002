"""Who may talk to the server: operator API tokens and the hybrid activations nodes
register with (both admin operations, audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from patchwarden.pipeline.fleet.errors import Conflict, NotFound
from patchwarden.pipeline.fleet.ports import (
    ActivationRepository,
    AuditLog,
    AwsKeyRepository,
    TokenRepository,
)
from patchwarden.pipeline.fleet.records import (
    ActivationRecord,
    ActivationSpec,
    AwsKeyPair,
    TokenRecord,
)


def create_token(
    tokens: TokenRepository, audit: AuditLog, name: str, role: str, actor: str, at: datetime
) -> tuple[TokenRecord, str]:
    """A new token with a unique name; its value is returned only here."""
    if tokens.name_taken(name):
        raise Conflict(f"a token named {name!r} already exists")
    record, value = tokens.create(name, role, actor, at)
    audit.record(actor, "token.create", record.id, at, {"name": name, "role": role})
    return record, value


def create_token_with_aws_keys(
    tokens: TokenRepository,
    keys: AwsKeyRepository,
    audit: AuditLog,
    name: str,
    role: str,
    actor: str,
    at: datetime,
) -> tuple[TokenRecord, str, AwsKeyPair]:
    """:func:`create_token` plus an AWS-style access key pair acting with the token's role
    (the ``/aws/ssm`` endpoint); the token's value and the secret key are returned only
    here.  Revoking the token disables the keys."""
    record, value = create_token(tokens, audit, name, role, actor, at)
    pair = keys.create(record.id, at)
    audit.record(
        actor, "token.aws_keys.create", record.id, at, {"access_key_id": pair.access_key_id}
    )
    return record, value, pair


@runtime_checkable
class AdminTokens(Protocol):
    """A token repository that can tell which admin tokens still work (the server's)."""

    def active_admins(self) -> list[str]:
        """The ids of the admin tokens not revoked, locked until the transaction ends (so
        two admins revoking each other at once cannot both win)."""
        ...


LAST_ADMIN = (
    "token {id} is the last admin token: create another admin token first "
    "(or `patchwarden server token create --role admin` on the server)"
)


def revoke_token(
    tokens: TokenRepository, audit: AuditLog, token_id: str, actor: str, at: datetime
) -> TokenRecord:
    """Revoke a token: it stops working at once (a second revocation changes nothing).
    The last admin token that works cannot be revoked (Conflict): nobody could manage
    tokens any more."""
    if isinstance(tokens, AdminTokens):
        admins = tokens.active_admins()
        if admins == [token_id]:
            raise Conflict(LAST_ADMIN.format(id=token_id), code="last_admin")
    found = tokens.revoke(token_id, at)
    if found is None:
        raise NotFound(f"token {token_id}")
    record, revoked = found
    if revoked:
        audit.record(actor, "token.revoke", record.id, at, {"name": record.name})
    return record


def create_activation(
    activations: ActivationRepository,
    audit: AuditLog,
    spec: ActivationSpec,
    actor: str,
    at: datetime,
) -> tuple[ActivationRecord, str]:
    """CreateActivation; its code is returned only here."""
    record, code = activations.create(spec, actor, at)
    detail = {"registration_limit": record.registration_limit, "tags": record.tags}
    audit.record(actor, "activation.create", record.id, at, detail)
    return record, code


def expire_activation(
    activations: ActivationRepository, audit: AuditLog, activation_id: str, actor: str, at: datetime
) -> ActivationRecord:
    """Let an activation expire now (nodes registered with it stay registered)."""
    record = activations.expire(activation_id, at)
    if record is None:
        raise NotFound(f"activation {activation_id}")
    audit.record(actor, "activation.delete", record.id, at)
    return record
