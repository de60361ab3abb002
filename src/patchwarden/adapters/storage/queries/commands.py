"""Commands and invocations, as the API lists them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.commands import command_record, invocation_record
from patchwarden.adapters.storage.tables import Command, Invocation
from patchwarden.pipeline.fleet.command_records import CommandRecord, InvocationRecord


def commands(session: Session, *, status: str | None, limit: int) -> list[CommandRecord]:
    """Up to ``limit`` commands (of ``status`` when given), newest first."""
    query = select(Command).order_by(Command.requested_at.desc(), Command.id).limit(limit)
    if status:
        query = query.where(Command.status == status)
    return [command_record(c) for c in session.scalars(query)]


def invocation(session: Session, command_id: str, node_id: str) -> InvocationRecord | None:
    """The invocation of the command on the node."""
    row = session.scalar(
        select(Invocation).where(Invocation.command_id == command_id, Invocation.node_id == node_id)
    )
    return invocation_record(row) if row is not None else None


def invocation_by_id(
    session: Session, invocation_id: str
) -> tuple[InvocationRecord, CommandRecord] | None:
    """The invocation ``invocation_id`` and its command."""
    row = session.get(Invocation, invocation_id)
    if row is None:
        return None
    command = session.get(Command, row.command_id)
    assert command is not None
    return invocation_record(row), command_record(command)
