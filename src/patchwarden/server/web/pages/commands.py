"""Commands: the recent ones (``/commands``, filter by status) with a send-command form,
one command (``/commands/{id}``: parameters, rate control and its waves, progress, the
invocation of each node; live while it runs), one invocation's output, and cancelling.

Reads and actions are those of ``/api/v1/commands`` (:mod:`patchwarden.server.routes.commands`):
the same read queries and views, the same SendCommand validation and use cases (same audit
records)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from patchwarden.adapters.storage import commands as command_store
from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.commands import SqlCommands
from patchwarden.adapters.storage.queries import commands as reads
from patchwarden.core.rollout import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_ERRORS,
    CommandStatus,
)
from patchwarden.documents.envelope import translate
from patchwarden.errors import InputError, PatchwardenError
from patchwarden.pipeline.fleet import commands
from patchwarden.server.db import ReadDB, Session, Settings, WriteDB
from patchwarden.server.errors import ApiError
from patchwarden.server.fleet.agent_update import bundles, with_agent_version
from patchwarden.server.fleet.command_schema import SendCommand
from patchwarden.server.fleet.commands import fleet, invocation_view, request, view
from patchwarden.server.outcomes import answered
from patchwarden.server.web import progress
from patchwarden.server.web.render import page
from patchwarden.server.web.session import ConsoleError, current, form_of
from patchwarden.server.web.session import Session as Visit

router = APIRouter(include_in_schema=False)
STATUSES = tuple(s.value for s in CommandStatus)
LIMIT = 100
"""Commands the list shows (the API's default page)."""
PATCH_GROUP_TAG = "tag:Patch Group"
_IDS = re.compile(r"[\s,]+")
WHOLE = "(document): "
"""How :func:`translate` names the whole body (a rule over several fields)."""
FORM_DEFAULTS = {
    "target": "patch_group",
    "patch_group": "",
    "instance_ids": "",
    "operation": "Scan",
    "max_concurrency": DEFAULT_MAX_CONCURRENCY,
    "max_errors": DEFAULT_MAX_ERRORS,
    "comment": "",
}


def _list_context(session: Session, status: str) -> dict[str, Any]:
    found = [view(c) for c in reads.commands(session, status=status or None, limit=LIMIT)]
    return {"commands": found, "statuses": STATUSES, "status": status, "limit": LIMIT}


@router.get("/commands", response_class=HTMLResponse)
def commands_page(
    request: Request, session: ReadDB, status: str = "", done: str = ""
) -> HTMLResponse:
    """Recent commands, newest first (``GET /api/v1/commands``)."""
    who = current(request)
    context = {**_list_context(session, status), "form": FORM_DEFAULTS, "error": "", "done": done}
    return page(request, "commands.html", who, context)


def body_of(form: FormData) -> dict[str, Any]:
    """The SendCommand body the form describes (validated afterwards, as the API does)."""
    values = {key: str(form.get(key, default)).strip() for key, default in FORM_DEFAULTS.items()}
    body: dict[str, Any] = {
        "DocumentName": "AWS-RunPatchBaseline",
        "Parameters": {"Operation": values["operation"]},
        "MaxConcurrency": values["max_concurrency"],
        "MaxErrors": values["max_errors"],
        "Comment": values["comment"],
    }
    if values["target"] == "instance_ids":
        body["InstanceIds"] = [i for i in _IDS.split(values["instance_ids"]) if i]
    else:
        group = values["patch_group"]  # empty: no value, which SendCommand refuses
        body["Targets"] = [{"Key": PATCH_GROUP_TAG, "Values": [group] if group else []}]
    return body


def _send(http: Request, who: Visit, form: FormData, session: Session, at: datetime) -> Response:
    """Send the form's command with the API's use case; the list with the error (400) when
    it is refused."""
    try:
        try:
            body = SendCommand.model_validate(body_of(form))
        except ValidationError as exc:
            raise InputError(str(translate(exc)).removeprefix(WHOLE)) from None
        body = with_agent_version(body, bundles(http))
        with answered():
            cmd = commands.send_command(
                fleet(session), SqlAuditLog(session), request(body), who.who.actor, at
            )
    except (ApiError, PatchwardenError) as exc:
        session.rollback()
        message = exc.message if isinstance(exc, ApiError) else str(exc)
        values = {key: str(form.get(key, default)) for key, default in FORM_DEFAULTS.items()}
        context = {**_list_context(session, ""), "form": values, "error": message, "done": ""}
        return page(http, "commands.html", who, context, status=400)
    done = quote(f"command sent to {cmd.target_count} node(s)")
    return RedirectResponse(f"/commands/{cmd.id}?done={done}", status_code=303)


@router.post("/commands", response_model=None)
async def send_command(request: Request, session: WriteDB, settings: Settings) -> Response:
    """SendCommand from the form (operators), as ``POST /api/v1/commands``."""
    who, form = await form_of(request, "operator")
    return await run_in_threadpool(_send, request, who, form, session, settings.clock.now())


@router.get("/commands/{command_id}", response_class=HTMLResponse)
def command_page(
    request: Request, command_id: str, session: WriteDB, settings: Settings, done: str = ""
) -> HTMLResponse:
    """One command with its invocations, timeouts applied first (``GET
    /api/v1/commands/{id}``)."""
    who = current(request)
    found = command_store.refreshed(session, command_id, settings.clock.now())
    if found is None:
        raise ConsoleError(404, f"command {command_id} not found")
    cmd, invs = found
    shown = view(cmd)
    invocations = [invocation_view(i, output=False) for i in invs]
    statuses = [i["status"] for i in invocations]
    counts = progress.progress(statuses)
    started = sum(1 for s in statuses if s != "Pending")
    context = {
        "command": shown,
        "invocations": invocations,
        "counts": counts,
        "by_status": progress.by_status(statuses),
        "buckets": progress.BUCKETS,
        "bar": progress.progress_bar(counts, progress.describe(counts)),
        "waves": progress.command_waves(shown, started),
        "live": not CommandStatus(cmd.status).terminal,
        "may_cancel": not cmd.cancel_requested and not CommandStatus(cmd.status).terminal,
        "done": done,
    }
    return page(request, "command.html", who, context)


@router.get("/commands/{command_id}/invocations/{node_id}", response_class=HTMLResponse)
def invocation_page(
    request: Request, command_id: str, node_id: str, session: ReadDB
) -> HTMLResponse:
    """GetCommandInvocation: one node's status and output."""
    who = current(request)
    inv = reads.invocation(session, command_id, node_id)
    if inv is None:
        raise ConsoleError(404, f"invocation of command {command_id} on {node_id} not found")
    return page(request, "invocation.html", who, {"invocation": invocation_view(inv)})


def _cancel(command_id: str, who: Visit, session: Session, at: datetime) -> Response:
    try:
        with answered():
            commands.cancel_command(
                SqlCommands(session), SqlAuditLog(session), command_id, who.who.actor, at
            )
    except ApiError as exc:
        raise ConsoleError(exc.status, exc.message) from None
    done = quote("cancel requested: pending invocations end Cancelled")
    return RedirectResponse(f"/commands/{command_id}?done={done}", status_code=303)


@router.post("/commands/{command_id}/cancel", response_model=None)
async def cancel_command(
    request: Request, command_id: str, session: WriteDB, settings: Settings
) -> Response:
    """CancelCommand (operators), as ``POST /api/v1/commands/{id}/cancel``."""
    who, _ = await form_of(request, "operator")
    return await run_in_threadpool(_cancel, command_id, who, session, settings.clock.now())
