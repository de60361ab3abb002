"""The ``resources`` table: resources Patchwarden does not manage but imports (see
:mod:`.resources`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from patchwarden.adapters.storage.base import Base


class ResourceRow(Base):
    """One imported resource, as its source's latest import described it."""

    __tablename__ = "resources"
    resource_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    source: Mapped[str] = mapped_column(String(128), index=True)
    resource_type: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_seen: Mapped[datetime]
    observed_at: Mapped[datetime]
