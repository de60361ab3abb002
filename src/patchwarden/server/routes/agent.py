"""``/api/v1/agent``: a node long-polls for its own invocations and reports their results."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import Field
from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from patchwarden.adapters.storage import dispatch
from patchwarden.adapters.storage.tables import Command, ComplianceRecord, Invocation, Node
from patchwarden.core.rollout import InvocationStatus
from patchwarden.server import governance
from patchwarden.server.auth import NodeCaller, Principal
from patchwarden.server.commands import resolver
from patchwarden.server.db import Now, WriteDB, database, settings
from patchwarden.server.errors import ApiError, not_found
from patchwarden.server.schemas import Body
from patchwarden.server.wakeup import Waiters

router = APIRouter(prefix="/api/v1/agent", tags=["agent"])
MAX_OUTPUT = 24_000
"""Characters of output kept per invocation (SSM keeps 24,000 in the API)."""


def _delivery(inv: Invocation, cmd: Command) -> dict[str, Any]:
    params = {k: v for k, v in cmd.parameters.items() if k != "BaselineOverride"}
    return {
        "invocation_id": inv.id,
        "command_id": cmd.id,
        "document_name": cmd.document_name,
        "parameters": params,
        "baseline": inv.baseline,
        "baseline_source": inv.baseline_source,
        "execution_timeout_seconds": cmd.execution_timeout_seconds,
    }


SEEN_WRITE_SECONDS = 60.0
"""A poll without work records the node's check-in at most this often (ping status has a
resolution of minutes): an idle poll is then two indexed reads and no write."""


def _claim(request: Request, node_id: str) -> list[dict[str, Any]]:
    conf = settings(request)
    with database(request).write() as session, session.begin():
        now = conf.clock()
        node = session.get(Node, node_id)
        assert node is not None
        node.last_seen_at = now
        invs = dispatch.claim(session, node, now, conf.replica_id, resolver)
        out = []
        for inv in invs:
            cmd = session.get(Command, inv.command_id)
            assert cmd is not None
            out.append(_delivery(inv, cmd))
        return out


def _has_work(request: Request, node_id: str) -> bool:
    """Whether the node has an invocation to claim or to be handed again (one indexed read)."""
    with database(request).read() as session:
        found = session.scalar(
            select(Invocation.id)
            .where(Invocation.node_id == node_id, Invocation.status.in_(dispatch.ACTIVE))
            .limit(1)
        )
        return found is not None


def _touch(request: Request, node_id: str) -> None:
    with database(request).write() as session, session.begin():
        session.execute(
            update(Node).where(Node.id == node_id).values(last_seen_at=settings(request).clock())
        )


def _poll_once(request: Request, who: Principal, touch: bool) -> list[dict[str, Any]]:
    if _has_work(request, who.id):
        return _claim(request, who.id)
    stale = who.seen_at is None or settings(request).clock() - who.seen_at >= timedelta(
        seconds=SEEN_WRITE_SECONDS
    )
    if touch and stale:
        _touch(request, who.id)
    return []


def _waiters(request: Request) -> Waiters:
    state = request.app.state
    found: Waiters | None = getattr(state, "long_poll_waiters", None)
    if found is None:
        found = state.long_poll_waiters = Waiters(
            database(request), settings(request).poll_check_interval
        )
    return found


@router.get("/commands")
async def poll_commands(
    request: Request,
    who: NodeCaller,
    wait: Annotated[float, Query(ge=0, le=60, description="seconds to wait for work")] = 0,
) -> dict[str, Any]:
    """The caller's invocations to run (long-poll: waits up to ``wait`` seconds).

    An idle poll costs two indexed reads (credential, "any work?") and no write; waiting
    polls are woken by one process-wide query per interval (:mod:`patchwarden.server.wakeup`).
    """
    conf = settings(request)
    deadline = time.monotonic() + min(wait, conf.long_poll_seconds)
    found = await run_in_threadpool(_poll_once, request, who, True)
    while not found:
        left = deadline - time.monotonic()
        if left <= 0 or await request.is_disconnected():
            break
        if await _waiters(request).wait(who.id, left):
            found = await run_in_threadpool(_poll_once, request, who, False)
    return {"invocations": found}


class ReportedResult(Body):
    """What the agent says when an invocation ends."""

    status: Literal["Success", "Failed", "TimedOut"]
    response_code: int | None = None
    output: str = Field(default="", max_length=1_000_000)
    report: dict[str, Any] | None = None


def _store_compliance(
    session: WriteDB, node: Node, inv: Invocation, report: dict[str, Any], at: datetime
) -> None:
    summary = report.get("summary")
    if report.get("compliance") not in ("COMPLIANT", "NON_COMPLIANT") or not isinstance(
        summary, dict
    ):
        raise ApiError(400, "invalid_request", "report: expected a scan report (report_dict)")
    generated = report.get("generated_at")
    record = session.get(ComplianceRecord, node.id) or ComplianceRecord(node_id=node.id)
    record.compliance = report["compliance"]
    record.severity = report.get("severity")
    record.baseline = str((report.get("baseline") or {}).get("name", ""))
    record.baseline_id = None
    record.snapshot_id = report.get("snapshot_id")
    record.operation = str(report.get("operation", ""))
    record.command_id = inv.command_id
    record.generated_at = (
        datetime.fromisoformat(generated.replace("Z", "+00:00")) if generated else None
    )
    record.reported_at = at
    record.summary = summary
    record.items = list(report.get("patches") or [])
    session.add(record)


@router.post("/invocations/{invocation_id}")
def report_result(
    invocation_id: str, body: ReportedResult, who: NodeCaller, session: WriteDB, at: Now
) -> dict[str, Any]:
    """Record the final status, output and compliance report of the caller's invocation.
    Reporting again is harmless: the first final status stays."""
    found = session.get(Invocation, invocation_id)
    if found is None:
        raise not_found(f"invocation {invocation_id}")
    if found.node_id != who.id:
        raise ApiError(403, "forbidden", "this invocation belongs to another node")
    cmd = dispatch.lock_command(session, found.command_id)
    assert cmd is not None
    session.refresh(found, with_for_update=True)
    node = session.get(Node, who.id)
    assert node is not None
    node.last_seen_at = at
    accepted = not InvocationStatus(found.status).terminal
    if accepted:
        found.status = found.status_details = body.status
        if body.status == "TimedOut":
            found.status_details = "Execution Timed Out"
        found.output = body.output[:MAX_OUTPUT]
        found.response_code = body.response_code
        found.finished_at = at
        found.started_at = found.started_at or at
    if body.report is not None:
        _store_compliance(session, node, found, body.report, at)
        governance.changed(session, node.id, at)  # change-triggered rules
    dispatch.refresh(session, cmd, at)
    return {"accepted": accepted, "status": found.status, "command_status": cmd.status}
