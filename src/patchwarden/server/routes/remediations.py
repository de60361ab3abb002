"""``/api/v1/remediations``: start (manual), list, approve, exceptions; and
``/api/v1/runbook-executions`` with their steps."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import Field

from patchwarden.adapters.storage.governance import remediation_views as views
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.governance import operations
from patchwarden.server.auth import Operator, Viewer
from patchwarden.server.db import Now, ReadDB, WriteDB
from patchwarden.server.errors import ApiError, bad_request, not_found
from patchwarden.server.governance.api import GovernanceDB
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


def _exceptions(session: ReadDB | WriteDB, rule: str | None) -> list[dict[str, Any]]:
    return [asdict(e) for e in views.exceptions(session, rule)]


def _run(session: WriteDB, run_id: str) -> dict[str, Any]:
    found = views.run(session, run_id)
    assert found is not None, run_id
    return asdict(found)


@router.post("/remediations")
def start_remediation(
    body: StartBody, who: Operator, gov: GovernanceDB, session: WriteDB, at: Now
) -> dict[str, Any]:
    """Start the rule's remediation runbook for the resource (a manual run)."""
    try:
        run = operations.start_remediation(gov, who.actor, body.rule, body.resource_id, at)
    except PatchwardenError as exc:
        raise bad_request(str(exc)) from None
    return _run(session, run.id)


@router.get("/remediations")
def list_remediations(
    _: Viewer,
    session: ReadDB,
    rule: str | None = None,
    resource_id: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Remediation runs (newest first), the state of every (rule, resource), the automatic
    runs the server will start on its own (``pending``, soonest first) and exceptions."""
    return {
        "remediations": [asdict(r) for r in views.runs(session, rule, resource_id, limit)],
        "states": [asdict(s) for s in views.states(session, rule, resource_id)],
        "pending": [asdict(p) for p in views.pending(session, rule, resource_id)],
        "exceptions": _exceptions(session, rule),
    }


@router.post("/remediations/{run_id}/approve")
def approve(
    run_id: str, body: ApproveBody, who: Operator, gov: GovernanceDB, session: WriteDB, at: Now
) -> dict[str, Any]:
    """Approve (or reject) the waiting approve step of a remediation run (or an execution id)."""
    try:
        execution_id = operations.approve(gov, who.actor, run_id, body.approve, body.comment, at)
    except LookupError:
        raise not_found(f"remediation {run_id}") from None
    except PermissionError as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    except PatchwardenError as exc:
        raise bad_request(str(exc)) from None
    run = views.run(session, run_id)
    return asdict(run) if run else execution_view(execution_id, who, session)


@router.get("/remediation-exceptions")
def list_exceptions(_: Viewer, session: ReadDB, rule: str | None = None) -> dict[str, Any]:
    """RemediationExceptions: automatic (attempts exhausted) and manual (risk acceptance)."""
    return {"exceptions": _exceptions(session, rule)}


@router.post("/remediation-exceptions")
def add_exception(
    body: ExceptionBody, who: Operator, gov: GovernanceDB, session: WriteDB, at: Now
) -> dict[str, Any]:
    """Accept the risk for a (rule, resource) until ``expires_at``: no automatic runs."""
    if body.expires_at is not None and body.expires_at.tzinfo is None:
        raise bad_request("expires_at: give a time zone (e.g. 2026-06-30T00:00:00Z)")
    try:
        operations.accept_risk(
            gov, who.actor, body.rule, body.resource_id, body.reason, body.expires_at, at
        )
    except LookupError as exc:
        raise not_found(str(exc)) from None
    except PatchwardenError as exc:
        raise bad_request(str(exc)) from None
    return {"exceptions": _exceptions(session, body.rule)}


@router.delete("/remediation-exceptions/{rule}/{resource_id}")
def delete_exception(
    rule: str, resource_id: str, who: Operator, gov: GovernanceDB, at: Now
) -> dict[str, Any]:
    """Lift an exception: automatic remediation (with fresh attempts) resumes."""
    try:
        operations.lift_exception(gov, who.actor, rule, resource_id, at)
    except LookupError:
        raise not_found(f"exception {rule}/{resource_id}") from None
    return {"deleted": f"{rule}/{resource_id}"}


@router.get("/runbook-executions/{execution_id}")
def execution_view(execution_id: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
    """A runbook execution with its steps (statuses as reference §9)."""
    found = views.execution(session, execution_id)
    if found is None:
        raise not_found(f"runbook execution {execution_id}")
    return asdict(found)
