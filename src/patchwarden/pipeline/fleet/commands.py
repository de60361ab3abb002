"""Sending and cancelling RunPatchBaseline commands (reference §4, §6): targets resolved at
send time, MaxConcurrency and MaxErrors resolved against the target count, and with a
SnapshotId every node's baseline pinned now (otherwise it is resolved at delivery)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from patchwarden.core import rollout
from patchwarden.core.events import command_sent
from patchwarden.pipeline.events import NO_EVENTS, Events
from patchwarden.pipeline.fleet.baseline_resolution import override_documents, resolve_baseline
from patchwarden.pipeline.fleet.command_records import CommandRecord, CommandSpec, InvocationSpec
from patchwarden.pipeline.fleet.errors import NotFound
from patchwarden.pipeline.fleet.ports import (
    AuditLog,
    BaselineSource,
    CommandRepository,
    NodeDirectory,
)
from patchwarden.pipeline.fleet.targets import Target, resolve_targets


@dataclass(frozen=True)
class CommandRequest:
    """A validated SendCommand (``parameters`` as given, the raw ``BaselineOverride`` apart)."""

    document_name: str
    parameters: dict[str, Any]
    baseline_override: list[Any] | None
    snapshot_id: str
    instance_ids: tuple[str, ...]
    targets: tuple[Target, ...]
    max_concurrency: str
    max_errors: str
    timeout_seconds: int
    execution_timeout_seconds: int
    comment: str


@dataclass(frozen=True)
class Fleet:
    """The ports sending a command reads and writes."""

    commands: CommandRepository
    nodes: NodeDirectory
    baselines: BaselineSource
    events: Events = NO_EVENTS
    """Where ``command.sent`` goes (the shell binds it to its transaction)."""


def shown_parameters(params: Mapping[str, Any]) -> dict[str, Any]:
    """A command's parameters as the API and the audit log show them: a BaselineOverride by
    its documents' names rather than the documents."""
    shown = dict(params)
    if "BaselineOverride" in shown:
        shown["BaselineOverride"] = [d["metadata"]["name"] for d in shown["BaselineOverride"]]
    return shown


def create_command(
    fleet: Fleet, request: CommandRequest, actor: str, at: datetime
) -> CommandRecord:
    """Store the command and one Pending invocation per target node (none: a command with
    no invocations, as SSM)."""
    params = dict(request.parameters)
    if request.baseline_override is not None:
        params["BaselineOverride"] = override_documents(request.baseline_override, fleet.baselines)
    targets = resolve_targets(fleet.nodes, request.instance_ids, request.targets)
    total = len(targets)
    spec = CommandSpec(
        document_name=request.document_name,
        parameters=params,
        targets={
            "InstanceIds": list(request.instance_ids),
            "Targets": [{"Key": key, "Values": list(values)} for key, values in request.targets],
        },
        comment=request.comment,
        max_concurrency=request.max_concurrency,
        max_errors=request.max_errors,
        concurrency_limit=rollout.limit(request.max_concurrency, total, concurrency=True),
        error_limit=rollout.limit(request.max_errors, total, concurrency=False),
        timeout_seconds=request.timeout_seconds,
        execution_timeout_seconds=request.execution_timeout_seconds,
        target_count=total,
        requested_at=at,
        created_by=actor,
    )
    override = params.get("BaselineOverride")
    invocations = []
    for node in targets:
        if request.snapshot_id:
            document, source = resolve_baseline(
                fleet.baselines, node.operating_system, node.patch_group, override
            )
            invocations.append(InvocationSpec(node.id, True, document, source))
        else:
            invocations.append(InvocationSpec(node.id))
    command = fleet.commands.create(spec, invocations)
    operation = str(request.parameters.get("Operation", ""))
    fleet.events.emit(command_sent(at, command.id, command.document_name, operation, total, actor))
    return command


def send_command(
    fleet: Fleet, audit: AuditLog, request: CommandRequest, actor: str, at: datetime
) -> CommandRecord:
    """SendCommand: :func:`create_command`, audited as ``command.send``."""
    command = create_command(fleet, request, actor, at)
    detail = {"parameters": shown_parameters(command.parameters), "targets": command.targets}
    audit.record(actor, "command.send", command.id, at, detail)
    return command


def cancel_command(
    commands: CommandRepository, audit: AuditLog, command_id: str, actor: str, at: datetime
) -> CommandRecord:
    """CancelCommand: Pending invocations end Cancelled, running ones finish and report; a
    second cancel, or one of a finished command, changes nothing."""
    command = commands.lock(command_id)
    if command is None:
        raise NotFound(f"command {command_id}")
    if not command.cancel_requested and not rollout.CommandStatus(command.status).terminal:
        commands.request_cancel(command_id)
        audit.record(actor, "command.cancel", command_id, at)
    return commands.refresh(command_id, at)
