"""Imported resources (the responsibility view, the AWS connector); governance results
keyed by resource ids as long as ARNs.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

GOVERNANCE = (
    "gov_evaluations",
    "gov_resource_compliance",
    "gov_remediation_states",
    "gov_remediation_executions",
    "gov_remediation_exceptions",
)
"""The governance tables whose ``resource_id`` grows from 64 to 512 characters."""


def _resource_ids(length: int, was: int) -> None:
    for table in GOVERNANCE:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "resource_id",
                type_=sa.String(length=length),
                existing_type=sa.String(length=was),
                existing_nullable=False,
            )


def upgrade() -> None:
    op.create_table(
        "resources",
        sa.Column("resource_id", sa.String(length=512), primary_key=True),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_resources_source", "resources", ["source"])
    op.create_index("ix_resources_resource_type", "resources", ["resource_type"])
    _resource_ids(512, 64)


def downgrade() -> None:
    """Governance rows of resources whose ids do not fit 64 characters go with them."""
    for table in GOVERNANCE:
        op.execute(sa.text(f"DELETE FROM {table} WHERE length(resource_id) > 64"))
    _resource_ids(64, 512)
    op.drop_index("ix_resources_resource_type", table_name="resources")
    op.drop_index("ix_resources_source", table_name="resources")
    op.drop_table("resources")
