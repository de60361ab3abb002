"""Read models of remediation for the API (field names as the API shows them): runs with
their execution's status, states per (rule, resource), exceptions, and runbook executions
with their steps (statuses as reference §9)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.governance_tables import (
    RemediationConfigRow,
    RemediationExceptionRow,
    RemediationExecutionRow,
    RemediationStateRow,
    RunbookExecutionRow,
    StepExecutionRow,
)


@dataclass(frozen=True)
class RunView:
    """One remediation run."""

    id: str
    rule: str
    resource_id: str
    manual: bool
    status: str
    message: str
    execution_id: str | None
    execution_status: str | None
    created_by: str
    created_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class StateView:
    """Where a (rule, resource) stands."""

    rule: str
    resource_id: str
    phase: str
    attempts: int
    due_at: str | None


@dataclass(frozen=True)
class PendingView:
    """An automatic run the server will start on its own: at ``due_at`` (MARKED), or as
    soon as the execution controls admit it (QUEUED)."""

    rule: str
    resource_id: str
    runbook: str
    phase: str
    due_at: str | None
    attempt: int


@dataclass(frozen=True)
class ExceptionView:
    """A RemediationException."""

    rule: str
    resource_id: str
    reason: str
    manual: bool
    expires_at: datetime | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class StepView:
    """One step of a runbook execution."""

    name: str
    action: str
    status: str
    attempts: int
    message: str
    outputs: Mapping[str, Any]
    waiting: Mapping[str, Any]
    started_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True)
class ExecutionView:
    """A runbook execution with its steps."""

    id: str
    runbook: str
    status: str
    message: str
    parameters: Mapping[str, Any]
    outputs: Mapping[str, Any]
    started_at: datetime
    ended_at: datetime | None
    created_by: str
    steps: tuple[StepView, ...]


def _run_view(session: Session, run: RemediationExecutionRow) -> RunView:
    execution = session.get(RunbookExecutionRow, run.execution_id) if run.execution_id else None
    message = run.message or (execution.state.get("message", "") if execution else "")
    return RunView(
        id=run.id,
        rule=run.rule,
        resource_id=run.resource_id,
        manual=run.manual,
        status=run.status,
        message=message,
        execution_id=run.execution_id,
        execution_status=execution.status if execution else None,
        created_by=run.created_by,
        created_at=run.created_at,
        ended_at=run.ended_at,
    )


def run(session: Session, run_id: str) -> RunView | None:
    """One remediation run."""
    found = session.get(RemediationExecutionRow, run_id)
    return _run_view(session, found) if found else None


def runs(session: Session, rule: str | None, resource_id: str | None, limit: int) -> list[RunView]:
    """Remediation runs, newest first, at most ``limit`` (1 to 1,000)."""
    query = select(RemediationExecutionRow).order_by(RemediationExecutionRow.created_at.desc())
    if rule:
        query = query.where(RemediationExecutionRow.rule == rule)
    if resource_id:
        query = query.where(RemediationExecutionRow.resource_id == resource_id)
    found = session.scalars(query.limit(max(1, min(limit, 1000))))
    return [_run_view(session, r) for r in found]


def states(session: Session, rule: str | None, resource_id: str | None) -> list[StateView]:
    """The state of every (rule, resource), by rule and resource."""
    query = select(RemediationStateRow).order_by(
        RemediationStateRow.rule, RemediationStateRow.resource_id
    )
    if rule:
        query = query.where(RemediationStateRow.rule == rule)
    if resource_id:
        query = query.where(RemediationStateRow.resource_id == resource_id)
    return [
        StateView(s.rule, s.resource_id, s.phase, s.state.get("attempts", 0), s.state.get("due_at"))
        for s in session.scalars(query)
    ]


def pending(session: Session, rule: str | None, resource_id: str | None) -> list[PendingView]:
    """Automatic runs not started yet, soonest first: marked (due at a time) or queued
    behind the execution controls.  Marks of a manual remediation, or under an exception,
    start nothing and are left out."""
    query = (
        select(RemediationStateRow, RemediationConfigRow)
        .join(RemediationConfigRow, RemediationConfigRow.rule == RemediationStateRow.rule)
        .where(RemediationStateRow.phase.in_(("MARKED", "QUEUED")))
    )
    if rule:
        query = query.where(RemediationStateRow.rule == rule)
    if resource_id:
        query = query.where(RemediationStateRow.resource_id == resource_id)
    found = []
    for state, config in session.execute(query).all():
        raw = state.state
        if not config.config.get("Automatic") or raw.get("in_exception"):
            continue
        if state.phase == "QUEUED" and raw.get("manual_run"):
            continue
        attempt = int(raw.get("attempts", 0)) + 1
        due = raw.get("due_at") if state.phase == "MARKED" else None
        found.append(
            PendingView(state.rule, state.resource_id, config.runbook, state.phase, due, attempt)
        )
    return sorted(found, key=lambda p: (p.due_at or "", p.rule, p.resource_id))


def exceptions(session: Session, rule: str | None) -> list[ExceptionView]:
    """RemediationExceptions (of one rule, or all), by rule."""
    query = select(RemediationExceptionRow).order_by(RemediationExceptionRow.rule)
    if rule:
        query = query.where(RemediationExceptionRow.rule == rule)
    return [
        ExceptionView(
            e.rule, e.resource_id, e.reason, e.manual, e.expires_at, e.created_by, e.created_at
        )
        for e in session.scalars(query)
    ]


def execution_of(session: Session, run_id: str) -> str:
    """The runbook execution of a run; ``run_id`` itself when it names no run (the API
    takes either)."""
    found = session.get(RemediationExecutionRow, run_id)
    return str(found.execution_id) if found else run_id


def execution(session: Session, execution_id: str) -> ExecutionView | None:
    """A runbook execution with its steps, in runbook order."""
    row = session.get(RunbookExecutionRow, execution_id)
    if row is None:
        return None
    steps = session.scalars(
        select(StepExecutionRow)
        .where(StepExecutionRow.execution_id == row.id)
        .order_by(StepExecutionRow.position)
    )
    return ExecutionView(
        id=row.id,
        runbook=row.runbook,
        status=row.status,
        message=row.state.get("message", ""),
        parameters=row.state.get("parameters", {}),
        outputs=row.state.get("variables", {}),
        started_at=row.started_at,
        ended_at=row.ended_at,
        created_by=row.created_by,
        steps=tuple(
            StepView(
                s.step,
                s.action,
                s.status,
                s.attempts,
                s.message,
                s.outputs,
                s.waiting,
                s.started_at,
                s.ended_at,
            )
            for s in steps
        ),
    )
