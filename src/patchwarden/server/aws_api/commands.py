"""Run Command over the SSM API, on the same use cases and reads as ``/api/v1/commands``:
SendCommand is ``POST /api/v1/commands`` (the same body validation, the same
``command.send`` audit record), CancelCommand is ``POST .../cancel`` (``command.cancel``),
and the lists read commands and invocations as ``GET /api/v1/commands[/ID]`` and
``GET .../invocations/NODE`` do (a command's invocations with its timeouts applied first).

Ids are the native ones: command ids are UUIDs, instance ids ``mi-`` + 17 hex digits.
Statuses are AWS's: the native ones are AWS's names already, except a command's
``Incomplete`` (shown ``Failed``, with StatusDetails ``Incomplete``) and an invocation's
``Undeliverable`` (``Failed``, StatusDetails ``Undeliverable``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from patchwarden.adapters.bundle import BundleStore
from patchwarden.adapters.storage import commands as command_store
from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.commands import SqlCommands
from patchwarden.adapters.storage.queries import commands as reads
from patchwarden.adapters.storage.targets import SqlNodeDirectory
from patchwarden.core.rollout import CommandStatus, InvocationStatus
from patchwarden.pipeline.fleet import commands
from patchwarden.pipeline.fleet.command_records import CommandRecord, InvocationRecord
from patchwarden.pipeline.fleet.commands import shown_parameters
from patchwarden.pipeline.fleet.targets import resolve_targets
from patchwarden.server.aws_api.protocol import (
    AwsError,
    Context,
    Params,
    boolean,
    epoch,
    integer,
    invalid,
    operation,
    page,
    refusals,
    string,
)
from patchwarden.server.db import Session
from patchwarden.server.errors import ApiError
from patchwarden.server.fleet.agent_update import with_agent_version
from patchwarden.server.fleet.command_schema import DOCUMENTS, SendCommand
from patchwarden.server.fleet.commands import fleet, request

COMMAND_ID = r"[0-9a-fA-F-]{36}"
INSTANCE_ID = r"(i-(\w{8}|\w{17}))|(mi-\w{17})"
MAX_CONCURRENCY = r"([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)"
MAX_ERRORS = r"([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)"
DOCUMENT = r"[a-zA-Z0-9_\-.:/]{3,128}"
DOCUMENT_VERSION = r"([$]LATEST|[$]DEFAULT|[1-9][0-9]*)"
_DOCUMENT_ARN = re.compile(r"arn:aws[\w-]*:ssm:[^:]*:[^:]*:document/(.+)")
SENDABLE = (*DOCUMENTS, "AWS-UpdateSSMAgent")
"""The documents ``POST /api/v1/commands`` sends."""
PLUGINS = {"AWS-UpdateSSMAgent": "aws:updateSsmAgent"}
"""A document's plugin (step) name as AWS names it; RunPatchBaseline's is PatchLinux."""
_JSON_PARAMETERS = ("InstallOverrideList", "BaselineOverride")
"""Parameters AWS gives as a URL, accepted here as the document itself (JSON text)."""
PLUGIN_OUTPUT = 2500
STANDARD_OUTPUT = 24000
TRUNCATED = "\n---Output truncated---"
COMMAND_STATUSES = {CommandStatus.INCOMPLETE.value: "Failed"}
"""Native command statuses AWS names otherwise (every other one is AWS's own)."""
INVOCATION_STATUSES = {InvocationStatus.UNDELIVERABLE.value: "Failed"}
PLUGIN_STATUSES = {**INVOCATION_STATUSES, InvocationStatus.DELAYED.value: "Pending"}
FILTER_KEYS = ("InvokedAfter", "InvokedBefore", "Status", "ExecutionStage", "DocumentName")
STATUSES = ("Pending", "InProgress", "Delayed", "Success", "Cancelled", "TimedOut", "Failed")
LISTED = 100_000
"""How many commands the lists read at most (newest first)."""


# -- shapes ------------------------------------------------------------------------------


def _truncated(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def _parameters(cmd: CommandRecord) -> dict[str, list[str]]:
    """The command's parameters as AWS shows them: each a list of strings."""
    out: dict[str, list[str]] = {}
    for name, value in shown_parameters(cmd.parameters).items():
        if isinstance(value, str):
            out[name] = [value]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[name] = list(value)
        else:
            out[name] = [json.dumps(value, separators=(",", ":"))]
    return out


def command_status(cmd: CommandRecord) -> str:
    """The command's Status in AWS's enum."""
    return COMMAND_STATUSES.get(cmd.status, cmd.status)


def invocation_status(inv: InvocationRecord) -> str:
    """The invocation's Status in AWS's enum."""
    return INVOCATION_STATUSES.get(inv.status, inv.status)


def _command(cmd: CommandRecord) -> dict[str, Any]:
    """A Command."""
    return {
        "CommandId": cmd.id,
        "DocumentName": cmd.document_name,
        "DocumentVersion": "$DEFAULT",
        "Comment": cmd.comment,
        "ExpiresAfter": epoch(cmd.requested_at + timedelta(seconds=cmd.timeout_seconds)),
        "Parameters": _parameters(cmd),
        "InstanceIds": list(cmd.targets.get("InstanceIds") or []),
        "Targets": list(cmd.targets.get("Targets") or []),
        "RequestedDateTime": epoch(cmd.requested_at),
        "Status": command_status(cmd),
        "StatusDetails": cmd.status_details,
        "MaxConcurrency": cmd.max_concurrency,
        "MaxErrors": cmd.max_errors,
        "TargetCount": cmd.target_count,
        "CompletedCount": cmd.completed_count,
        "ErrorCount": cmd.error_count,
        "DeliveryTimedOutCount": cmd.delivery_timed_out_count,
        "TimeoutSeconds": cmd.timeout_seconds,
    }


def plugin_name(document_name: str) -> str:
    """The name of the document's one step (plugin)."""
    return PLUGINS.get(document_name, "PatchLinux")


def _plugin(cmd: CommandRecord, inv: InvocationRecord) -> dict[str, Any]:
    """The CommandPlugin of the invocation (Patchwarden's documents have one step)."""
    out: dict[str, Any] = {
        "Name": plugin_name(cmd.document_name),
        "Status": PLUGIN_STATUSES.get(inv.status, inv.status),
        "StatusDetails": inv.status_details,
        "ResponseCode": inv.response_code if inv.response_code is not None else -1,
        "Output": _truncated(inv.output, PLUGIN_OUTPUT),
        "StandardOutputUrl": "",
        "StandardErrorUrl": "",
    }
    if inv.started_at is not None:
        out["ResponseStartDateTime"] = epoch(inv.started_at)
    if inv.finished_at is not None:
        out["ResponseFinishDateTime"] = epoch(inv.finished_at)
    return out


def _invocation(cmd: CommandRecord, inv: InvocationRecord, details: bool) -> dict[str, Any]:
    """A CommandInvocation (its CommandPlugins with ``details``)."""
    return {
        "CommandId": cmd.id,
        "InstanceId": inv.node_id,
        "InstanceName": "",
        "Comment": cmd.comment,
        "DocumentName": cmd.document_name,
        "DocumentVersion": "$DEFAULT",
        "RequestedDateTime": epoch(inv.created_at),
        "Status": invocation_status(inv),
        "StatusDetails": inv.status_details,
        "TraceOutput": "",
        "StandardOutputUrl": "",
        "StandardErrorUrl": "",
        "CommandPlugins": [_plugin(cmd, inv)] if details else [],
    }


def _iso(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z" if at else ""


# -- parameters --------------------------------------------------------------------------


def _command_id(params: Params, *, required: bool = False) -> str | None:
    return string(params, "CommandId", required=required, pattern=COMMAND_ID)


def _instance_id(params: Params, *, required: bool = False) -> str | None:
    return string(params, "InstanceId", required=required, pattern=INSTANCE_ID)


def _strings(params: Params, name: str, limit: int) -> list[str]:
    value = params.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AwsError("SerializationException", f"{name}: expected a list of strings")
    if len(value) > limit:
        raise invalid(f"{name}: at most {limit} members")
    return value


def _document_name(params: Params) -> str:
    name = string(params, "DocumentName", required=True, pattern=DOCUMENT)
    assert name is not None
    arn = _DOCUMENT_ARN.fullmatch(name)
    found = arn.group(1) if arn else name
    if found not in SENDABLE:
        raise AwsError(
            "InvalidDocument",
            f"Document {found} does not exist: Patchwarden runs {', '.join(SENDABLE)}",
        )
    return found


def _document_parameters(params: Params) -> dict[str, Any]:
    """Parameters (name → list of strings) as the native body takes them; an
    InstallOverrideList or BaselineOverride may be given as its JSON text."""
    raw = params.get("Parameters")
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(v, list) and all(isinstance(s, str) for s in v) for v in raw.values()
    ):
        raise AwsError("SerializationException", "Parameters: expected lists of strings")
    out: dict[str, Any] = dict(raw)
    for name in _JSON_PARAMETERS:
        value = raw.get(name)
        if value and len(value) == 1 and value[0].lstrip()[:1] in ("{", "["):
            try:
                out[name] = json.loads(value[0])
            except ValueError:
                raise AwsError("InvalidParameters", f"{name}: not valid JSON") from None
        elif value and len(value) == 1 and "://" in value[0]:
            raise AwsError(
                "InvalidParameters",
                f"{name}: Patchwarden does not fetch URLs; give the document as JSON text",
            )
    return out


def _targets(params: Params) -> list[dict[str, Any]]:
    raw = params.get("Targets")
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise AwsError("SerializationException", "Targets: expected a list of objects")
    if len(raw) > 5:
        raise invalid("Targets: at most 5 members")
    return [{"Key": t.get("Key"), "Values": t.get("Values") or []} for t in raw]


def _validated(body: dict[str, Any]) -> SendCommand:
    """The native SendCommand body, validated as ``POST /api/v1/commands`` validates it:
    a parameter's refusal is ``InvalidParameters``, any other ``ValidationException``."""
    try:
        return SendCommand.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{where or 'request'}: {first.get('msg', 'invalid')}"
        if where.startswith("Parameters"):
            raise AwsError("InvalidParameters", message) from None
        raise invalid(message) from None


def _check_instances(session: Session, body: SendCommand) -> None:
    """InvalidInstanceId for an instance id that names no active node."""
    named = list(body.InstanceIds)
    named += [
        v for t in body.Targets if t.Key == "InstanceIds" for v in t.Values if t.Values != ["*"]
    ]
    if not named:
        return
    found = {n.id for n in resolve_targets(SqlNodeDirectory(session), named, ())}
    unknown = sorted(set(named) - found)
    if unknown:
        raise AwsError(
            "InvalidInstanceId",
            f"Instances [{', '.join(unknown[:5])}] are not registered and active nodes.",
        )


# -- operations --------------------------------------------------------------------------


@operation("SendCommand", "operator")
def send_command(ctx: Context, params: Params) -> dict[str, Any]:
    """``POST /api/v1/commands``: AWS-RunPatchBaseline (or AWS-UpdateSSMAgent) to
    InstanceIds or Targets, audited as ``command.send``."""
    document = _document_name(params)
    string(params, "DocumentVersion", pattern=DOCUMENT_VERSION)
    body: dict[str, Any] = {
        "DocumentName": document,
        "Parameters": _document_parameters(params),
        "InstanceIds": _strings(params, "InstanceIds", 50),
        "Targets": _targets(params),
    }
    concurrency = string(params, "MaxConcurrency", pattern=MAX_CONCURRENCY, max_length=7)
    errors = string(params, "MaxErrors", pattern=MAX_ERRORS, max_length=7)
    timeout = integer(params, "TimeoutSeconds", low=30, high=2_592_000)
    comment = string(params, "Comment", max_length=100)
    for name, value in (
        ("MaxConcurrency", concurrency),
        ("MaxErrors", errors),
        ("TimeoutSeconds", timeout),
        ("Comment", comment),
    ):
        if value is not None:
            body[name] = value
    sent = _validated(body)
    try:
        sent = with_agent_version(sent, BundleStore(ctx.settings.data_dir / "bundles"))
    except ApiError as exc:
        raise AwsError("InvalidParameters", exc.message) from None
    _check_instances(ctx.session, sent)
    with refusals(not_found="InvalidParameters", conflict="InvalidParameters"):
        cmd = commands.send_command(
            fleet(ctx.session),
            SqlAuditLog(ctx.session),
            request(sent),
            ctx.principal.actor,
            ctx.now,
        )
    return {"Command": _command(cmd)}


def _filtered(params: Params) -> list[tuple[str, str]]:
    """The ``Filters`` (``key``/``value`` pairs); a key AWS does not have is
    ``InvalidFilterKey``."""
    raw = params.get("Filters")
    if raw is None:
        return []
    if not isinstance(raw, list) or not 1 <= len(raw) <= 5:
        raise invalid("Filters: expected a list of 1 to 5 filters")
    found = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise AwsError("SerializationException", f"Filters[{index}]: expected an object")
        key = string(item, "key", required=True)
        value = string(item, "value", required=True, min_length=1, max_length=128)
        assert key is not None and value is not None
        if key not in FILTER_KEYS:
            raise AwsError("InvalidFilterKey", f"Filters[{index}].key: {key[:64]!r} is not valid")
        if key in ("InvokedAfter", "InvokedBefore"):
            _when(value)
        elif key == "Status" and value not in (*STATUSES, "Cancelling"):
            raise invalid(f"Filters[{index}].value: {value!r} is not a status")
        elif key == "ExecutionStage" and value not in ("Executing", "Complete"):
            raise invalid(f"Filters[{index}].value: {value!r} is not Executing or Complete")
        found.append((key, value))
    return found


def _when(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise invalid(f"Filters: {value!r} is not an ISO 8601 date and time") from None
    if at.tzinfo is None:
        raise invalid(f"Filters: {value!r} has no time zone (add Z)")
    return at


def _matches(cmd: CommandRecord, status: str, chosen: Iterable[tuple[str, str]]) -> bool:
    """Whether the command (with ``status``: its own or its invocation's) passes."""
    for key, value in chosen:
        if key == "InvokedAfter" and cmd.requested_at < _when(value):
            return False
        if key == "InvokedBefore" and cmd.requested_at > _when(value):
            return False
        if key == "DocumentName" and cmd.document_name != value:
            return False
        if key == "Status" and status != value:
            return False
        if key == "ExecutionStage":
            terminal = CommandStatus(cmd.status).terminal
            if terminal != (value == "Complete"):
                return False
    return True


def _the_command(
    session: Session, command_id: str, at: datetime
) -> tuple[CommandRecord, list[InvocationRecord]]:
    """The command with its invocations, as ``GET /api/v1/commands/ID`` reads them;
    ``InvalidCommandId`` when there is none."""
    found = command_store.refreshed(session, command_id, at)
    if found is None:
        raise AwsError("InvalidCommandId", f"Command {command_id} does not exist.")
    return found


def _commands(session: Session) -> Sequence[CommandRecord]:
    """Every command, newest first (``GET /api/v1/commands``)."""
    return reads.commands(session, status=None, limit=LISTED)


@operation("ListCommands", "viewer")
def list_commands(ctx: Context, params: Params) -> dict[str, Any]:
    """Commands, newest first: one (CommandId), those with an invocation on InstanceId;
    filters InvokedAfter, InvokedBefore, Status, ExecutionStage, DocumentName."""
    command_id = _command_id(params)
    instance = _instance_id(params)
    chosen = _filtered(params)
    if command_id is not None:
        found = [_the_command(ctx.session, command_id, ctx.now)[0]]
    else:
        found = list(_commands(ctx.session))
    if instance is not None:
        found = [c for c in found if reads.invocation(ctx.session, c.id, instance) is not None]
    found = [c for c in found if _matches(c, command_status(c), chosen)]
    shown, token = page(found, params, maximum=50)
    out: dict[str, Any] = {"Commands": [_command(c) for c in shown]}
    if token:
        out["NextToken"] = token
    return out


@operation("ListCommandInvocations", "viewer")
def list_command_invocations(ctx: Context, params: Params) -> dict[str, Any]:
    """Invocations: of one command (CommandId) in send order, else of every command
    (newest first); of one node (InstanceId); ``Details`` adds the CommandPlugins with
    their output (2500 characters at most, as AWS)."""
    command_id = _command_id(params)
    instance = _instance_id(params)
    chosen = _filtered(params)
    details = boolean(params, "Details") or False
    pairs: list[tuple[CommandRecord, InvocationRecord]] = []
    if command_id is not None:
        cmd, invs = _the_command(ctx.session, command_id, ctx.now)
        pairs = [(cmd, i) for i in invs if instance is None or i.node_id == instance]
    else:
        for cmd in _commands(ctx.session):
            if instance is not None:
                inv = reads.invocation(ctx.session, cmd.id, instance)
                pairs += [(cmd, inv)] if inv is not None else []
            else:
                pairs += [(cmd, i) for i in _the_command(ctx.session, cmd.id, ctx.now)[1]]
    pairs = [(c, i) for c, i in pairs if _matches(c, invocation_status(i), chosen)]
    shown, token = page(pairs, params, maximum=50)
    out: dict[str, Any] = {"CommandInvocations": [_invocation(c, i, details) for c, i in shown]}
    if token:
        out["NextToken"] = token
    return out


@operation("GetCommandInvocation", "viewer")
def get_command_invocation(ctx: Context, params: Params) -> dict[str, Any]:
    """``GET /api/v1/commands/ID/invocations/NODE``: one node's status and output."""
    command_id = _command_id(params, required=True)
    instance = _instance_id(params, required=True)
    assert command_id is not None and instance is not None
    plugin = string(params, "PluginName", min_length=4)
    inv = reads.invocation(ctx.session, command_id, instance)
    if inv is None:
        raise AwsError(
            "InvocationDoesNotExist",
            f"Command {command_id} has no invocation on {instance}.",
        )
    found = reads.invocation_by_id(ctx.session, inv.id)
    assert found is not None
    cmd = found[1]
    name = plugin_name(cmd.document_name)
    if plugin is not None and plugin != name:
        raise AwsError("InvalidPluginName", f"{plugin}: the document's plugin is {name}.")
    elapsed = ""
    if inv.started_at is not None and inv.finished_at is not None:
        seconds = (inv.finished_at - inv.started_at).total_seconds()
        elapsed = f"PT{seconds:.3f}S"
    return {
        "CommandId": cmd.id,
        "InstanceId": inv.node_id,
        "Comment": cmd.comment,
        "DocumentName": cmd.document_name,
        "DocumentVersion": "$DEFAULT",
        "PluginName": name,
        "ResponseCode": inv.response_code if inv.response_code is not None else -1,
        "ExecutionStartDateTime": _iso(inv.started_at),
        "ExecutionElapsedTime": elapsed,
        "ExecutionEndDateTime": _iso(inv.finished_at),
        "Status": invocation_status(inv),
        "StatusDetails": inv.status_details,
        "StandardOutputContent": _truncated(inv.output, STANDARD_OUTPUT),
        "StandardOutputUrl": "",
        "StandardErrorContent": "",
        "StandardErrorUrl": "",
    }


@operation("CancelCommand", "operator")
def cancel_command(ctx: Context, params: Params) -> dict[str, Any]:
    """``POST /api/v1/commands/ID/cancel``: Pending invocations end Cancelled, running
    ones finish and report (``command.cancel``).  Only the whole command is cancelled."""
    command_id = _command_id(params, required=True)
    assert command_id is not None
    if _strings(params, "InstanceIds", 50):
        raise invalid("InstanceIds: Patchwarden cancels a whole command; omit InstanceIds")
    with refusals(not_found="InvalidCommandId"):
        commands.cancel_command(
            SqlCommands(ctx.session),
            SqlAuditLog(ctx.session),
            command_id,
            ctx.principal.actor,
            ctx.now,
        )
    return {}
