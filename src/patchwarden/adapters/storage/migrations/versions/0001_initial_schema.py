"""Initial schema: tokens, audit log, activations, nodes, inventories, compliance,
baselines, patch groups, commands and invocations.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=256), nullable=False),
        sa.Column("default_instance_name", sa.String(length=256), nullable=False),
        sa.Column("registration_limit", sa.Integer(), nullable=False),
        sa.Column("registration_count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=256), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)

    op.create_table(
        "baselines",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("operating_system", sa.String(length=64), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "commands",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("document_name", sa.String(length=64), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("comment", sa.String(length=100), nullable=False),
        sa.Column("max_concurrency", sa.String(length=8), nullable=False),
        sa.Column("max_errors", sa.String(length=8), nullable=False),
        sa.Column("concurrency_limit", sa.Integer(), nullable=False),
        sa.Column("error_limit", sa.Integer(), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("execution_timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_details", sa.String(length=32), nullable=False),
        sa.Column("target_count", sa.Integer(), nullable=False),
        sa.Column("completed_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("delivery_timed_out_count", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("stopped", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_commands_status"), "commands", ["status"], unique=False)

    op.create_table(
        "tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "default_baselines",
        sa.Column("operating_system", sa.String(length=64), nullable=False),
        sa.Column("baseline_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["baseline_id"],
            ["baselines.id"],
        ),
        sa.PrimaryKeyConstraint("operating_system"),
    )
    op.create_table(
        "nodes",
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("activation_id", sa.String(length=36), nullable=True),
        sa.Column("credential_hash", sa.String(length=64), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("patch_group", sa.String(length=256), nullable=True),
        sa.Column("hostname", sa.String(length=256), nullable=False),
        sa.Column("os_id", sa.String(length=64), nullable=False),
        sa.Column("os_version", sa.String(length=64), nullable=False),
        sa.Column("operating_system", sa.String(length=64), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("agent_version", sa.String(length=32), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deregistered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["activation_id"],
            ["activations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_nodes_patch_group"), "nodes", ["patch_group"], unique=False)

    op.create_table(
        "patch_groups",
        sa.Column("patch_group", sa.String(length=256), nullable=False),
        sa.Column("operating_system", sa.String(length=64), nullable=False),
        sa.Column("baseline_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["baseline_id"],
            ["baselines.id"],
        ),
        sa.PrimaryKeyConstraint("patch_group", "operating_system"),
    )
    op.create_table(
        "compliance",
        sa.Column("node_id", sa.String(length=20), nullable=False),
        sa.Column("compliance", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=True),
        sa.Column("baseline", sa.String(length=128), nullable=False),
        sa.Column("baseline_id", sa.String(length=32), nullable=True),
        sa.Column("snapshot_id", sa.String(length=64), nullable=True),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("command_id", sa.String(length=36), nullable=True),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["node_id"], ["nodes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("node_id"),
    )
    op.create_index(op.f("ix_compliance_compliance"), "compliance", ["compliance"], unique=False)

    op.create_table(
        "inventories",
        sa.Column("node_id", sa.String(length=20), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("installed_count", sa.Integer(), nullable=False),
        sa.Column("update_count", sa.Integer(), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["node_id"], ["nodes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("node_id"),
    )
    op.create_table(
        "inventory_items",
        sa.Column("node_id", sa.String(length=20), nullable=False),
        sa.Column("item_hash", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("arch", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=256), nullable=False),
        sa.Column("source_name", sa.String(length=256), nullable=False),
        sa.Column("repository", sa.String(length=256), nullable=False),
        sa.Column("classification", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["node_id"], ["nodes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("node_id", "item_hash"),
    )
    op.create_index(
        "ix_inventory_items_name_version", "inventory_items", ["name", "version"], unique=False
    )

    op.create_table(
        "invocations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("command_id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.String(length=20), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_details", sa.String(length=32), nullable=False),
        sa.Column("baseline", sa.JSON(), nullable=True),
        sa.Column("baseline_source", sa.String(length=160), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("response_code", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["command_id"], ["commands.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["node_id"], ["nodes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("command_id", "node_id", name="uq_invocations_command_node"),
    )
    op.create_index(
        "ix_invocations_command_status", "invocations", ["command_id", "status"], unique=False
    )
    op.create_index(
        "ix_invocations_node_status", "invocations", ["node_id", "status"], unique=False
    )

    op.create_table(
        "node_tags",
        sa.Column("node_id", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(["node_id"], ["nodes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("node_id", "key"),
    )
    op.create_index("ix_node_tags_key_value", "node_tags", ["key", "value"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_node_tags_key_value", table_name="node_tags")

    op.drop_table("node_tags")
    op.drop_index("ix_invocations_node_status", table_name="invocations")
    op.drop_index("ix_invocations_command_status", table_name="invocations")

    op.drop_table("invocations")
    op.drop_index("ix_inventory_items_name_version", table_name="inventory_items")

    op.drop_table("inventory_items")
    op.drop_table("inventories")
    op.drop_index(op.f("ix_compliance_compliance"), table_name="compliance")

    op.drop_table("compliance")
    op.drop_table("patch_groups")
    op.drop_index(op.f("ix_nodes_patch_group"), table_name="nodes")

    op.drop_table("nodes")
    op.drop_table("default_baselines")
    op.drop_table("tokens")
    op.drop_index(op.f("ix_commands_status"), table_name="commands")

    op.drop_table("commands")
    op.drop_table("baselines")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")

    op.drop_table("audit_log")
    op.drop_table("activations")
