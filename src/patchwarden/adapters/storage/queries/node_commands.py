"""A node's command history: its invocations with their commands, newest first."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.commands import command_record, invocation_record
from patchwarden.adapters.storage.tables import Command, Invocation
from patchwarden.pipeline.fleet.command_records import CommandRecord, InvocationRecord


def node_invocations(
    session: Session, node_id: str, *, limit: int
) -> list[tuple[InvocationRecord, CommandRecord]]:
    """Up to ``limit`` invocations of the node with their commands, newest first (one
    query)."""
    query = (
        select(Invocation, Command)
        .join(Command, Command.id == Invocation.command_id)
        .where(Invocation.node_id == node_id)
        .order_by(Invocation.created_at.desc(), Command.requested_at.desc(), Invocation.id)
        .limit(limit)
    )
    return [(invocation_record(inv), command_record(cmd)) for inv, cmd in session.execute(query)]
