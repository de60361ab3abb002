"""Stored maintenance windows: the :class:`~patchwarden.pipeline.windows.ports.WindowRepository`
over ``maintenance_windows``."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.tables import MaintenanceWindow
from patchwarden.pipeline.windows.records import NewWindow, WindowRecord


def window_id() -> str:
    """``mw-`` + 17 hex digits, as AWS."""
    return "mw-" + secrets.token_hex(9)[:17]


def window_record(row: MaintenanceWindow) -> WindowRecord:
    """The row as a plain value."""
    return WindowRecord(
        id=row.id,
        name=row.name,
        document=row.document,
        enabled=row.enabled,
        created_at=row.created_at,
        modified_at=row.modified_at,
        handled_until=row.handled_until,
        next_execution_at=row.next_execution_at,
    )


class SqlWindows:
    """The window repository of a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, window_id: str) -> WindowRecord | None:
        """The window with this id."""
        row = self._session.get(MaintenanceWindow, window_id)
        return window_record(row) if row is not None else None

    def by_name(self, name: str, *, lock: bool = False) -> WindowRecord | None:
        """The window called ``name`` (its row locked with ``lock``)."""
        query = select(MaintenanceWindow).where(MaintenanceWindow.name == name)
        row = self._session.scalar(query.with_for_update() if lock else query)
        return window_record(row) if row is not None else None

    def enabled_ids(self) -> list[str]:
        """Ids of the enabled windows."""
        query = select(MaintenanceWindow.id).where(MaintenanceWindow.enabled)
        return list(self._session.scalars(query))

    def create(self, window: NewWindow) -> WindowRecord:
        """Store a new window with a fresh id."""
        row = MaintenanceWindow(
            id=window_id(),
            name=window.name,
            document=window.document,
            enabled=window.enabled,
            created_at=window.at,
            modified_at=window.at,
            handled_until=window.at,
            next_execution_at=window.next_execution_at,
        )
        self._session.add(row)
        self._session.flush()
        return window_record(row)

    def update(self, window: WindowRecord) -> None:
        """Store the (locked) window's document, switch, times and marker."""
        row = self._session.get(MaintenanceWindow, window.id)
        assert row is not None, window.id
        row.handled_until = window.handled_until
        row.document = window.document
        row.enabled = window.enabled
        row.modified_at = window.modified_at
        row.next_execution_at = window.next_execution_at
        self._session.flush()

    def mark_handled(
        self,
        window_id: str,
        next_execution_at: datetime | None,
        handled_until: datetime | None,
        unless_beyond: datetime,
    ) -> None:
        """Set the next execution time and (when given) the marker, unless another
        transaction already moved the marker beyond ``unless_beyond``."""
        changes: dict[str, object] = {"next_execution_at": next_execution_at}
        if handled_until is not None:
            changes["handled_until"] = handled_until
        self._session.execute(
            update(MaintenanceWindow)
            .where(
                MaintenanceWindow.id == window_id,
                MaintenanceWindow.handled_until <= unless_beyond,
            )
            .values(**changes)
        )

    def delete(self, window_id: str) -> None:
        """Delete the window (its executions cascade)."""
        self._session.execute(delete(MaintenanceWindow).where(MaintenanceWindow.id == window_id))
