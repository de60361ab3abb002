"""Window executions: the :class:`~patchwarden.pipeline.windows.ports.ExecutionRepository`
over ``window_executions``.

With several replicas on one PostgreSQL each scheduled execution runs exactly once:
*creating* it is ``INSERT … ON CONFLICT DO NOTHING`` on the unique key (window, scheduled
time), and *running* it happens under a transaction-level advisory lock on the execution
(``pg_try_advisory_xact_lock``).  SQLite (one process) serialises writers with ``BEGIN
IMMEDIATE`` and needs neither.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.secrets import new_uuid
from patchwarden.adapters.storage.tables import WindowExecution
from patchwarden.core.windows import ACTIVE, Status
from patchwarden.pipeline.windows.records import ExecutionRecord, NewExecution


def execution_record(row: WindowExecution) -> ExecutionRecord:
    """The row as a plain value."""
    return ExecutionRecord(
        id=row.id,
        window_id=row.window_id,
        scheduled_for=row.scheduled_for,
        status=Status(row.status),
        status_details=row.status_details,
        document=row.document,
        targets=tuple(row.targets),
        created_at=row.created_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        claimed_by=row.claimed_by,
    )


def lock_key(execution_id: str) -> int:
    """The execution's advisory lock key (64 bits of its id's SHA-256)."""
    return int.from_bytes(hashlib.sha256(execution_id.encode()).digest()[:8], "big", signed=True)


class SqlWindowExecutions:
    """The execution repository of a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _postgresql(self) -> bool:
        return self._session.get_bind().dialect.name == "postgresql"

    def get(self, execution_id: str, *, lock: bool = False) -> ExecutionRecord | None:
        """The execution as stored now (its row locked with ``lock``)."""
        row = self._session.get(
            WindowExecution, execution_id, populate_existing=True, with_for_update=lock
        )
        return execution_record(row) if row is not None else None

    def try_lock(self, execution_id: str) -> bool:
        """The execution's advisory lock for this transaction (PostgreSQL), if free."""
        if not self._postgresql():
            return True
        got = self._session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock_key(execution_id)}
        )
        return bool(got)

    def claim(self, execution: NewExecution) -> bool:
        """Create the execution unless one exists for its (window, scheduled time)."""
        values: dict[str, Any] = {
            "id": new_uuid(),
            "window_id": execution.window_id,
            "scheduled_for": execution.scheduled_for,
            "status": execution.status.value,
            "status_details": execution.status_details,
            "document": execution.document,
            "targets": [],
            "baselines": {},
            "created_at": execution.created_at,
            "started_at": execution.started_at,
            "ended_at": execution.ended_at,
            "claimed_by": execution.claimed_by,
        }
        insert = postgresql.insert if self._postgresql() else sqlite.insert
        statement = insert(WindowExecution).values(**values)
        statement = statement.on_conflict_do_nothing(index_elements=["window_id", "scheduled_for"])
        created = self._session.scalar(statement.returning(WindowExecution.id)) is not None
        if created:
            self._session.flush()
        return created

    def first_active(self, window_id: str) -> str | None:
        """An execution of the window that has not ended, if any."""
        return self._session.scalar(
            select(WindowExecution.id)
            .where(WindowExecution.window_id == window_id, WindowExecution.status.in_(ACTIVE))
            .limit(1)
        )

    def active_ids(self) -> list[str]:
        """Ids of every execution that has not ended."""
        query = select(WindowExecution.id).where(WindowExecution.status.in_(ACTIVE))
        return list(self._session.scalars(query))

    def save(self, execution: ExecutionRecord) -> None:
        """Write what changed of the execution back to its (loaded) row."""
        row = self._session.get(WindowExecution, execution.id)
        assert row is not None, execution.id
        values: dict[str, Any] = {
            "status": execution.status,
            "status_details": execution.status_details,
            "targets": list(execution.targets),
            "started_at": execution.started_at,
            "ended_at": execution.ended_at,
            "claimed_by": execution.claimed_by,
        }
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
