"""``/api/v1/agent``: a node long-polls for its own invocations and reports their results."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from patchwarden.adapters.storage.reports import SqlInvocationReports
from patchwarden.pipeline.fleet import command_records, reports
from patchwarden.render.json_decode import report_from_dict
from patchwarden.server import governance
from patchwarden.server.auth import NodeCaller, refusals
from patchwarden.server.db import Slot, committed, database, settings
from patchwarden.server.errors import ApiError
from patchwarden.server.fleet import claims
from patchwarden.server.fleet.polling import next_work, polling
from patchwarden.server.outcomes import answered
from patchwarden.server.refusals import ACCESS, claimed, source_of
from patchwarden.server.schemas import Body

router = APIRouter(prefix="/api/v1/agent", tags=["agent"])


@router.get("/commands", response_class=JSONResponse)
async def poll_commands(
    request: Request,
    who: NodeCaller,
    wait: Annotated[float, Query(ge=0, le=60, description="seconds to wait for work")] = 0,
) -> JSONResponse:
    """The caller's invocations to run (long-poll: waits up to ``wait`` seconds).

    A poll without work reads no database: the node's credential comes from the process's
    node cache and "any work?" from its work board (:mod:`patchwarden.server.fleet.board`), which
    also wakes waiting polls.  Only a node with work claims, in a write transaction.
    """
    conf, db = settings(request), database(request)
    found = await next_work(
        polling(request).board,
        who.id,
        min(wait, conf.long_poll_seconds),
        lambda: claims.claim_one(db, conf, who.id),
        request.is_disconnected,
    )
    return JSONResponse({"invocations": found})


class ReportedResult(Body):
    """What the agent says when an invocation ends."""

    status: Literal["Success", "Failed", "TimedOut"]
    response_code: int | None = None
    output: str = Field(default="", max_length=1_000_000)
    report: dict[str, Any] | None = None


@router.post("/invocations/{invocation_id}", response_model=None)
async def report_result(
    request: Request,
    invocation_id: str,
    body: ReportedResult,
    who: NodeCaller,
    _: Slot,
) -> dict[str, Any]:
    """Record the final status, output and compliance report of the caller's invocation.
    Reporting again is harmless: the first final status stays.  The command's rollup is
    refreshed here unless another transaction holds the command (a claim or a report of
    another node): then that command's next claim, report or sweep rolls it up.  Another
    node's invocation is refused 403 and recorded as ``access.refused``.

    The report is one transaction on one worker thread (not a thread per dependency):
    every node of a fleet-wide command reports within seconds, and under that load each
    hop to a worker thread waited for the interpreter."""
    db, at = database(request), settings(request).clock.now()

    def record() -> command_records.ReportOutcome:
        report = None if body.report is None else report_from_dict(body.report)  # 400
        result = command_records.ReportedResult(
            body.status, body.response_code, body.output, report
        )
        with committed(db) as session, answered():
            return reports.report_result(
                SqlInvocationReports(session),
                who.id,
                invocation_id,
                result,
                at,
                lambda: governance.changed(session, who.id, at),  # change-triggered rules
            )

    try:
        outcome = await run_in_threadpool(record)
    except ApiError as exc:
        if exc.status == 403:  # another node's invocation
            refusals(request).refused(
                source_of(request), ACCESS, claimed("node", who.id), exc.status, exc.code
            )
        raise
    return {
        "accepted": outcome.accepted,
        "status": outcome.status,
        "command_status": outcome.command_status,
    }
