"""Commands and their invocations: stored with their rollup, locked, cancelled, refreshed
(rate control, timeouts and rollups are :mod:`.dispatch`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage import dispatch
from patchwarden.adapters.storage.secrets import new_uuid
from patchwarden.adapters.storage.tables import Command, Invocation
from patchwarden.core.rollout import CommandStatus, Details, InvocationStatus
from patchwarden.pipeline.fleet.command_records import (
    CommandRecord,
    CommandSpec,
    InvocationRecord,
    InvocationSpec,
)

CommandRow = Command
"""The stored command (for callers that still work on rows)."""


def command_record(row: Command) -> CommandRecord:
    """The row as a plain value."""
    return CommandRecord(
        id=row.id,
        document_name=row.document_name,
        parameters=row.parameters,
        targets=row.targets,
        comment=row.comment,
        max_concurrency=row.max_concurrency,
        max_errors=row.max_errors,
        timeout_seconds=row.timeout_seconds,
        execution_timeout_seconds=row.execution_timeout_seconds,
        status=row.status,
        status_details=row.status_details,
        target_count=row.target_count,
        completed_count=row.completed_count,
        error_count=row.error_count,
        delivery_timed_out_count=row.delivery_timed_out_count,
        requested_at=row.requested_at,
        created_by=row.created_by,
        cancel_requested=row.cancel_requested,
    )


def invocation_record(row: Invocation) -> InvocationRecord:
    """The row as a plain value."""
    return InvocationRecord(
        id=row.id,
        command_id=row.command_id,
        node_id=row.node_id,
        status=row.status,
        status_details=row.status_details,
        baseline=row.baseline,
        baseline_source=row.baseline_source,
        response_code=row.response_code,
        output=row.output,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        claimed_by=row.claimed_by,
        deliveries=row.deliveries,
    )


class SqlCommands:
    """The :class:`~patchwarden.pipeline.fleet.ports.CommandRepository` of a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def row(self, command_id: str) -> Command:
        """The command's row (one this session created or locked)."""
        found = self._session.get(Command, command_id)
        assert found is not None
        return found

    def create(self, command: CommandSpec, invocations: Sequence[InvocationSpec]) -> CommandRecord:
        """Store the command, one Pending invocation per spec, and roll the status up."""
        at = command.requested_at
        row = Command(
            id=new_uuid(),
            document_name=command.document_name,
            parameters=command.parameters,
            targets=command.targets,
            comment=command.comment,
            max_concurrency=command.max_concurrency,
            max_errors=command.max_errors,
            concurrency_limit=command.concurrency_limit,
            error_limit=command.error_limit,
            timeout_seconds=command.timeout_seconds,
            execution_timeout_seconds=command.execution_timeout_seconds,
            status=CommandStatus.PENDING,
            status_details=Details.PENDING,
            target_count=command.target_count,
            requested_at=at,
            created_by=command.created_by,
        )
        self._session.add(row)
        self._session.flush()
        pinned: list[dict[str, Any]] = []
        unpinned: list[dict[str, Any]] = []  # baseline NULL: resolved at delivery
        for seq, spec in enumerate(invocations):
            values = {
                "id": new_uuid(),
                "command_id": row.id,
                "node_id": spec.node_id,
                "seq": seq,
                "status": InvocationStatus.PENDING.value,
                "status_details": Details.PENDING.value,
                "created_at": at,
            }
            if spec.pinned:
                values.update(baseline=spec.baseline, baseline_source=spec.baseline_source)
                pinned.append(values)
            else:
                unpinned.append(values)
        for rows in (pinned, unpinned):  # one multi-row INSERT each, not an object per row
            if rows:
                self._session.execute(insert(Invocation), rows)
        dispatch.refresh(self._session, row, at)
        return command_record(row)

    def lock(self, command_id: str) -> CommandRecord | None:
        """The command, locked for this transaction."""
        row = dispatch.lock_command(self._session, command_id)
        return command_record(row) if row is not None else None

    def request_cancel(self, command_id: str) -> None:
        """Mark the (locked) command for cancellation."""
        self.row(command_id).cancel_requested = True

    def refresh(self, command_id: str, at: datetime) -> CommandRecord:
        """Apply timeouts, error limits and cancellation to the (locked) command."""
        row = self.row(command_id)
        dispatch.refresh(self._session, row, at)
        return command_record(row)


def refreshed(
    session: Session, command_id: str, at: datetime
) -> tuple[CommandRecord, list[InvocationRecord]] | None:
    """The command (locked, timeouts applied first) with its invocations in send order."""
    row = dispatch.lock_command(session, command_id)
    if row is None:
        return None
    dispatch.refresh(session, row, at)
    invs = session.scalars(
        select(Invocation).where(Invocation.command_id == row.id).order_by(Invocation.seq)
    )
    return command_record(row), [invocation_record(i) for i in invs]
