"""``/api/v1/commands``: send RunPatchBaseline or UpdateSSMAgent, list, inspect, cancel
(operators send)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from patchwarden.adapters.storage import commands as command_store
from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.commands import SqlCommands
from patchwarden.adapters.storage.queries import commands as reads
from patchwarden.pipeline.fleet import commands
from patchwarden.server.auth import Operator, Viewer
from patchwarden.server.db import Now, ReadDB, WriteDB
from patchwarden.server.errors import not_found
from patchwarden.server.fleet.agent_update import bundles, with_agent_version
from patchwarden.server.fleet.command_schema import SendCommand
from patchwarden.server.fleet.commands import fleet, invocation_view, request, view
from patchwarden.server.outcomes import answered

router = APIRouter(prefix="/api/v1/commands", tags=["commands"])


@router.post("", status_code=201)
def send_command(
    http: Request, body: SendCommand, who: Operator, session: WriteDB, at: Now
) -> dict[str, Any]:
    """SendCommand for AWS-RunPatchBaseline, or AWS-UpdateSSMAgent (``version``: a node
    bundle the server holds, default its own; ``allowDowngrade``: ``"true"`` to roll back)."""
    body = with_agent_version(body, bundles(http))
    with answered():
        cmd = commands.send_command(
            fleet(session), SqlAuditLog(session), request(body), who.actor, at
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
    return [view(c) for c in reads.commands(session, status=status, limit=limit)]


@router.get("/{command_id}")
def get_command(command_id: str, _: Viewer, session: WriteDB, at: Now) -> dict[str, Any]:
    """One command with its invocations (timeouts applied first)."""
    found = command_store.refreshed(session, command_id, at)
    if found is None:
        raise not_found(f"command {command_id}")
    cmd, invs = found
    return {**view(cmd), "invocations": [invocation_view(i, output=False) for i in invs]}


@router.get("/{command_id}/invocations/{node_id}")
def get_invocation(command_id: str, node_id: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
    """GetCommandInvocation: one node's status and output."""
    inv = reads.invocation(session, command_id, node_id)
    if inv is None:
        raise not_found(f"invocation of command {command_id} on {node_id}")
    return invocation_view(inv)


@router.post("/{command_id}/cancel")
def cancel_command(command_id: str, who: Operator, session: WriteDB, at: Now) -> dict[str, Any]:
    """CancelCommand: pending invocations end Cancelled; running ones finish and report."""
    with answered():
        cmd = commands.cancel_command(
            SqlCommands(session), SqlAuditLog(session), command_id, who.actor, at
        )
    return view(cmd)
