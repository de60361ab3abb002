"""Inventory items keep what an rpm update notice says of an update (severity, notice and
CVE ids), so the server finds the CVEs an rpm node's updateinfo names.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "inventory_items", sa.Column("severity", sa.String(64), nullable=False, server_default="")
    )
    op.add_column(
        "inventory_items", sa.Column("advisories", sa.Text(), nullable=False, server_default="")
    )
    op.add_column(
        "inventory_items", sa.Column("cves", sa.Text(), nullable=False, server_default="")
    )


def downgrade() -> None:
    with op.batch_alter_table("inventory_items") as batch:  # SQLite drops columns by copying
        batch.drop_column("cves")
        batch.drop_column("advisories")
        batch.drop_column("severity")
