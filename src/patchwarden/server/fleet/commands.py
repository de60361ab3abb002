"""Sending commands for the server's other modules (maintenance windows, runbooks), over
:mod:`patchwarden.pipeline.fleet.commands` and its SQL adapters.  :func:`send` and
:func:`target_nodes` still hand out rows to callers that work on them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from patchwarden.adapters.storage.baselines import SqlBaselines
from patchwarden.adapters.storage.commands import CommandRow, SqlCommands
from patchwarden.adapters.storage.events import SqlEvents
from patchwarden.adapters.storage.targets import NodeRow, SqlNodeDirectory, target_rows
from patchwarden.pipeline.fleet.baseline_resolution import Resolved
from patchwarden.pipeline.fleet.commands import CommandRequest, Fleet, create_command
from patchwarden.pipeline.fleet.targets import selection
from patchwarden.server.db import ReadDB, WriteDB
from patchwarden.server.fleet.baselines import Placed, resolve
from patchwarden.server.fleet.command_schema import DOCUMENTS, RunParameters, SendCommand
from patchwarden.server.fleet.command_views import ParametersLike
from patchwarden.server.fleet.command_views import invocation_view as invocation_view
from patchwarden.server.fleet.command_views import view as view
from patchwarden.server.outcomes import answered

__all__ = ["fleet", "invocation_view", "request", "resolver", "send", "target_nodes", "view"]


def request(body: SendCommand) -> CommandRequest:
    """The use case's request of a validated SendCommand body (only RunPatchBaseline has a
    baseline: AWS-UpdateSSMAgent carries its parameters alone)."""
    params = body.Parameters
    patching = params if isinstance(params, RunParameters) else None
    return CommandRequest(
        document_name=body.DocumentName,
        parameters=params.model_dump(exclude_none=True),
        baseline_override=patching.BaselineOverride if patching else None,
        snapshot_id=patching.SnapshotId if patching else "",
        instance_ids=tuple(body.InstanceIds),
        targets=tuple((t.Key, tuple(t.Values)) for t in body.Targets),
        max_concurrency=body.MaxConcurrency,
        max_errors=body.MaxErrors,
        timeout_seconds=body.TimeoutSeconds,
        execution_timeout_seconds=body.ExecutionTimeoutSeconds,
        comment=body.Comment,
    )


def fleet(session: WriteDB) -> Fleet:
    """The SQL ports of sending a command in ``session``."""
    return Fleet(
        SqlCommands(session), SqlNodeDirectory(session), SqlBaselines(session), SqlEvents(session)
    )


def target_nodes(session: ReadDB, body: SendCommand) -> list[NodeRow]:
    """InstanceIds, or Targets: keys AND-ed, values OR-ed (``InstanceIds=*`` = all)."""
    targets = [(t.Key, t.Values) for t in body.Targets]
    return target_rows(session, selection(body.InstanceIds, targets))


class CommandLike(ParametersLike, Protocol):
    """A command, as far as resolving its baseline goes."""

    @property
    def document_name(self) -> str:
        """The command's document."""
        ...


def resolver(session: ReadDB, node: Placed, cmd: CommandLike) -> Resolved:
    """Baseline for ``node`` under ``cmd``'s BaselineOverride (or its patch group/default);
    none for a document that is not RunPatchBaseline (AWS-UpdateSSMAgent)."""
    if cmd.document_name not in DOCUMENTS:
        return None, ""
    return resolve(session, node, cmd.parameters.get("BaselineOverride"))


def send(session: WriteDB, body: SendCommand, actor: str, at: datetime) -> CommandRow:
    """Create the command and one Pending invocation per target node.  With a SnapshotId
    every node's baseline is resolved now, once (pinned); otherwise at delivery."""
    commands = SqlCommands(session)
    ports = Fleet(commands, SqlNodeDirectory(session), SqlBaselines(session), SqlEvents(session))
    with answered():
        sent = create_command(ports, request(body), actor, at)
    return commands.row(sent.id)
