"""The image builder: image documents, images, build counters and pipeline state; node
capabilities (an agent that can build images says so).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "image_documents",
        sa.Column("kind", sa.String(length=32), primary_key=True),
        sa.Column("name", sa.String(length=128), primary_key=True),
        sa.Column("version", sa.String(length=40), primary_key=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("modified_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
    )
    op.create_table(
        "images",
        sa.Column("name", sa.String(length=128), primary_key=True),
        sa.Column("version", sa.String(length=48), primary_key=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pipeline", sa.String(length=128), nullable=False),
        sa.Column("node_id", sa.String(length=20), nullable=False),
        sa.Column("command_id", sa.String(length=36), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_index("ix_images_status", "images", ["status"])
    op.create_table(
        "image_build_counters",
        sa.Column("name", sa.String(length=128), primary_key=True),
        sa.Column("semantic", sa.String(length=40), primary_key=True),
        sa.Column("last", sa.Integer(), nullable=False),
    )
    op.create_table(
        "image_pipeline_state",
        sa.Column("name", sa.String(length=128), primary_key=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("enabled_at", _TS, nullable=True),
        sa.Column("last_started_at", _TS, nullable=True),
        sa.Column("last_inputs", sa.JSON(), nullable=False),
    )
    op.add_column(
        "nodes", sa.Column("capabilities", sa.JSON(), nullable=False, server_default="[]")
    )


def downgrade() -> None:
    op.drop_column("nodes", "capabilities")
    op.drop_table("image_pipeline_state")
    op.drop_table("image_build_counters")
    op.drop_index("ix_images_status", table_name="images")
    op.drop_table("images")
    op.drop_table("image_documents")
