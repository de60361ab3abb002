"""Plain values the fleet use cases and their ports exchange: what storage gives back and
what it is asked to store (no ORM rows cross the ports)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class HostFacts:
    """What an agent says about its node."""

    hostname: str = ""
    os_id: str = ""
    os_version: str = ""
    operating_system: str = ""
    product: str = ""
    agent_version: str = ""
    capabilities: str = ""


@dataclass(frozen=True)
class NodeRecord:
    """A managed node as stored."""

    id: str
    name: str
    hostname: str
    activation_id: str | None
    tags: dict[str, Any]
    patch_group: str | None
    os_id: str
    os_version: str
    operating_system: str
    product: str
    agent_version: str
    registered_at: datetime
    last_seen_at: datetime | None
    deregistered_at: datetime | None


@dataclass(frozen=True)
class NewNode:
    """A node to add (its id is the repository's to choose)."""

    name: str
    activation_id: str
    credential_hash: str
    tags: Mapping[str, str]
    facts: HostFacts
    at: datetime


@dataclass(frozen=True)
class ActivationSpec:
    """CreateActivation's parameters."""

    description: str
    default_instance_name: str
    registration_limit: int
    expires_at: datetime
    tags: Mapping[str, str]


@dataclass(frozen=True)
class ActivationRecord:
    """A hybrid activation as stored (never its code)."""

    id: str
    description: str
    default_instance_name: str
    registration_limit: int
    registration_count: int
    expires_at: datetime
    tags: dict[str, Any]
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class ActivationGrant:
    """What registering a node with an activation needs of it."""

    id: str
    code_hash: str
    expires_at: datetime
    registration_limit: int
    default_instance_name: str
    tags: dict[str, Any]


@dataclass(frozen=True)
class Registered:
    """A node just registered: its credential is shown only this once."""

    node_id: str
    credential: str
    tags: dict[str, str]


@dataclass(frozen=True)
class TokenRecord:
    """An operator API token as stored (never its secret)."""

    id: str
    name: str
    role: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


@dataclass(frozen=True)
class StoredBaseline:
    """A stored PatchBaseline (its document JSON)."""

    id: str
    name: str
    operating_system: str
    document: dict[str, Any]
    created_at: datetime
    modified_at: datetime

    @property
    def description(self) -> Any:
        """The document's ``spec.Description`` (None without one)."""
        return self.document.get("spec", {}).get("Description")


@dataclass(frozen=True)
class GroupRegistration:
    """One (patch group, OS) → baseline registration."""

    patch_group: str
    operating_system: str
    baseline: str
    baseline_id: str


@dataclass(frozen=True)
class TargetSelection:
    """Which active nodes a command targets: every given criterion must hold (no criterion:
    every active node)."""

    ids: tuple[str, ...] = ()
    tag_keys: tuple[str, ...] = ()
    """Keys the node must have a tag for (any value)."""
    tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Key → accepted values (``*``: any value)."""
    patch_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetNode:
    """What sending a command needs of a target node."""

    id: str
    operating_system: str
    patch_group: str | None


@dataclass(frozen=True, repr=False)
class AwsKeyPair:
    """An AWS-style access key pair of an operator token, shown once (no ``repr``: the
    secret never reaches a log)."""

    access_key_id: str
    secret_access_key: str
