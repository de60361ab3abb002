"""``/api/v1/remediations``: start (manual), list, approve, exceptions; and
``/api/v1/runbook-executions`` with their steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import select

from patchwarden.adapters.storage.governance_tables import (
    RemediationExceptionRow,
    RemediationExecutionRow,
    RemediationStateRow,
    RunbookExecutionRow,
    StepExecutionRow,
)
from patchwarden.errors import PatchwardenError
from patchwarden.server import audit
from patchwarden.server.auth import Operator, Viewer
from patchwarden.server.db import Now, ReadDB, WriteDB
from patchwarden.server.errors import bad_request, not_found
from patchwarden.server.governance import remediate, runner
from patchwarden.server.schemas import Body

router = APIRouter(prefix="/api/v1", tags=["remediation"])


class StartBody(Body):
    """``POST /api/v1/remediations``: run a rule's remediation on one resource now."""

    rule: str
    resource_id: str


class ApproveBody(Body):
    """``POST /api/v1/remediations/{id}/approve`` (``approve: false`` rejects)."""

    approve: bool = True
    comment: str = Field(default="", max_length=512)


class ExceptionBody(Body):
    """``POST /api/v1/remediation-exceptions``: risk acceptance until ``expires_at``."""

    rule: str
    resource_id: str
    reason: str = Field(min_length=1, max_length=1024)
    expires_at: datetime | None = None


def _view(run: RemediationExecutionRow, session: ReadDB | WriteDB) -> dict[str, Any]:
    execution = session.get(RunbookExecutionRow, run.execution_id) if run.execution_id else None
    return {
        "id": run.id,
        "rule": run.rule,
        "resource_id": run.resource_id,
        "manual": run.manual,
        "status": run.status,
        "message": run.message or (execution.state.get("message", "") if execution else ""),
        "execution_id": run.execution_id,
        "execution_status": execution.status if execution else None,
        "created_by": run.created_by,
        "created_at": run.created_at,
        "ended_at": run.ended_at,
    }


@router.post("/remediations")
def start_remediation(body: StartBody, who: Operator, session: WriteDB, at: Now) -> dict[str, Any]:
    """Start the rule's remediation runbook for the resource (a manual run)."""
    try:
        run = remediate.start_manual(session, body.rule, body.resource_id, at, who.actor)
    except PatchwardenError as exc:
        raise bad_request(str(exc)) from None
    audit.record(session, who, "remediation.start", f"{body.rule}/{body.resource_id}", at)
    return _view(run, session)


@router.get("/remediations")
def list_remediations(
    _: Viewer,
    session: ReadDB,
    rule: str | None = None,
    resource_id: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Remediation runs (newest first) and the state of every (rule, resource)."""
    query = select(RemediationExecutionRow).order_by(RemediationExecutionRow.created_at.desc())
    states = select(RemediationStateRow).order_by(
        RemediationStateRow.rule, RemediationStateRow.resource_id
    )
    if rule:
        query, states = (
            query.where(RemediationExecutionRow.rule == rule),
            states.where(RemediationStateRow.rule == rule),
        )
    if resource_id:
        query = query.where(RemediationExecutionRow.resource_id == resource_id)
        states = states.where(RemediationStateRow.resource_id == resource_id)
    runs = [_view(r, session) for r in session.scalars(query.limit(max(1, min(limit, 1000))))]
    return {
        "remediations": runs,
        "states": [
            {
                "rule": s.rule,
                "resource_id": s.resource_id,
                "phase": s.phase,
                "attempts": s.state.get("attempts", 0),
                "due_at": s.state.get("due_at"),
            }
            for s in session.scalars(states)
        ],
        "exceptions": _exceptions(session, rule),
    }


@router.post("/remediations/{run_id}/approve")
def approve(
    run_id: str, body: ApproveBody, who: Operator, session: WriteDB, at: Now
) -> dict[str, Any]:
    """Approve (or reject) the waiting approve step of a remediation run (or an execution id)."""
    run = session.get(RemediationExecutionRow, run_id)
    execution_id = run.execution_id if run else run_id
    try:
        runner.approve(session, str(execution_id), who.actor, body.approve, body.comment, at)
    except LookupError:
        raise not_found(f"remediation {run_id}") from None
    except PatchwardenError as exc:
        raise bad_request(str(exc)) from None
    audit.record(
        session, who, "remediation.approve" if body.approve else "remediation.reject", run_id, at
    )
    return _view(run, session) if run else execution_view(str(execution_id), who, session)


def _exceptions(session: ReadDB | WriteDB, rule: str | None) -> list[dict[str, Any]]:
    query = select(RemediationExceptionRow).order_by(RemediationExceptionRow.rule)
    if rule:
        query = query.where(RemediationExceptionRow.rule == rule)
    return [
        {
            "rule": e.rule,
            "resource_id": e.resource_id,
            "reason": e.reason,
            "manual": e.manual,
            "expires_at": e.expires_at,
            "created_by": e.created_by,
            "created_at": e.created_at,
        }
        for e in session.scalars(query)
    ]


@router.get("/remediation-exceptions")
def list_exceptions(_: Viewer, session: ReadDB, rule: str | None = None) -> dict[str, Any]:
    """RemediationExceptions: automatic (attempts exhausted) and manual (risk acceptance)."""
    return {"exceptions": _exceptions(session, rule)}


@router.post("/remediation-exceptions")
def add_exception(body: ExceptionBody, who: Operator, session: WriteDB, at: Now) -> dict[str, Any]:
    """Accept the risk for a (rule, resource) until ``expires_at``: no automatic runs."""
    if body.expires_at is not None and body.expires_at.tzinfo is None:
        raise bad_request("expires_at: give a time zone (e.g. 2026-06-30T00:00:00Z)")
    remediate.accept_risk(
        session, body.rule, body.resource_id, body.reason, body.expires_at, at, who.actor
    )
    audit.record(
        session,
        who,
        "remediation.exception",
        f"{body.rule}/{body.resource_id}",
        at,
        {"reason": body.reason, "expires_at": str(body.expires_at)},
    )
    return {"exceptions": _exceptions(session, body.rule)}


@router.delete("/remediation-exceptions/{rule}/{resource_id}")
def delete_exception(
    rule: str, resource_id: str, who: Operator, session: WriteDB, at: Now
) -> dict[str, Any]:
    """Lift an exception: automatic remediation (with fresh attempts) resumes."""
    if not remediate.clear_exception(session, rule, resource_id, at):
        raise not_found(f"exception {rule}/{resource_id}")
    audit.record(session, who, "remediation.exception.delete", f"{rule}/{resource_id}", at)
    return {"deleted": f"{rule}/{resource_id}"}


@router.get("/runbook-executions/{execution_id}")
def execution_view(execution_id: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
    """A runbook execution with its steps (statuses as reference §9)."""
    row = session.get(RunbookExecutionRow, execution_id)
    if row is None:
        raise not_found(f"runbook execution {execution_id}")
    steps = session.scalars(
        select(StepExecutionRow)
        .where(StepExecutionRow.execution_id == row.id)
        .order_by(StepExecutionRow.position)
    )
    return {
        "id": row.id,
        "runbook": row.runbook,
        "status": row.status,
        "message": row.state.get("message", ""),
        "parameters": row.state.get("parameters", {}),
        "outputs": row.state.get("variables", {}),
        "started_at": row.started_at,
        "ended_at": row.ended_at,
        "created_by": row.created_by,
        "steps": [
            {
                "name": s.step,
                "action": s.action,
                "status": s.status,
                "attempts": s.attempts,
                "message": s.message,
                "outputs": s.outputs,
                "waiting": s.waiting,
                "started_at": s.started_at,
                "ended_at": s.ended_at,
            }
            for s in steps
        ],
    }
