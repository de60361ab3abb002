"""The narrow ports of the fleet use cases (SQLAlchemy implementations in
:mod:`patchwarden.adapters.storage`; in-memory fakes in the unit tests).  Every port works
inside the caller's transaction: nothing here commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from patchwarden.pipeline.fleet.command_records import (
    CommandRecord,
    CommandSpec,
    ComplianceReport,
    FinishedInvocation,
    InvocationSpec,
    InvocationState,
)
from patchwarden.pipeline.fleet.records import (
    ActivationGrant,
    ActivationRecord,
    ActivationSpec,
    AwsKeyPair,
    GroupRegistration,
    NewNode,
    NodeRecord,
    StoredBaseline,
    TargetNode,
    TargetSelection,
    TokenRecord,
)
from patchwarden.ports import AuditLog as AuditLog  # one definition, re-exported


class BaselineSource(Protocol):
    """Stored baseline documents, as resolving a node's baseline reads them."""

    def named_document(self, name: str) -> dict[str, Any] | None:
        """The document of the baseline called ``name``."""
        ...

    def group_document(self, patch_group: str, operating_system: str) -> dict[str, Any] | None:
        """The document registered for (patch group, OS)."""
        ...

    def default_document(self, operating_system: str) -> dict[str, Any] | None:
        """The operator's default document for the OS."""
        ...


class BaselineRepository(Protocol):
    """Stored baselines, by name."""

    def by_name(self, name: str) -> StoredBaseline | None:
        """The baseline called ``name``."""
        ...

    def create(
        self, name: str, operating_system: str, document: dict[str, Any], at: datetime
    ) -> StoredBaseline:
        """Store a new baseline."""
        ...

    def replace(self, baseline_id: str, document: dict[str, Any], at: datetime) -> StoredBaseline:
        """Replace a stored baseline's document."""
        ...

    def first_patch_group(self, baseline_id: str) -> str | None:
        """A patch group the baseline is registered for, if any."""
        ...

    def is_default(self, baseline_id: str) -> bool:
        """Whether the baseline is the default of an OS."""
        ...

    def delete(self, baseline_id: str) -> None:
        """Delete the baseline."""
        ...


class PatchGroupRepository(Protocol):
    """Patch group and default baseline registrations."""

    def registration(self, patch_group: str, operating_system: str) -> GroupRegistration | None:
        """The baseline registered for (patch group, OS)."""
        ...

    def register(self, registration: GroupRegistration) -> None:
        """Add a (patch group, OS) registration."""
        ...

    def deregister(self, patch_group: str, operating_system: str) -> None:
        """Remove the (patch group, OS) registration."""
        ...

    def set_default(self, operating_system: str, baseline_id: str) -> None:
        """Make the baseline the default of the OS."""
        ...

    def reset_default(self, operating_system: str) -> bool:
        """Drop the OS's default; False when it had none."""
        ...


class NodeDirectory(Protocol):
    """Active nodes, as target resolution reads them."""

    def targets(self, selection: TargetSelection) -> list[TargetNode]:
        """Active nodes matching ``selection``, by id."""
        ...


class CommandRepository(Protocol):
    """Stored commands and their invocations."""

    def create(self, command: CommandSpec, invocations: Sequence[InvocationSpec]) -> CommandRecord:
        """Store a command with one Pending invocation per spec (in order) and roll up its
        status."""
        ...

    def lock(self, command_id: str) -> CommandRecord | None:
        """The command, locked for this transaction."""
        ...

    def request_cancel(self, command_id: str) -> None:
        """Mark the (locked) command for cancellation."""
        ...

    def refresh(self, command_id: str, at: datetime) -> CommandRecord:
        """Apply timeouts, error limits and cancellation to the (locked) command; its
        rolled-up state after."""
        ...


class InvocationReports(Protocol):
    """Invocations as a node's report of its result changes them."""

    def lock(self, invocation_id: str) -> InvocationState | None:
        """The invocation, locked for this transaction."""
        ...

    def finish(self, invocation_id: str, result: FinishedInvocation) -> None:
        """Store the invocation's final state."""
        ...

    def save_compliance(self, node_id: str, report: ComplianceReport, at: datetime) -> None:
        """Replace the node's patch compliance."""
        ...

    def roll_up(self, command_id: str, at: datetime) -> str:
        """Refresh the command's status unless another transaction holds the command (then
        leave it to that one's successor); the command's status either way."""
        ...


class NodeRepository(Protocol):
    """Managed nodes."""

    def get(self, node_id: str) -> NodeRecord | None:
        """The node (registered or not)."""
        ...

    def add(self, node: NewNode) -> str:
        """Store a new node with its tags; its new id."""
        ...

    def set_tags(self, node_id: str, tags: Mapping[str, str]) -> None:
        """Replace the node's tags (and so its patch group)."""
        ...

    def deregister(self, node_id: str, at: datetime) -> None:
        """Mark the node deregistered (its credential stops working)."""
        ...

    def set_credential(self, node_id: str, credential_hash: str, at: datetime) -> None:
        """Replace the node's credential (a rotation is also a check-in)."""
        ...


class Secrets(Protocol):
    """Credential secrets: made fresh, stored hashed, checked in constant time."""

    def new_secret(self) -> str:
        """A fresh secret."""
        ...

    def hash(self, secret: str) -> str:
        """What is stored of ``secret``."""
        ...

    def verify(self, secret: str, stored_hash: str) -> bool:
        """Whether ``secret`` is the one ``stored_hash`` was made of."""
        ...


class ActivationRepository(Protocol):
    """Hybrid activations."""

    def create(
        self, spec: ActivationSpec, created_by: str, at: datetime
    ) -> tuple[ActivationRecord, str]:
        """Store a new activation; with its code (stored hashed only)."""
        ...

    def expire(self, activation_id: str, at: datetime) -> ActivationRecord | None:
        """Let the activation expire at ``at`` at the latest."""
        ...

    def grant(self, activation_id: str) -> ActivationGrant | None:
        """What registering with the activation checks."""
        ...

    def claim_slot(self, activation_id: str) -> bool:
        """Count one more registration unless the limit is reached (atomically)."""
        ...


class TokenRepository(Protocol):
    """Operator API tokens."""

    def name_taken(self, name: str) -> bool:
        """Whether a token (revoked or not) has this name."""
        ...

    def create(
        self, name: str, role: str, created_by: str, at: datetime
    ) -> tuple[TokenRecord, str]:
        """Store a new token; with its value (shown once, stored hashed only)."""
        ...

    def revoke(self, token_id: str, at: datetime) -> tuple[TokenRecord, bool] | None:
        """Revoke the token (if not yet); the token and whether this revoked it."""
        ...


class AwsKeyRepository(Protocol):
    """AWS-style access keys of operator tokens (the ``/aws/ssm`` endpoint)."""

    def create(self, token_id: str, at: datetime) -> AwsKeyPair:
        """A new key pair for the token (its secret is returned only here)."""
        ...
