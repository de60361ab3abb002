"""AWS-style access keys of operator tokens (the ``/aws/ssm`` endpoint's SigV4).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aws_access_keys",
        sa.Column("access_key_id", sa.String(length=20), primary_key=True),
        sa.Column(
            "token_id",
            sa.String(length=32),
            sa.ForeignKey("tokens.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("secret", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_aws_access_keys_token_id", "aws_access_keys", ["token_id"])


def downgrade() -> None:
    op.drop_index("ix_aws_access_keys_token_id", table_name="aws_access_keys")
    op.drop_table("aws_access_keys")
