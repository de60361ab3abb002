"""Maintenance windows: windows, executions, task executions and their commands.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("modified_at", _TS, nullable=False),
        sa.Column("handled_until", _TS, nullable=False),
        sa.Column("next_execution_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "window_executions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("window_id", sa.String(length=20), nullable=False),
        sa.Column("scheduled_for", _TS, nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("status_details", sa.String(length=250), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("baselines", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("started_at", _TS, nullable=True),
        sa.Column("ended_at", _TS, nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["window_id"], ["maintenance_windows.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("window_id", "scheduled_for", name="uq_window_executions_window_time"),
    )
    op.create_index(
        op.f("ix_window_executions_status"), "window_executions", ["status"], unique=False
    )
    op.create_table(
        "window_task_executions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("execution_id", sa.String(length=36), nullable=False),
        sa.Column("task_name", sa.String(length=128), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("status_details", sa.String(length=250), nullable=False),
        sa.Column("waves", sa.JSON(), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("error_limit", sa.Integer(), nullable=False),
        sa.Column("started_at", _TS, nullable=True),
        sa.Column("ended_at", _TS, nullable=True),
        sa.Column("not_before", _TS, nullable=True),
        sa.ForeignKeyConstraint(["execution_id"], ["window_executions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_window_task_executions_execution_id"),
        "window_task_executions",
        ["execution_id"],
        unique=False,
    )
    op.create_table(
        "window_task_commands",
        sa.Column("task_execution_id", sa.String(length=36), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("command_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["command_id"], ["commands.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["task_execution_id"], ["window_task_executions.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_execution_id", "wave", "phase"),
        sa.UniqueConstraint("command_id"),
    )


def downgrade() -> None:
    op.drop_table("window_task_commands")
    op.drop_index(
        op.f("ix_window_task_executions_execution_id"), table_name="window_task_executions"
    )
    op.drop_table("window_task_executions")
    op.drop_index(op.f("ix_window_executions_status"), table_name="window_executions")
    op.drop_table("window_executions")
    op.drop_table("maintenance_windows")
