"""Plain values of commands, invocations and their reports, as the command use cases and
their ports exchange them (attribute names as the stored rows have them, so the server's
views render either)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from patchwarden.core.report import Report


@dataclass(frozen=True)
class CommandSpec:
    """A command to store, with its rate control resolved against its target count."""

    document_name: str
    parameters: dict[str, Any]
    targets: dict[str, Any]
    comment: str
    max_concurrency: str
    max_errors: str
    concurrency_limit: int
    error_limit: int
    timeout_seconds: int
    execution_timeout_seconds: int
    target_count: int
    requested_at: datetime
    created_by: str


@dataclass(frozen=True)
class InvocationSpec:
    """One invocation to store; ``pinned``: its baseline was resolved at send time (else at
    delivery, and ``baseline``/``baseline_source`` are not stored)."""

    node_id: str
    pinned: bool = False
    baseline: dict[str, Any] | None = None
    baseline_source: str = ""


@dataclass(frozen=True)
class CommandRecord:
    """A stored command with its rolled-up status."""

    id: str
    document_name: str
    parameters: dict[str, Any]
    targets: dict[str, Any]
    comment: str
    max_concurrency: str
    max_errors: str
    timeout_seconds: int
    execution_timeout_seconds: int
    status: str
    status_details: str
    target_count: int
    completed_count: int
    error_count: int
    delivery_timed_out_count: int
    requested_at: datetime
    created_by: str
    cancel_requested: bool


@dataclass(frozen=True)
class InvocationRecord:
    """A stored invocation (one command on one node)."""

    id: str
    command_id: str
    node_id: str
    status: str
    status_details: str
    baseline: dict[str, Any] | None
    baseline_source: str
    response_code: int | None
    output: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    claimed_by: str | None
    deliveries: int


@dataclass(frozen=True)
class InvocationState:
    """What reporting a result needs of the (locked) invocation."""

    id: str
    node_id: str
    command_id: str
    status: str
    started_at: datetime | None


@dataclass(frozen=True)
class ReportedResult:
    """What the agent says when an invocation ends."""

    status: str
    response_code: int | None
    output: str
    report: Report | None = None
    """The compliance report, read back into the type the CLI renders."""


@dataclass(frozen=True)
class FinishedInvocation:
    """The final state to store on an invocation."""

    status: str
    status_details: str
    output: str
    response_code: int | None
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True)
class ComplianceReport:
    """A node's patch compliance: the RunPatchBaseline report it sent, and which command."""

    report: Report
    command_id: str


@dataclass(frozen=True)
class ReportOutcome:
    """The answer to a report: whether it was the final status, and the statuses now."""

    accepted: bool
    status: str
    command_status: str
