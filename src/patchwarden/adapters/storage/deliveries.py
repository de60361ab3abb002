"""What a polling node gets: its invocations claimed under rate control (:mod:`.dispatch`),
each with its command."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from patchwarden.adapters.storage import dispatch
from patchwarden.adapters.storage.commands import command_record, invocation_record
from patchwarden.adapters.storage.tables import Command, Invocation, Node
from patchwarden.pipeline.fleet.command_records import CommandRecord, InvocationRecord


def claim(
    session: Session, node_id: str, now: datetime, replica: str, resolve: dispatch.Resolver
) -> list[tuple[InvocationRecord, CommandRecord]]:
    """The node's invocations to run now (see :func:`.dispatch.claim`), claimed by
    ``replica``; ``resolve`` gives the baseline of an invocation not pinned at send time."""
    node = session.get(Node, node_id)
    assert node is not None
    found = []
    for inv in dispatch.claim(session, node, now, replica, resolve):
        cmd = session.get(Command, inv.command_id)
        assert cmd is not None
        found.append((invocation_record(inv), command_record(cmd)))
    return found


def claim_many(
    session: Session,
    wanted: dict[str, tuple[str, ...]],
    now: datetime,
    replica: str,
    resolve: dispatch.Resolver,
) -> dict[str, list[tuple[InvocationRecord, CommandRecord]]]:
    """Node → the invocations it now runs, from one batch claim over the nodes ``wanted``
    (see :func:`.dispatch.claim_many`)."""
    started = dispatch.claim_many(session, wanted, now, replica, resolve)
    commands: dict[str, CommandRecord] = {}
    found: dict[str, list[tuple[InvocationRecord, CommandRecord]]] = {}
    for node_id, invs in started.items():
        for inv in invs:
            if inv.command_id not in commands:
                cmd = session.get(Command, inv.command_id)
                assert cmd is not None
                commands[inv.command_id] = command_record(cmd)
            found.setdefault(node_id, []).append((invocation_record(inv), commands[inv.command_id]))
    return found


def invocation_with_command(
    session: Session, invocation_id: str
) -> tuple[InvocationRecord, CommandRecord] | None:
    """An invocation and its command, as they were delivered (``None``: no such one)."""
    inv = session.get(Invocation, invocation_id)
    if inv is None:
        return None
    cmd = session.get(Command, inv.command_id)
    assert cmd is not None
    return invocation_record(inv), command_record(cmd)
