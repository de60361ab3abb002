"""The event outbox: every application event (``events``), its deliveries to notification
targets (``event_deliveries``) and the admin's notification settings
(``notification_settings``).

Imported by :mod:`.tables` (at its end) so that ``Base.metadata`` holds them; changed only
together with an Alembic revision (``0010_events``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from patchwarden.adapters.storage.base import Base


class EventRow(Base):
    """One application event, written in the transaction of what it announces.

    ``dispatched_at`` is the delivery bookkeeping: ``NULL`` until the delivery loop made one
    :class:`EventDeliveryRow` per matching target (or found none)."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    subject: Mapped[str] = mapped_column(String(256), default="")
    event: Mapped[dict[str, Any]]
    """The whole event (:meth:`patchwarden.core.events.Event.to_json`)."""
    created_at: Mapped[datetime]
    dispatched_at: Mapped[datetime | None]
    __table_args__ = (
        Index("ix_events_type_at", "type", "at"),
        Index("ix_events_at", "at"),
        Index("ix_events_dispatched_at", "dispatched_at"),
    )


class EventDeliveryRow(Base):
    """One event to one target: ``pending`` (next attempt at ``next_attempt_at``; being
    sent by ``claimed_by`` until ``claimed_until``), ``delivered`` or ``failed``."""

    __tablename__ = "event_deliveries"
    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    target: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str] = mapped_column(String(160), default="")
    last_error: Mapped[str] = mapped_column(String(256), default="")
    updated_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    __table_args__ = (Index("ix_event_deliveries_status_next", "status", "next_attempt_at"),)


class NotificationSettingRow(Base):
    """Admin settings of notifications (key ``targets``: the targets document)."""

    __tablename__ = "notification_settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]]
    modified_at: Mapped[datetime]
    modified_by: Mapped[str] = mapped_column(String(160))
