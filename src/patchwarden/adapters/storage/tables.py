"""The server's tables (SQLAlchemy 2 typed models).  Change them only together with a new
Alembic revision in :mod:`patchwarden.adapters.storage.migrations`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from patchwarden.adapters.storage.base import Base


class Token(Base):
    """An operator API token (the secret is stored as SHA-256 only)."""

    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    revoked_at: Mapped[datetime | None]


class AuditEntry(Base):
    """Who changed what, when."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(160))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(256))
    detail: Mapped[dict[str, Any]]


class Activation(Base):
    """A hybrid activation: id + code (hashed), limit, expiry, default tags and name."""

    __tablename__ = "activations"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(256), default="")
    default_instance_name: Mapped[str] = mapped_column(String(256), default="")
    registration_limit: Mapped[int]
    registration_count: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime]
    tags: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))


class Node(Base):
    """A managed node (``mi-`` + 17 hex)."""

    __tablename__ = "nodes"
    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    activation_id: Mapped[str | None] = mapped_column(ForeignKey("activations.id"))
    credential_hash: Mapped[str] = mapped_column(String(64))
    tags: Mapped[dict[str, Any]]
    patch_group: Mapped[str | None] = mapped_column(String(256), index=True)
    hostname: Mapped[str] = mapped_column(String(256), default="")
    os_id: Mapped[str] = mapped_column(String(64), default="")
    os_version: Mapped[str] = mapped_column(String(64), default="")
    operating_system: Mapped[str] = mapped_column(String(64), default="")
    product: Mapped[str] = mapped_column(String(64), default="")
    agent_version: Mapped[str] = mapped_column(String(32), default="")
    registered_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]
    deregistered_at: Mapped[datetime | None]
    credential_changed_at: Mapped[datetime | None] = mapped_column(index=True)
    """Set when the credential is issued, rotated or revoked (replicas' credential caches
    follow it: :mod:`patchwarden.server.fleet.nodecache`)."""
    capabilities: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    """What the agent can do besides patching (``image-builder``), as it last said."""


class NodeTag(Base):
    """One tag of a node (for target resolution in SQL)."""

    __tablename__ = "node_tags"
    node_id: Mapped[str] = mapped_column(
        ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))
    __table_args__ = (Index("ix_node_tags_key_value", "key", "value"),)


class Inventory(Base):
    """A node's latest inventory header; the packages are :class:`InventoryItem` rows."""

    __tablename__ = "inventories"
    node_id: Mapped[str] = mapped_column(
        ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True
    )
    content_hash: Mapped[str] = mapped_column(String(64))
    installed_count: Mapped[int]
    update_count: Mapped[int]
    collected_at: Mapped[datetime | None]
    uploaded_at: Mapped[datetime]


class InventoryItem(Base):
    """One installed package or available update of a node."""

    __tablename__ = "inventory_items"
    node_id: Mapped[str] = mapped_column(
        ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True
    )
    item_hash: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(256))
    arch: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(256))
    source_name: Mapped[str] = mapped_column(String(256), default="")
    repository: Mapped[str] = mapped_column(String(256), default="")
    classification: Mapped[str] = mapped_column(String(64), default="")
    severity: Mapped[str] = mapped_column(String(64), default="")
    advisories: Mapped[str] = mapped_column(Text, default="")
    """Space-separated update notice ids (rpm updates)."""
    cves: Mapped[str] = mapped_column(Text, default="")
    """Space-separated CVE ids of those notices."""
    __table_args__ = (Index("ix_inventory_items_name_version", "name", "version"),)


class ComplianceRecord(Base):
    """A node's latest patch compliance (the last report of a RunPatchBaseline)."""

    __tablename__ = "compliance"
    node_id: Mapped[str] = mapped_column(
        ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True
    )
    compliance: Mapped[str] = mapped_column(String(16), index=True)
    severity: Mapped[str | None] = mapped_column(String(16))
    baseline: Mapped[str] = mapped_column(String(128))
    baseline_id: Mapped[str | None] = mapped_column(String(32))
    snapshot_id: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(16))
    command_id: Mapped[str | None] = mapped_column(String(36))
    generated_at: Mapped[datetime | None]
    reported_at: Mapped[datetime]
    summary: Mapped[dict[str, Any]]
    items: Mapped[list[Any]]


class ComplianceDay(Base):
    """The fleet's compliance counts of one day (UTC), per state: the console's trend."""

    __tablename__ = "compliance_history"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), primary_key=True)
    nodes: Mapped[int]


class Baseline(Base):
    """A stored PatchBaseline (its document JSON)."""

    __tablename__ = "baselines"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    operating_system: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    modified_at: Mapped[datetime]


class PatchGroupRegistration(Base):
    """RegisterPatchBaselineForPatchGroup: one baseline per (group, OS)."""

    __tablename__ = "patch_groups"
    patch_group: Mapped[str] = mapped_column(String(256), primary_key=True)
    operating_system: Mapped[str] = mapped_column(String(64), primary_key=True)
    baseline_id: Mapped[str] = mapped_column(ForeignKey("baselines.id"))


class DefaultBaseline(Base):
    """RegisterDefaultPatchBaseline: the operator's default per OS."""

    __tablename__ = "default_baselines"
    operating_system: Mapped[str] = mapped_column(String(64), primary_key=True)
    baseline_id: Mapped[str] = mapped_column(ForeignKey("baselines.id"))


class Command(Base):
    """A RunPatchBaseline command with its rate control and rolled-up status."""

    __tablename__ = "commands"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    document_name: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]]
    targets: Mapped[dict[str, Any]]
    comment: Mapped[str] = mapped_column(String(100), default="")
    max_concurrency: Mapped[str] = mapped_column(String(8))
    max_errors: Mapped[str] = mapped_column(String(8))
    concurrency_limit: Mapped[int]
    error_limit: Mapped[int]
    timeout_seconds: Mapped[int]
    execution_timeout_seconds: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_details: Mapped[str] = mapped_column(String(32))
    target_count: Mapped[int]
    completed_count: Mapped[int] = mapped_column(default=0)
    error_count: Mapped[int] = mapped_column(default=0)
    delivery_timed_out_count: Mapped[int] = mapped_column(default=0)
    requested_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    stopped: Mapped[bool] = mapped_column(Boolean, default=False)


class Invocation(Base):
    """One command on one node."""

    __tablename__ = "invocations"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    command_id: Mapped[str] = mapped_column(ForeignKey("commands.id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"))
    seq: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    status_details: Mapped[str] = mapped_column(String(32))
    baseline: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    baseline_source: Mapped[str] = mapped_column(String(160), default="")
    output: Mapped[str] = mapped_column(Text, default="")
    response_code: Mapped[int | None]
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    deliveries: Mapped[int] = mapped_column(default=0)
    __table_args__ = (
        UniqueConstraint("command_id", "node_id", name="uq_invocations_command_node"),
        Index("ix_invocations_node_status", "node_id", "status"),
        Index("ix_invocations_command_status", "command_id", "status"),
    )


class MaintenanceWindow(Base):
    """A maintenance window (its MaintenanceWindow document) and the scheduler's marker."""

    __tablename__ = "maintenance_windows"
    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    document: Mapped[dict[str, Any]]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    modified_at: Mapped[datetime]
    handled_until: Mapped[datetime]
    """The last scheduled time the scheduler handled (started, skipped or missed)."""
    next_execution_at: Mapped[datetime | None]


class WindowExecution(Base):
    """One scheduled time of a window; the unique key is what lets exactly one replica
    create it."""

    __tablename__ = "window_executions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    window_id: Mapped[str] = mapped_column(ForeignKey("maintenance_windows.id", ondelete="CASCADE"))
    scheduled_for: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(24), index=True)
    status_details: Mapped[str] = mapped_column(String(250), default="")
    document: Mapped[dict[str, Any]]
    """The window document as it was when the execution was created."""
    targets: Mapped[list[Any]]
    """Resolved node ids (at execution time)."""
    baselines: Mapped[dict[str, Any]]
    """The execution's baseline snapshot: ``"patch group|OS"`` → [document, source]."""
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    __table_args__ = (
        UniqueConstraint("window_id", "scheduled_for", name="uq_window_executions_window_time"),
    )


class WindowTaskExecution(Base):
    """One task of a window execution, run wave by wave."""

    __tablename__ = "window_task_executions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    execution_id: Mapped[str] = mapped_column(
        ForeignKey("window_executions.id", ondelete="CASCADE"), index=True
    )
    task_name: Mapped[str] = mapped_column(String(128))
    priority: Mapped[int]
    status: Mapped[str] = mapped_column(String(24))
    status_details: Mapped[str] = mapped_column(String(250), default="")
    waves: Mapped[list[Any]]
    """Node ids of each wave."""
    wave: Mapped[int] = mapped_column(default=0)
    """The wave running (or next to run)."""
    phase: Mapped[int] = mapped_column(default=0)
    """Within a wave: pre-hook, task, post-hook (only the phases the task has)."""
    errors: Mapped[int] = mapped_column(default=0)
    error_limit: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    not_before: Mapped[datetime | None]
    """The pause between waves ends."""


class WindowTaskCommand(Base):
    """The command (and so the invocations) of one phase of one wave of a task."""

    __tablename__ = "window_task_commands"
    task_execution_id: Mapped[str] = mapped_column(
        ForeignKey("window_task_executions.id", ondelete="CASCADE"), primary_key=True
    )
    wave: Mapped[int] = mapped_column(primary_key=True)
    phase: Mapped[int] = mapped_column(primary_key=True)
    command_id: Mapped[str] = mapped_column(
        ForeignKey("commands.id", ondelete="CASCADE"), unique=True
    )


# The governance tables and the vulnerability findings per node live in modules of their
# own; importing them registers them on Base.
from patchwarden.adapters.storage import aws_key_tables as aws_key_tables  # noqa: E402
from patchwarden.adapters.storage import deployment_tables as deployment_tables  # noqa: E402
from patchwarden.adapters.storage import event_tables as event_tables  # noqa: E402
from patchwarden.adapters.storage import findings as findings  # noqa: E402
from patchwarden.adapters.storage import governance_tables as governance_tables  # noqa: E402
from patchwarden.adapters.storage import image_tables as image_tables  # noqa: E402
from patchwarden.adapters.storage import resource_tables as resource_tables  # noqa: E402
