"""The image builder's tables: image documents, images (builds), build counters, pipeline
state.  Change them only together with a new Alembic revision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from patchwarden.adapters.storage.base import Base


class ImageDocumentRow(Base):
    """A Component, ImageRecipe, ImagePipeline, DistributionConfiguration or LifecyclePolicy
    (``version`` is the semantic version of a Component or ImageRecipe, else empty)."""

    __tablename__ = "image_documents"
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[str] = mapped_column(String(40), primary_key=True)
    document: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    modified_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128), default="")


class ImageRow(Base):
    """One image (one build of a recipe version) and its record."""

    __tablename__ = "images"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[str] = mapped_column(String(48), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    pipeline: Mapped[str] = mapped_column(String(128), default="")
    node_id: Mapped[str] = mapped_column(String(20), default="")
    """The builder node (empty: built elsewhere)."""
    command_id: Mapped[str] = mapped_column(String(36), default="")
    record: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]
    __table_args__ = (Index("ix_images_status", "status"),)


class ImageBuildCounter(Base):
    """The last build number given to a recipe version (never reused)."""

    __tablename__ = "image_build_counters"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    semantic: Mapped[str] = mapped_column(String(40), primary_key=True)
    last: Mapped[int]


class ImagePipelineState(Base):
    """What a pipeline's schedule needs to remember."""

    __tablename__ = "image_pipeline_state"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="ENABLED")
    """ENABLED, or DISABLED by its autoDisablePolicy (the document says what the operator set)."""
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    enabled_at: Mapped[datetime | None]
    """When an operator last (re-)enabled it: failures before that do not count."""
    last_started_at: Mapped[datetime | None]
    last_inputs: Mapped[dict[str, Any]]
    """The versions the last build resolved (recipe, components, parent): dependency updates
    are changes of these."""
