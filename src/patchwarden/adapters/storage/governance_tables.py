"""Governance tables (rules, evaluations, runbooks, remediation, conformance packs).

Imported by :mod:`.tables` (at its end) so that ``Base.metadata`` holds them; changed only
together with an Alembic revision (``0004_governance``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from patchwarden.adapters.storage.base import Base


class RuleRow(Base):
    """A stored Rule document (``pack``: the conformance pack owning it, if any)."""

    __tablename__ = "gov_rules"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    type: Mapped[str] = mapped_column(String(128))
    document: Mapped[dict[str, Any]]
    pack: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime]
    modified_at: Mapped[datetime]
    last_periodic_at: Mapped[datetime | None]


class EvaluationRow(Base):
    """One evaluation of one rule on one resource (every evaluation is kept)."""

    __tablename__ = "gov_evaluations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(128))
    resource_id: Mapped[str] = mapped_column(String(512))
    compliance: Mapped[str] = mapped_column(String(20))
    annotation: Mapped[str] = mapped_column(String(256), default="")
    trigger: Mapped[str] = mapped_column(String(24))
    evaluated_at: Mapped[datetime]
    __table_args__ = (Index("ix_gov_evaluations_rule_resource", "rule", "resource_id", "id"),)


class ResourceComplianceRow(Base):
    """The latest evaluation of a (rule, resource)."""

    __tablename__ = "gov_resource_compliance"
    rule: Mapped[str] = mapped_column(String(128), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    compliance: Mapped[str] = mapped_column(String(20), index=True)
    annotation: Mapped[str] = mapped_column(String(256), default="")
    evaluated_at: Mapped[datetime]
    changed_at: Mapped[datetime]


class RunbookRow(Base):
    """A stored Runbook document."""

    __tablename__ = "gov_runbooks"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    document: Mapped[dict[str, Any]]
    pack: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime]
    modified_at: Mapped[datetime]


class RunbookExecutionRow(Base):
    """One runbook execution: the interpreter state (JSON) and the runbook as it was."""

    __tablename__ = "gov_runbook_executions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    runbook: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), index=True)
    document: Mapped[dict[str, Any]]
    state: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(160))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class StepExecutionRow(Base):
    """One step of an execution; ``waiting`` holds what the runner waits for (a command id,
    approvals, compliance)."""

    __tablename__ = "gov_step_executions"
    execution_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    step: Mapped[str] = mapped_column(String(128), primary_key=True)
    position: Mapped[int]
    action: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    outputs: Mapped[dict[str, Any]]
    waiting: Mapped[dict[str, Any]]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class RemediationConfigRow(Base):
    """A rule's remediation configuration (AWS field names, as given)."""

    __tablename__ = "gov_remediation_configs"
    rule: Mapped[str] = mapped_column(String(128), primary_key=True)
    runbook: Mapped[str] = mapped_column(String(128))
    config: Mapped[dict[str, Any]]
    pack: Mapped[str | None] = mapped_column(String(128))
    modified_at: Mapped[datetime]


class RemediationStateRow(Base):
    """The remediation state machine of one (rule, resource)."""

    __tablename__ = "gov_remediation_states"
    rule: Mapped[str] = mapped_column(String(128), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    phase: Mapped[str] = mapped_column(String(16), index=True)
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class RemediationExecutionRow(Base):
    """One remediation run of one (rule, resource) and its runbook execution."""

    __tablename__ = "gov_remediation_executions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    rule: Mapped[str] = mapped_column(String(128), index=True)
    resource_id: Mapped[str] = mapped_column(String(512))
    execution_id: Mapped[str | None] = mapped_column(String(36), index=True)
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class RemediationExceptionRow(Base):
    """A RemediationException: automatic (attempts exhausted) or manual (risk acceptance)."""

    __tablename__ = "gov_remediation_exceptions"
    rule: Mapped[str] = mapped_column(String(128), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    reason: Mapped[str] = mapped_column(String(1024))
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime]


class ConformancePackRow(Base):
    """A deployed conformance pack (its rules, runbooks and remediations are owned rows)."""

    __tablename__ = "gov_conformance_packs"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    document: Mapped[dict[str, Any]]
    parameters: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime]
    modified_at: Mapped[datetime]


class GovernanceSetting(Base):
    """Admin switches of governance (``RunShellScriptEnabled``)."""

    __tablename__ = "gov_settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]]
    modified_at: Mapped[datetime]
    modified_by: Mapped[str] = mapped_column(String(160))
