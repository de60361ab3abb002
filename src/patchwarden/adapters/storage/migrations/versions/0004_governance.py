"""Governance: rules, evaluations (history), runbooks and their executions, remediation
configurations, states, executions and exceptions, conformance packs, settings.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def _name(column: str = "name") -> sa.Column[str]:
    return sa.Column(column, sa.String(length=128), nullable=False)


def upgrade() -> None:
    op.create_table(
        "gov_rules",
        _name(),
        sa.Column("type", sa.String(length=128), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("pack", sa.String(length=128), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("modified_at", _TS, nullable=False),
        sa.Column("last_periodic_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_gov_rules_pack", "gov_rules", ["pack"])
    op.create_table(
        "gov_evaluations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _name("rule"),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("compliance", sa.String(length=20), nullable=False),
        sa.Column("annotation", sa.String(length=256), nullable=False),
        sa.Column("trigger", sa.String(length=24), nullable=False),
        sa.Column("evaluated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_gov_evaluations_rule_resource", "gov_evaluations", ["rule", "resource_id", "id"]
    )
    op.create_table(
        "gov_resource_compliance",
        _name("rule"),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("compliance", sa.String(length=20), nullable=False),
        sa.Column("annotation", sa.String(length=256), nullable=False),
        sa.Column("evaluated_at", _TS, nullable=False),
        sa.Column("changed_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("rule", "resource_id"),
    )
    op.create_index(
        "ix_gov_resource_compliance_compliance", "gov_resource_compliance", ["compliance"]
    )
    op.create_table(
        "gov_runbooks",
        _name(),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("pack", sa.String(length=128), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("modified_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_gov_runbooks_pack", "gov_runbooks", ["pack"])
    op.create_table(
        "gov_runbook_executions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("runbook", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=160), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("ended_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_gov_runbook_executions_status", "gov_runbook_executions", ["status"])
    op.create_table(
        "gov_step_executions",
        sa.Column("execution_id", sa.String(length=36), nullable=False),
        sa.Column("step", sa.String(length=128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("waiting", sa.JSON(), nullable=False),
        sa.Column("started_at", _TS, nullable=True),
        sa.Column("ended_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("execution_id", "step"),
    )
    op.create_table(
        "gov_remediation_configs",
        _name("rule"),
        sa.Column("runbook", sa.String(length=128), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("pack", sa.String(length=128), nullable=True),
        sa.Column("modified_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("rule"),
    )
    op.create_table(
        "gov_remediation_states",
        _name("rule"),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("rule", "resource_id"),
    )
    op.create_index("ix_gov_remediation_states_phase", "gov_remediation_states", ["phase"])
    op.create_table(
        "gov_remediation_executions",
        sa.Column("id", sa.String(length=36), nullable=False),
        _name("rule"),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("execution_id", sa.String(length=36), nullable=True),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=160), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("ended_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("rule", "execution_id", "status"):
        op.create_index(
            f"ix_gov_remediation_executions_{column}", "gov_remediation_executions", [column]
        )
    op.create_table(
        "gov_remediation_exceptions",
        _name("rule"),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=1024), nullable=False),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("created_by", sa.String(length=160), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("rule", "resource_id"),
    )
    op.create_table(
        "gov_conformance_packs",
        _name(),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("modified_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "gov_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("modified_at", _TS, nullable=False),
        sa.Column("modified_by", sa.String(length=160), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    for table in (
        "gov_settings", "gov_conformance_packs", "gov_remediation_exceptions",
        "gov_remediation_executions", "gov_remediation_states", "gov_remediation_configs",
        "gov_step_executions", "gov_runbook_executions", "gov_runbooks",
        "gov_resource_compliance", "gov_evaluations", "gov_rules",
    ):  # fmt: skip
        op.drop_table(table)
