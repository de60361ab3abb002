"""The event outbox (issue 17): application events, their deliveries to notification
targets, and the notification settings.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("dispatched_at", _TS, nullable=True),
    )
    op.create_index("ix_events_type_at", "events", ["type", "at"])
    op.create_index("ix_events_at", "events", ["at"])
    op.create_index("ix_events_dispatched_at", "events", ["dispatched_at"])
    op.create_table(
        "event_deliveries",
        sa.Column(
            "event_id",
            sa.Integer(),
            sa.ForeignKey("events.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("target", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=True),
        sa.Column("claimed_until", _TS, nullable=True),
        sa.Column("claimed_by", sa.String(160), nullable=False),
        sa.Column("last_error", sa.String(256), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("delivered_at", _TS, nullable=True),
    )
    op.create_index(
        "ix_event_deliveries_status_next", "event_deliveries", ["status", "next_attempt_at"]
    )
    op.create_table(
        "notification_settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("modified_at", _TS, nullable=False),
        sa.Column("modified_by", sa.String(160), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notification_settings")
    op.drop_index("ix_event_deliveries_status_next", table_name="event_deliveries")
    op.drop_table("event_deliveries")
    op.drop_index("ix_events_dispatched_at", table_name="events")
    op.drop_index("ix_events_at", table_name="events")
    op.drop_index("ix_events_type_at", table_name="events")
    op.drop_table("events")
