"""``/api/v1/commands``: send RunPatchBaseline, list, inspect, cancel (operators send)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from patchwarden.adapters.storage import dispatch
from patchwarden.adapters.storage.tables import Command, Invocation
from patchwarden.core.rollout import CommandStatus
from patchwarden.server import audit
from patchwarden.server.auth import Operator, Viewer
from patchwarden.server.command_schema import SendCommand
from patchwarden.server.commands import invocation_view, send, view
from patchwarden.server.db import Now, ReadDB, WriteDB
from patchwarden.server.errors import not_found

router = APIRouter(prefix="/api/v1/commands", tags=["commands"])


@router.post("", status_code=201)
def send_command(body: SendCommand, who: Operator, session: WriteDB, at: Now) -> dict[str, Any]:
    """SendCommand for AWS-RunPatchBaseline."""
    cmd = send(session, body, who.actor, at)
    audit.record(
        session,
        who,
        "command.send",
        cmd.id,
        at,
        {"parameters": view(cmd)["parameters"], "targets": cmd.targets},
    )
    return view(cmd)


@router.get("")
def list_commands(
    _: Viewer,
    session: ReadDB,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Commands, newest first."""
    query = select(Command).order_by(Command.requested_at.desc(), Command.id).limit(limit)
    if status:
        query = query.where(Command.status == status)
    return [view(c) for c in session.scalars(query)]


@router.get("/{command_id}")
def get_command(command_id: str, _: Viewer, session: WriteDB, at: Now) -> dict[str, Any]:
    """One command with its invocations (timeouts applied first)."""
    cmd = dispatch.lock_command(session, command_id)
    if cmd is None:
        raise not_found(f"command {command_id}")
    dispatch.refresh(session, cmd, at)
    invs = session.scalars(
        select(Invocation).where(Invocation.command_id == cmd.id).order_by(Invocation.seq)
    )
    return {**view(cmd), "invocations": [invocation_view(i, output=False) for i in invs]}


@router.get("/{command_id}/invocations/{node_id}")
def get_invocation(command_id: str, node_id: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
    """GetCommandInvocation: one node's status and output."""
    inv = session.scalar(
        select(Invocation).where(Invocation.command_id == command_id, Invocation.node_id == node_id)
    )
    if inv is None:
        raise not_found(f"invocation of command {command_id} on {node_id}")
    return invocation_view(inv)


@router.post("/{command_id}/cancel")
def cancel_command(command_id: str, who: Operator, session: WriteDB, at: Now) -> dict[str, Any]:
    """CancelCommand: pending invocations end Cancelled; running ones finish and report."""
    cmd = dispatch.lock_command(session, command_id)
    if cmd is None:
        raise not_found(f"command {command_id}")
    if not cmd.cancel_requested and not CommandStatus(cmd.status).terminal:
        cmd.cancel_requested = True
        audit.record(session, who, "command.cancel", cmd.id, at)
    dispatch.refresh(session, cmd, at)
    return view(cmd)
