"""The fleet's compliance counts per day, for the console's trend.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compliance_history",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("state", sa.String(length=16), primary_key=True),
        sa.Column("nodes", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("compliance_history")
