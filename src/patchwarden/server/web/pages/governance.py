"""Governance: rules and conformance packs with their scores and their trend (``/governance``),
the remediation queue with the automatic runs about to start, approvals and exceptions
(``/governance/remediations``).

Every number comes from the read models the JSON API answers with
(``/api/v1/rules``, ``/api/v1/conformance-packs``, ``/api/v1/rule-compliance``,
``/api/v1/remediations``, ``/api/v1/remediation-exceptions``); the trend replays the
evaluation history (``/api/v1/evaluations``) and scores each day with the core's
:func:`~patchwarden.core.conformance.score`, as the score route does.  The actions call the
use cases of the API's routes (:mod:`patchwarden.pipeline.governance.operations`): same
validation, same audit records."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from patchwarden.adapters.storage.governance import remediation_views, trend, views
from patchwarden.adapters.storage.queries import nodes as node_reads
from patchwarden.core.conformance import score
from patchwarden.errors import InputError, PatchwardenError
from patchwarden.pipeline.governance import operations
from patchwarden.pipeline.governance.apply import automatic_actions
from patchwarden.pipeline.governance.context import Governance, Outbox
from patchwarden.pipeline.governance.ports import Notifier
from patchwarden.server.db import ReadDB, Session, Settings, database, settings
from patchwarden.server.governance.api import notifier, send_after_commit
from patchwarden.server.governance.wiring import bind
from patchwarden.server.web import charts
from patchwarden.server.web.render import ago, page
from patchwarden.server.web.session import ConsoleError, current, form_of
from patchwarden.server.web.session import Session as WebSession

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

TREND_DAYS = 14
COMPLIANCE = ("COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE", "INSUFFICIENT_DATA")
PAIRS = ("COMPLIANT", "NON_COMPLIANT")
RUNNING = ("QUEUED", "IN_PROGRESS")
RECENT_RUNS = 50
QUEUE = "/governance/remediations"
COMPLIANCE_CLASSES = {
    "COMPLIANT": "ok",
    "NON_COMPLIANT": "bad",
    "NOT_APPLICABLE": "none",
    "INSUFFICIENT_DATA": "none",
}


def _score_text(value: float | str | None) -> str:
    if value is None or isinstance(value, str):
        return "no data"
    return f"{value:g} %"


def scores(session: Session, at: datetime) -> dict[str, Any]:
    """Rules, packs and the trend as the governance page shows them (also what the tests
    compare with the API)."""
    rules = [asdict(r) for r in views.rules(session)]
    packs = [
        {**asdict(s), "status": status, "parameters": dict(parameters)}
        for s, status, parameters in views.packs(session)
    ]
    return {"rules": rules, "packs": packs, "trend": trend_of(session, at, packs)}


def trend_of(session: Session, at: datetime, packs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per day of the last :data:`TREND_DAYS`: every rule's pairs and score, and each
    pack's score, from the evaluation history."""
    days = trend.daily(session, at, TREND_DAYS)
    members = trend.pack_rules(session)
    rows = []
    for day in days:
        overall = score(day.results)
        by_pack = {}
        for pack in packs:
            names = members.get(pack["name"], [])
            result = score({rule: day.results.get(rule, {}) for rule in names})
            by_pack[pack["name"]] = result.score
        rows.append(
            {
                "day": day.day.isoformat(),
                "evaluated": day.evaluated,
                "score": overall.score,
                "COMPLIANT": overall.compliant,
                "NON_COMPLIANT": overall.non_compliant,
                "packs": by_pack,
            }
        )
    return {"days": rows, "history": any(row["evaluated"] for row in rows)}


@router.get("/governance", response_class=HTMLResponse)
def governance_page(request: Request, session: ReadDB, settings: Settings) -> HTMLResponse:
    """Rules and conformance packs, their scores now and over the last 14 days."""
    who = current(request)
    at = settings.clock.now()
    data = scores(session, at)
    days = data["trend"]["days"]
    columns = [(d["day"][5:], {s: d[s] for s in PAIRS}) for d in days]
    label = (
        f"Rule evaluations per day over the last {TREND_DAYS} days (compliant and "
        f"non-compliant rule/node pairs); today: {days[-1]['COMPLIANT']} compliant, "
        f"{days[-1]['NON_COMPLIANT']} non-compliant"
    )
    context = {
        **data,
        "compliance_types": COMPLIANCE,
        "classes": COMPLIANCE_CLASSES,
        "trend_chart": charts.stacked_columns(columns, PAIRS, label),
        "score_text": _score_text,
        "trend_days": TREND_DAYS,
    }
    return page(request, "governance.html", who, context)


def queue(session: Session, at: datetime) -> dict[str, Any]:
    """The remediation queue: what ``GET /api/v1/remediations`` answers, with what each
    pending automatic run will do, on which node, and which runs wait for an approval."""
    known = node_reads.nodes(session, tags={}, patch_group=None, include_deregistered=True)
    names = {n.id: n.name or n.hostname or n.id for n in known}
    runs = [asdict(r) for r in remediation_views.runs(session, None, None, RECENT_RUNS)]
    for run in runs:
        run["approval"] = _waiting_approval(session, run)
    pending = [asdict(p) for p in remediation_views.pending(session, None, None)]
    gov = bind(session, Outbox())
    what = {}
    for rule in {p["rule"] for p in pending}:
        try:
            lines = automatic_actions(gov, [rule])
        except PatchwardenError as exc:
            lines = (f"rule {rule}: {exc}",)
        what[rule] = lines[0] if lines else ""
    for item in pending:
        item["action"] = what.get(item["rule"], "")
        item["due"] = datetime.fromisoformat(item["due_at"]) if item["due_at"] else None
    states = [asdict(s) for s in remediation_views.states(session, None, None)]
    return {
        "runs": runs,
        "in_progress": [r for r in runs if r["status"] in RUNNING],
        "awaiting": [r for r in runs if r["approval"] is not None],
        "pending": pending,
        "states": states,
        "exceptions": [asdict(e) for e in remediation_views.exceptions(session, None)],
        "names": names,
        "active_nodes": [n.id for n in known if n.deregistered_at is None],
        "rules": [r.name for r in views.rules(session)],
    }


def _waiting_approval(session: Session, run: Mapping[str, Any]) -> dict[str, Any] | None:
    """The approve step the run's execution waits on (its name and inputs), if any."""
    if run["execution_status"] != "Waiting" or not run["execution_id"]:
        return None
    execution = remediation_views.execution(session, run["execution_id"])
    if execution is None:
        return None
    for step in execution.steps:
        if step.action == "approve" and step.status == "Waiting":
            return {"step": step.name, "waiting": dict(step.waiting), "runbook": execution.runbook}
    return None


def _queue_page(
    request: Request,
    who: WebSession,
    session: Session,
    at: datetime,
    *,
    error: str = "",
    done: str = "",
    status: int = 200,
) -> HTMLResponse:
    context = {
        **queue(session, at),
        "error": error,
        "done": done,
        "now": at,
        "ago": lambda value: ago(value, at),
    }
    return page(request, "remediations.html", who, context, status=status)


@router.get(QUEUE, response_class=HTMLResponse)
def remediations_page(
    request: Request, session: ReadDB, settings: Settings, done: str = ""
) -> HTMLResponse:
    """Pending automatic remediations with their start time, runs in progress and recent,
    approvals, exceptions."""
    who = current(request)
    return _queue_page(request, who, session, settings.clock.now(), done=done[:200])


def _field(form: FormData, name: str, limit: int = 1024) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _expiry(text: str) -> datetime | None:
    """An exception's expiry from the form (a date or date and time, taken as UTC)."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"expires: not a date and time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def _act(
    request: Request,
    who: WebSession,
    sender: Notifier,
    work: Callable[[Governance, datetime], str],
) -> Response:
    """Run ``work`` (a use case of :mod:`operations`) in one write transaction, then go back
    to the queue saying what was done; the webhooks it queued are sent after the commit, as
    the API's routes send them.  A refused input shows the queue with the error (400)."""
    db, app_settings = database(request), settings(request)
    outbox = Outbox()

    def run() -> str:
        at = app_settings.clock.now()
        with db.write() as session, session.begin():
            return work(bind(session, outbox), at)

    try:
        message = await run_in_threadpool(run)
    except LookupError as exc:
        raise ConsoleError(404, f"not found: {exc}") from None
    except PermissionError as exc:
        raise ConsoleError(403, str(exc)) from None
    except PatchwardenError as exc:
        error = str(exc)

        def refused() -> HTMLResponse:
            with db.read() as session:
                at = app_settings.clock.now()
                return _queue_page(request, who, session, at, error=error, status=400)

        return await run_in_threadpool(refused)
    task = BackgroundTask(send_after_commit, db, sender, outbox, app_settings.clock)
    return RedirectResponse(f"{QUEUE}?done={quote(message)}", status_code=303, background=task)


Sender = Annotated[Notifier, Depends(notifier)]


@router.post(QUEUE + "/{run_id}/approve", response_model=None)
async def approve(request: Request, run_id: str, sender: Sender) -> Response:
    """Approve (or reject, ``decision=reject``) the waiting approve step of a run, as
    ``POST /api/v1/remediations/{id}/approve`` does."""
    who, form = await form_of(request, "operator")
    approved = _field(form, "decision") != "reject"
    comment = _field(form, "comment", 512)

    def work(gov: Governance, at: datetime) -> str:
        operations.approve(gov, who.who.actor, run_id, approved, comment, at)
        return f"remediation {run_id} {'approved' if approved else 'rejected'}"

    return await _act(request, who, sender, work)


@router.post(QUEUE + "/exceptions", response_model=None)
async def add_exception(request: Request, sender: Sender) -> Response:
    """Accept the risk for a (rule, node) until a time, as ``POST
    /api/v1/remediation-exceptions`` does."""
    who, form = await form_of(request, "operator")
    rule, resource_id = _field(form, "rule", 128), _field(form, "resource_id", 64)
    reason = _field(form, "reason")

    def work(gov: Governance, at: datetime) -> str:
        if not rule or not resource_id:
            raise InputError("choose a rule and a node")
        if not reason:
            raise InputError("reason: say why the risk is accepted")
        until = _expiry(_field(form, "expires_at", 64))
        operations.accept_risk(gov, who.who.actor, rule, resource_id, reason, until, at)
        return f"exception {rule}/{resource_id} recorded"

    return await _act(request, who, sender, work)


@router.post(QUEUE + "/exceptions/delete", response_model=None)
async def delete_exception(request: Request, sender: Sender) -> Response:
    """Lift an exception (automatic remediation resumes), as ``DELETE
    /api/v1/remediation-exceptions/{rule}/{resource_id}`` does."""
    who, form = await form_of(request, "operator")
    rule, resource_id = _field(form, "rule", 128), _field(form, "resource_id", 64)

    def work(gov: Governance, at: datetime) -> str:
        operations.lift_exception(gov, who.who.actor, rule, resource_id, at)
        return f"exception {rule}/{resource_id} lifted"

    return await _act(request, who, sender, work)
