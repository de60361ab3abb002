"""Vulnerability findings per node (the server's assessment of uploaded inventories) and
when each node was last assessed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def _node() -> sa.Column[str]:
    return sa.Column(
        "node_id",
        sa.String(length=20),
        sa.ForeignKey("nodes.id", ondelete="CASCADE"),
        primary_key=True,
    )


def upgrade() -> None:
    op.create_table(
        "node_findings",
        _node(),
        sa.Column("vulnerability_id", sa.String(length=128), primary_key=True),
        sa.Column("package", sa.String(length=256), primary_key=True),
        sa.Column("arch", sa.String(length=32), primary_key=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("fix_available", sa.String(length=16), nullable=False),
        sa.Column("first_observed", _TS, nullable=True),
        sa.Column("last_observed", _TS, nullable=True),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("finding", sa.Text(), nullable=False),
    )
    op.create_index("ix_node_findings_status", "node_findings", ["status"])
    op.create_table(
        "node_assessments",
        _node(),
        sa.Column("assessed_at", _TS, nullable=False),
        sa.Column("assessed", sa.Boolean(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("node_assessments")
    op.drop_index("ix_node_findings_status", table_name="node_findings")
    op.drop_table("node_findings")
