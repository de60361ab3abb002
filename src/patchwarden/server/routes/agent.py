"""``/api/v1/agent``: a node long-polls for its own invocations and reports their results."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy import select

from patchwarden.adapters.storage import dispatch
from patchwarden.adapters.storage.tables import Command, ComplianceRecord, Invocation, Node
from patchwarden.core.rollout import InvocationStatus
from patchwarden.server import governance
from patchwarden.server.auth import NodeCaller
from patchwarden.server.commands import resolver
from patchwarden.server.db import Now, WriteDB, database, settings
from patchwarden.server.errors import ApiError, not_found
from patchwarden.server.polling import QUIET, polling
from patchwarden.server.schemas import Body

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


def _claim(request: Request, node_id: str) -> list[dict[str, Any]]:
    conf = settings(request)
    with database(request).write() as session, session.begin():
        session.info[QUIET] = True  # the board spent this claim's budget already
        now = conf.clock()
        node = session.get(Node, node_id)
        assert node is not None
        invs = dispatch.claim(session, node, now, conf.replica_id, resolver)
        out = []
        for inv in invs:
            cmd = session.get(Command, inv.command_id)
            assert cmd is not None
            out.append(_delivery(inv, cmd))
        return out


@router.get("/commands", response_class=JSONResponse)
async def poll_commands(
    request: Request,
    who: NodeCaller,
    wait: Annotated[float, Query(ge=0, le=60, description="seconds to wait for work")] = 0,
) -> JSONResponse:
    """The caller's invocations to run (long-poll: waits up to ``wait`` seconds).

    A poll without work reads no database: the node's credential comes from the process's
    node cache and "any work?" from its work board (:mod:`patchwarden.server.board`), which
    also wakes waiting polls.  Only a node with work claims, in a write transaction.
    """
    board = polling(request).board
    deadline = time.monotonic() + min(wait, settings(request).long_poll_seconds)
    found: list[dict[str, Any]] = []
    if await board.take(who.id):
        found = await board.claim(lambda: _claim(request, who.id))
    while not found:
        left = deadline - time.monotonic()
        if left <= 0 or await request.is_disconnected():
            break
        if await board.wait(who.id, left):
            found = await board.claim(lambda: _claim(request, who.id))
    if found:
        board.claimed(who.id)
    return JSONResponse({"invocations": jsonable_encoder(found)})


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


@router.post("/invocations/{invocation_id}", response_model=None)
def report_result(
    invocation_id: str, body: ReportedResult, who: NodeCaller, session: WriteDB, at: Now
) -> dict[str, Any]:
    """Record the final status, output and compliance report of the caller's invocation.
    Reporting again is harmless: the first final status stays.  The command's rollup is
    refreshed here unless another transaction holds the command (a claim or a report of
    another node): then that command's next claim, report or sweep rolls it up."""
    locked = select(Invocation).where(Invocation.id == invocation_id).with_for_update()
    found = session.scalar(locked)
    if found is None:
        raise not_found(f"invocation {invocation_id}")
    if found.node_id != who.id:
        raise ApiError(403, "forbidden", "this invocation belongs to another node")
    node = session.get(Node, who.id)
    assert node is not None
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
    cmd = dispatch.lock_command(session, found.command_id, wait=False)
    if cmd is not None:
        dispatch.refresh(session, cmd, at)
    else:  # busy: its rollup as it stands
        cmd = session.get(Command, found.command_id)
        assert cmd is not None
    return {"accepted": accepted, "status": found.status, "command_status": cmd.status}
