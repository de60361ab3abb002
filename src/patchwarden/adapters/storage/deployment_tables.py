"""The deployments' tables: runs and each group's live set.  (``Deployment`` documents are
kept with the image documents.)  Change them only together with a new Alembic revision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from patchwarden.adapters.storage.base import Base


class DeploymentRunRow(Base):
    """One run of a deployment and its record (:func:`adapters.deployers.catalog.run_json`)."""

    __tablename__ = "deployment_runs"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    grp: Mapped[str] = mapped_column(String(128))
    deployment: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    stop_requested: Mapped[bool] = mapped_column(default=False)
    record: Mapped[dict[str, Any]]
    __table_args__ = (Index("ix_deployment_runs_group", "grp", "created_at"),)


class DeploymentGroupRow(Base):
    """What serves a deployment group now."""

    __tablename__ = "deployment_groups"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]
