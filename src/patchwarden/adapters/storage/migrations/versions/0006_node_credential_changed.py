"""When each node's credential last changed (issued, rotated, deregistered): the feed that
lets every replica cache node credentials and still drop a rotated one within a second.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "nodes", sa.Column("credential_changed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index("ix_nodes_credential_changed_at", "nodes", ["credential_changed_at"])


def downgrade() -> None:
    op.drop_index("ix_nodes_credential_changed_at", table_name="nodes")
    op.drop_column("nodes", "credential_changed_at")
