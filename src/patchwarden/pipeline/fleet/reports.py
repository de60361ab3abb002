"""A node reports the end of one of its invocations: the first final status stays, the
output is capped, a scan report becomes the node's patch compliance, and the command's
status is rolled up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from patchwarden.core.rollout import InvocationStatus
from patchwarden.pipeline.fleet.command_records import (
    ComplianceReport,
    FinishedInvocation,
    ReportedResult,
    ReportOutcome,
)
from patchwarden.pipeline.fleet.errors import Forbidden, NotFound
from patchwarden.pipeline.fleet.ports import InvocationReports

MAX_OUTPUT = 24_000
"""Characters of output kept per invocation (SSM keeps 24,000 in the API)."""


def report_result(
    invocations: InvocationReports,
    node_id: str,
    invocation_id: str,
    result: ReportedResult,
    at: datetime,
    compliance_changed: Callable[[], None],
) -> ReportOutcome:
    """Record ``node_id``'s result of its invocation; reporting again is harmless.
    ``compliance_changed`` runs once a report has replaced the node's compliance."""
    found = invocations.lock(invocation_id)
    if found is None:
        raise NotFound(f"invocation {invocation_id}")
    if found.node_id != node_id:
        raise Forbidden("this invocation belongs to another node")
    accepted = not InvocationStatus(found.status).terminal
    status = found.status
    if accepted:
        status = result.status
        details = "Execution Timed Out" if result.status == "TimedOut" else result.status
        finished = FinishedInvocation(
            status=result.status,
            status_details=details,
            output=result.output[:MAX_OUTPUT],
            response_code=result.response_code,
            started_at=found.started_at or at,
            finished_at=at,
        )
        invocations.finish(invocation_id, finished)
    if result.report is not None:
        invocations.save_compliance(node_id, ComplianceReport(result.report, found.command_id), at)
        compliance_changed()
    command_status = invocations.roll_up(found.command_id, at)
    return ReportOutcome(accepted, status, command_status)
