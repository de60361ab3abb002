"""The nodes: a searchable, filterable list (``/nodes``) and one node's page
(``/nodes/{id}``: facts, patch compliance, findings, command history), with the operator's
actions on it: send RunPatchBaseline, suppress a finding, add or remove a tag.

The list reads what ``GET /api/v1/nodes``, ``GET /api/v1/compliance`` and ``GET
/api/v1/findings`` read, one query each whatever the fleet's size; the node's page what
``GET /api/v1/nodes/{id}``, ``/api/v1/compliance/{id}``, ``/api/v1/nodes/{id}/findings`` and
``/api/v1/suppressions`` answer.  The actions call the API's use cases (``POST
/api/v1/commands``, ``POST /api/v1/apply`` of a ``Suppression``, ``PUT
/api/v1/nodes/{id}/tags``): same validation, same audit records."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.node_admin import SqlNodes
from patchwarden.adapters.storage.queries import compliance as compliance_reads
from patchwarden.adapters.storage.queries import findings as finding_reads
from patchwarden.adapters.storage.queries import nodes as node_reads
from patchwarden.adapters.storage.queries.node_commands import node_invocations
from patchwarden.core.model import PatchState
from patchwarden.core.presence import PING_STATUSES
from patchwarden.core.vuln import FindingStatus
from patchwarden.documents import parse_documents
from patchwarden.documents.suppression import expiry
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.fleet import commands
from patchwarden.pipeline.fleet import nodes as node_cases
from patchwarden.pipeline.fleet.compliance import UNREPORTED
from patchwarden.pipeline.fleet.errors import FleetError
from patchwarden.server import governance
from patchwarden.server.auth import Principal
from patchwarden.server.db import ReadDB, Session, Settings, database
from patchwarden.server.db import settings as settings_of
from patchwarden.server.errors import ApiError
from patchwarden.server.fleet.agent_update import bundles, with_agent_version
from patchwarden.server.fleet.command_schema import SendCommand
from patchwarden.server.fleet.commands import fleet, invocation_view, view
from patchwarden.server.fleet.commands import request as command_request
from patchwarden.server.fleet.views import compliance_view, node_view, tag_filters
from patchwarden.server.routes.findings import node_findings
from patchwarden.server.routes.nodes import NodeTags
from patchwarden.server.routes.suppressions import apply_suppression, list_suppressions
from patchwarden.server.settings import ServerSettings
from patchwarden.server.web.render import ago, page
from patchwarden.server.web.session import ConsoleError, current, form_of
from patchwarden.server.web.session import Session as ConsoleSession

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100
"""Nodes per page of the list (a fleet has thousands)."""
HISTORY = 50
"""Invocations shown on a node's page (newest first)."""
MAX_TAGS = 10
"""Tag filters read from the list's query string."""
COMPLIANCE_STATES = ("COMPLIANT", "NON_COMPLIANT", UNREPORTED)
FIRST_STATES = ("MISSING", "FAILED", "INSTALLED_PENDING_REBOOT", "INSTALLED_REJECTED")
"""Patch states listed first on a node's page, in this order (the non-compliant ones)."""
PATCH_STATES = tuple(s.value for s in PatchState)
PENDING_REBOOT = PatchState.INSTALLED_PENDING_REBOOT.value
OPERATIONS = ("Scan", "Install")
REBOOT_OPTIONS = ("RebootIfNeeded", "NoReboot")
VULNERABILITY_ID = re.compile(
    r"^(CVE-\d{4}-\d{4,}"  # CVE-2024-13176
    r"|GHSA(-[23456789cfghjmpqrvwx]{4}){3}"  # GHSA-xxxx-xxxx-xxxx
    r"|(?!CVE-)[A-Z][A-Z0-9]*-\d{4}[:-]\d+"  # RHSA-2024:1234, ALAS-2023-123
    r"|(?!CVE-)[A-Z][A-Z0-9]*-\d+(-\d+)?)$",  # DSA-5432-1, DLA-3000-1, USN-6000-1
    re.IGNORECASE,
)
"""What may be suppressed from the console: one vulnerability id (no glob)."""

PING_BADGES = {"Online": "ok", "ConnectionLost": "bad", "Inactive": "none"}
COMPLIANCE_BADGES = {"COMPLIANT": "ok", "NON_COMPLIANT": "bad", UNREPORTED: "none"}
SEVERITY_BADGES = {
    "CRITICAL": "crit",
    "HIGH": "high",
    "MEDIUM": "med",
    "LOW": "low",
    "INFORMATIONAL": "info",
    "UNTRIAGED": "none",
}
STATUS_BADGES = {"ACTIVE": "bad", "SUPPRESSED": "none", "CLOSED": "ok"}


class Refused(Exception):
    """An action's input refused: the page again, with this one line and status 400."""


# --- the list -------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The list's query parameters (a GET form: the URL is shareable)."""

    q: str = ""
    ping_status: str = ""
    patch_group: str = ""
    compliance: str = ""
    tags: tuple[str, ...] = ()

    def check(self) -> None:
        """:class:`Refused` for a value the API would refuse."""
        if self.ping_status and self.ping_status not in PING_STATUSES:
            raise Refused(f"ping status: must be one of {', '.join(PING_STATUSES)}")
        if self.compliance and self.compliance not in COMPLIANCE_STATES:
            raise Refused(f"compliance: must be one of {', '.join(COMPLIANCE_STATES)}")
        try:
            tag_filters(self.tags)
        except ApiError as exc:
            raise Refused(exc.message) from None

    def query(self, **changes: Any) -> str:
        """The query string of these filters (with ``changes``), empty values left out."""
        params: list[tuple[str, Any]] = [
            (key, value)
            for key, value in (
                ("q", self.q),
                ("ping_status", self.ping_status),
                ("patch_group", self.patch_group),
                ("compliance", self.compliance),
            )
            if value
        ]
        params += [("tag", t) for t in self.tags]
        params += [(key, value) for key, value in changes.items() if value]
        return urlencode(params)


def node_rows(
    db: Session, at: datetime, settings: ServerSettings, filters: Filters
) -> list[dict[str, Any]]:
    """The nodes the filters select, by id, each with its compliance and its count of
    ACTIVE findings: three queries (nodes, compliance, findings), whatever the fleet."""
    tags = tag_filters(filters.tags)
    group = filters.patch_group or None
    found = node_reads.nodes(db, tags=tags, patch_group=group, include_deregistered=False)
    views = [node_view(n, at, settings) for n in found]
    if filters.ping_status:
        views = [v for v in views if v["ping_status"] == filters.ping_status]
    reported = {
        record.node_id: record
        for record, _ in compliance_reads.reported(
            db, tags=tags, compliance=None, patch_group=group
        )
    }
    active = Counter(
        node_id
        for node_id, _, _ in finding_reads.active_findings(
            db, severity=None, status=FindingStatus.ACTIVE.value, package=None
        )
    )
    needle = filters.q.strip().lower()
    rows = []
    for v in views:
        record = reported.get(v["node_id"])
        state = record.compliance if record else UNREPORTED
        if filters.compliance and state != filters.compliance:
            continue
        names = (v["node_id"], v["name"] or "", v["hostname"] or "")
        if needle and not any(needle in name.lower() for name in names):
            continue
        rows.append(
            {
                **v,
                "compliance": state,
                "severity": record.severity if record else None,
                "missing": record.summary.get("MISSING", 0) if record else None,
                "failed": record.summary.get("FAILED", 0) if record else None,
                "findings": active.get(v["node_id"], 0),
            }
        )
    return rows


def _page_number(raw: str | None) -> int:
    try:
        return max(1, int(raw or "1"))
    except ValueError:
        return 1


@router.get("/nodes", response_class=HTMLResponse)
def nodes_page(
    request: Request,
    db: ReadDB,
    settings: Settings,
    q: Annotated[str, Query(max_length=256)] = "",
    ping_status: Annotated[str, Query(max_length=32)] = "",
    patch_group: Annotated[str, Query(max_length=256)] = "",
    compliance: Annotated[str, Query(max_length=32)] = "",
    tag: Annotated[list[str] | None, Query()] = None,
    page_number: Annotated[str | None, Query(alias="page", max_length=8)] = None,
) -> HTMLResponse:
    """Managed nodes: search by name, hostname or id; filter by ping status, patch group,
    compliance and tags; a page of :data:`PAGE_SIZE` at a time."""
    who = current(request)
    at = settings.clock.now()
    tags = tuple(t for t in tag or () if t)[:MAX_TAGS]
    filters = Filters(q, ping_status, patch_group, compliance, tags)
    error, rows, status = "", [], 200
    try:
        filters.check()
        rows = node_rows(db, at, settings, filters)
    except Refused as exc:
        error, status = str(exc), 400
    number = _page_number(page_number)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    number = min(number, pages)
    start = (number - 1) * PAGE_SIZE
    context = {
        "filters": filters,
        "rows": rows[start : start + PAGE_SIZE],
        "total": len(rows),
        "first": start + 1 if rows else 0,
        "last": min(start + PAGE_SIZE, len(rows)),
        "page_number": number,
        "pages": pages,
        "previous": f"?{filters.query(page=number - 1)}" if number > 1 else "",
        "next": f"?{filters.query(page=number + 1)}" if number < pages else "",
        "error": error,
        "ping_statuses": PING_STATUSES,
        "compliance_states": COMPLIANCE_STATES,
        **_badges(at),
    }
    return page(request, "nodes.html", who, context, status=status)


# --- one node -------------------------------------------------------------------------


def _patch_order(patch: Mapping[str, Any]) -> tuple[int, str, str]:
    state = str(patch.get("state"))
    rank = FIRST_STATES.index(state) if state in FIRST_STATES else len(FIRST_STATES)
    return rank, str(patch.get("name", "")), str(patch.get("arch", ""))


def node_detail(
    db: Session, who: Principal, at: datetime, settings: ServerSettings, node_id: str,
    states: tuple[str, ...] = (),
) -> dict[str, Any]:  # fmt: skip
    """What a node's page shows; :class:`ConsoleError` (404) when there is no such node."""
    node = node_reads.node(db, node_id)
    if node is None:
        raise ConsoleError(404, f"node {node_id} not found")
    _, record = compliance_reads.node_compliance(db, node_id)
    compliance = compliance_view(record, items=True) if record is not None else None
    patches: list[dict[str, Any]] = list(compliance["patches"]) if compliance else []
    state_counts = Counter(str(p.get("state")) for p in patches)
    if states:
        patches = [p for p in patches if p.get("state") in states]
    patches.sort(key=_patch_order)
    findings = node_findings(node_id, who, db)
    rules = {rule["name"]: rule for rule in list_suppressions(who, db, at)}
    history = [
        {**invocation_view(inv, output=False), "command": view(cmd)}
        for inv, cmd in node_invocations(db, node_id, limit=HISTORY)
    ]
    active = [f for f in findings["findings"] if f["status"] == FindingStatus.ACTIVE.value]
    summary = compliance["summary"] if compliance else {}
    return {
        "node": node_view(node, at, settings),
        "compliance": compliance,
        "patches": patches,
        "states": states,
        "state_counts": state_counts,
        "patch_states": [
            s for s in dict.fromkeys((*FIRST_STATES, *PATCH_STATES)) if state_counts.get(s)
        ],
        "pending_reboot": int(summary.get(PENDING_REBOOT, 0) or 0),
        "findings": findings,
        "finding_counts": Counter(f["status"] for f in findings["findings"]),
        "active_ids": sorted({f["vulnerability_id"] for f in active}),
        "rules": rules,
        "history": history,
        "history_limit": HISTORY,
        "operations": OPERATIONS,
        "reboot_options": REBOOT_OPTIONS,
        "today": at.date().isoformat(),
    }


def _badges(at: datetime) -> dict[str, Any]:
    return {
        "ping_badges": PING_BADGES,
        "compliance_badges": COMPLIANCE_BADGES,
        "severity_badges": SEVERITY_BADGES,
        "status_badges": STATUS_BADGES,
        "ago": lambda value: ago(value, at),
    }


def _node_page(
    request: Request, session: ConsoleSession, db: Session, node_id: str,
    states: tuple[str, ...] = (), *, error: str = "", done: str = "",
) -> HTMLResponse:  # fmt: skip
    settings = settings_of(request)
    at = settings.clock.now()
    context = {
        **node_detail(db, session.who, at, settings, node_id, states),
        **_badges(at),
        "error": error,
        "done": done,
    }
    return page(request, "node.html", session, context, status=400 if error else 200)


@router.get("/nodes/{node_id}", response_class=HTMLResponse)
def node_page(
    request: Request,
    node_id: str,
    db: ReadDB,
    state: Annotated[list[str] | None, Query()] = None,
    done: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """One node: facts, patch states (filtered by ``state``), findings, command history."""
    session = current(request)
    states = tuple(s for s in state or () if s in PATCH_STATES)
    return _node_page(request, session, db, node_id, states, done=done)


# --- actions --------------------------------------------------------------------------


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _one_line(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "form"
    return f"{where}: {first['msg']}"


def _act(
    request: Request,
    session: ConsoleSession,
    node_id: str,
    action: Callable[[Session, datetime], str],
) -> Response:
    """Run ``action`` (it returns the notice) in a write transaction on an existing node;
    then back to the node's page, or the page with the refusal (status 400)."""
    at = settings_of(request).clock.now()
    db = database(request)
    try:
        with db.write() as write, write.begin():
            if node_reads.node(write, node_id) is None:
                raise ConsoleError(404, f"node {node_id} not found")
            done = action(write, at)
    except FleetError as exc:
        message = exc.message
    except (Refused, PatchwardenError) as exc:
        message = str(exc)
    except ApiError as exc:
        if exc.status != 400:
            raise ConsoleError(exc.status, exc.message) from None
        message = exc.message
    else:
        target = f"/nodes/{quote(node_id, safe='')}?{urlencode({'done': done})}"
        return RedirectResponse(target, status_code=303)
    with db.read() as read, read.begin():
        return _node_page(request, session, read, node_id, error=message)


@router.post("/nodes/{node_id}/commands", response_model=None)
async def send_command(request: Request, node_id: str) -> Response:
    """``POST /api/v1/commands`` of AWS-RunPatchBaseline on this node alone (operator)."""
    session, form = await form_of(request, "operator")
    operation = _field(form, "operation")
    reboot = _field(form, "reboot_option") or "RebootIfNeeded"
    comment = _field(form, "comment")

    def send(db: Session, at: datetime) -> str:
        try:
            body = SendCommand.model_validate(
                {
                    "DocumentName": "AWS-RunPatchBaseline",
                    "Parameters": {"Operation": operation, "RebootOption": reboot},
                    "InstanceIds": [node_id],
                    "Comment": comment,
                }
            )
        except ValidationError as exc:
            raise Refused(_one_line(exc)) from None
        body = with_agent_version(body, bundles(request))
        cmd = commands.send_command(
            fleet(db), SqlAuditLog(db), command_request(body), session.who.actor, at
        )
        return f"{operation} command {cmd.id} sent"

    return await run_in_threadpool(_act, request, session, node_id, send)


@router.post("/nodes/{node_id}/suppressions", response_model=None)
async def suppress_finding(request: Request, node_id: str) -> Response:
    """A ``Suppression`` of one vulnerability on this node (``POST /api/v1/apply``):
    its findings here are SUPPRESSED from the node's next assessment (operator)."""
    session, form = await form_of(request, "operator")
    vulnerability = _field(form, "vulnerability_id")
    reason = _field(form, "reason")
    expires = _field(form, "expires_at")

    def suppress(db: Session, at: datetime) -> str:
        if not VULNERABILITY_ID.match(vulnerability):
            raise Refused(
                f"{vulnerability!r} is not a vulnerability id (CVE-YYYY-NNNN, or an advisory "
                "id such as DSA-5432-1 or GHSA-xxxx-xxxx-xxxx)"
            )
        if expires and expiry(expires) <= at:
            raise Refused(f"expiry date {expires} is not in the future")
        found = node_findings(node_id, session.who, db)["findings"]
        ids = {i.upper() for f in found for i in (f["vulnerability_id"], *f["aliases"])}
        if vulnerability.upper() not in ids:
            raise Refused(f"node {node_id} has no finding {vulnerability}")
        spec: dict[str, Any] = {
            "Reason": reason,
            "VulnerabilityIds": [vulnerability.upper()],
            "Nodes": [node_id],
        }
        if expires:
            spec["ExpiresAt"] = expires
        raw = {
            "apiVersion": "patchwarden/v1",
            "kind": "Suppression",
            "metadata": {"name": f"{vulnerability.lower()}-{node_id}"},
            "spec": spec,
        }
        (doc,) = parse_documents(json.dumps(raw), "console.json")
        applied = apply_suppression(db, session.who, doc, raw, at)
        assert applied is not None
        return (
            f"Suppression {applied['name']} {applied['result']}: {vulnerability} is "
            "suppressed on this node from its next assessment"
        )

    return await run_in_threadpool(_act, request, session, node_id, suppress)


@router.post("/nodes/{node_id}/tags", response_model=None)
async def change_tag(request: Request, node_id: str) -> Response:
    """Add (or change) or remove one tag (``PUT /api/v1/nodes/{id}/tags`` of the node's
    tags with that one changed, as ``patchwarden tag add|remove`` does) (operator)."""
    session, form = await form_of(request, "operator")
    what = _field(form, "action")
    key = _field(form, "key")
    value = _field(form, "value")

    def retag(db: Session, at: datetime) -> str:
        node = node_reads.node(db, node_id)
        assert node is not None
        tags = dict(node.tags)
        if not key:
            raise Refused("tag key: must not be empty")
        if what == "add":
            tags[key] = value
        elif what == "remove":
            if key not in tags:
                raise Refused(f"node {node_id} has no tag {key!r}")
            del tags[key]
        else:
            raise Refused("action: must be add or remove")
        try:
            body = NodeTags.model_validate({"tags": tags})
        except ValidationError as exc:
            raise Refused(_one_line(exc)) from None
        node_cases.retag_node(
            SqlNodes(db), SqlAuditLog(db), node_id, body.tags, session.who.actor, at,
            lambda changed: governance.changed(db, changed, at),
        )  # fmt: skip
        return f"tag {key} {'set' if what == 'add' else 'removed'}"

    return await run_in_threadpool(_act, request, session, node_id, retag)
