"""Deployments: runs and each deployment group's live set.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deployment_runs",
        sa.Column("id", sa.String(length=16), primary_key=True),
        sa.Column("grp", sa.String(length=128), nullable=False),
        sa.Column("deployment", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("stop_requested", sa.Boolean(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
    )
    op.create_index("ix_deployment_runs_group", "deployment_runs", ["grp", "created_at"])
    op.create_table(
        "deployment_groups",
        sa.Column("name", sa.String(length=128), primary_key=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("deployment_groups")
    op.drop_index("ix_deployment_runs_group", table_name="deployment_runs")
    op.drop_table("deployment_runs")
