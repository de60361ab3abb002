"""Remediation in the server: the core state machine per (rule, resource) kept in
``gov_remediation_states``; runs start as runbook executions, within the configuration's
execution controls; exceptions are rows of their own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.governance_tables import (
    RemediationExceptionRow,
    RemediationExecutionRow,
    RemediationStateRow,
    ResourceComplianceRow,
)
from patchwarden.adapters.storage.secrets import new_uuid
from patchwarden.core import remediation as machine
from patchwarden.core.remediation import Decision, Phase, RecordException, RemediationConfig
from patchwarden.errors import PatchwardenError
from patchwarden.server.governance import store
from patchwarden.server.governance.codec import state_from_json, state_to_json

SYSTEM = "system:remediation"


def _row(session: Session, rule: str, node_id: str, at: datetime) -> RemediationStateRow:
    row = session.get(RemediationStateRow, (rule, node_id))
    if row is None:
        row = RemediationStateRow(
            rule=rule, resource_id=node_id, phase="IDLE", state={}, updated_at=at
        )
        session.add(row)
    return row


def _save(
    session: Session,
    row: RemediationStateRow,
    state: machine.RemediationState,
    decisions: Sequence[Decision],
    at: datetime,
    actor: str = SYSTEM,
) -> None:
    row.state, row.phase, row.updated_at = state_to_json(state), state.phase.value, at
    for decision in decisions:
        if isinstance(decision, RecordException):
            found = session.get(RemediationExceptionRow, (row.rule, row.resource_id))
            if found is None:
                found = RemediationExceptionRow(rule=row.rule, resource_id=row.resource_id)
                session.add(found)
            found.reason, found.manual, found.expires_at = (
                decision.reason,
                decision.manual,
                decision.until,
            )
            found.created_by, found.created_at = actor, at
    if not state.in_exception:
        found = session.get(RemediationExceptionRow, (row.rule, row.resource_id))
        if found is not None:
            session.delete(found)
    session.flush()


def observe(session: Session, rule: str, node_id: str, compliance: str, at: datetime) -> None:
    """A new evaluation: marks, unmarks or records an exception (no run starts here)."""
    config = store.remediation(session, rule)
    if config is None:
        return
    row = _row(session, rule, node_id, at)
    state, decisions = machine.observe(config, state_from_json(row.state), compliance, at)
    _save(session, row, state, decisions, at)


def tick(session: Session, at: datetime) -> int:
    """Due marks become queued runs, expired exceptions lift; queued runs start within the
    execution controls.  Returns the number of runs started."""
    phases = [Phase.MARKED.value, Phase.EXCEPTION.value]
    for row in session.scalars(
        select(RemediationStateRow)
        .where(RemediationStateRow.phase.in_(phases))
        .with_for_update(skip_locked=True)  # replicas: each row is handled by one of them
    ).all():
        config = store.remediation(session, row.rule)
        if config is not None:
            state, decisions = machine.tick(config, state_from_json(row.state), at)
            _save(session, row, state, decisions, at)
    started = 0
    queued = select(RemediationStateRow).where(RemediationStateRow.phase == Phase.QUEUED.value)
    by_rule: dict[str, list[RemediationStateRow]] = {}
    queued = queued.order_by(RemediationStateRow.updated_at).with_for_update(skip_locked=True)
    for row in session.scalars(queued).all():
        by_rule.setdefault(row.rule, []).append(row)
    for rule, rows in by_rule.items():
        config = store.remediation(session, rule)
        if config is None:
            continue
        allowed = machine.admit(config, *_counts(session, rule), queued=len(rows))
        for row in rows[:allowed]:
            start(session, config, row, at, SYSTEM)
            started += 1
    return started


def _counts(session: Session, rule: str) -> tuple[int, int, int]:
    """(targets in scope with a verdict, runs in progress, resources failed or excepted)."""
    verdicts = ("COMPLIANT", "NON_COMPLIANT")
    targets = session.scalar(
        select(func.count())
        .select_from(ResourceComplianceRow)
        .where(ResourceComplianceRow.rule == rule, ResourceComplianceRow.compliance.in_(verdicts))
    )

    def phase_count(*phases: Phase) -> int:
        query = (
            select(func.count())
            .select_from(RemediationStateRow)
            .where(
                RemediationStateRow.rule == rule,
                RemediationStateRow.phase.in_([p.value for p in phases]),
            )
        )
        return int(session.scalar(query) or 0)

    return (
        int(targets or 0),
        phase_count(Phase.IN_PROGRESS),
        phase_count(Phase.FAILED, Phase.EXCEPTION),
    )


def start(
    session: Session, config: RemediationConfig, row: RemediationStateRow, at: datetime, actor: str
) -> RemediationExecutionRow:
    """Start the configured runbook for a queued (rule, resource)."""
    from patchwarden.server.governance import runner

    state = state_from_json(row.state)
    run = RemediationExecutionRow(
        id=new_uuid(),
        rule=row.rule,
        resource_id=row.resource_id,
        execution_id=None,
        manual=state.manual_run,
        status="IN_PROGRESS",
        message="",
        created_by=actor,
        created_at=at,
        ended_at=None,
    )
    session.add(run)
    _save(session, row, machine.started(state, at), (), at)
    try:
        execution = runner.start(
            session, config.runbook, config.runbook_parameters(row.resource_id), at, actor
        )
    except PatchwardenError as exc:
        run.status, run.message, run.ended_at = "FAILED", str(exc), at
        finish(session, run, False, at)
        return run
    run.execution_id = execution.id
    session.flush()
    if execution.status not in ("InProgress", "Waiting", "Pending"):
        executed(session, execution.id, execution.status == "Success", at)
    return run


def start_manual(
    session: Session, rule: str, node_id: str, at: datetime, actor: str
) -> RemediationExecutionRow:
    """``remediation start``: an operator's run, now (not counted as an automatic attempt)."""
    config = store.remediation(session, rule)
    if config is None:
        raise PatchwardenError(f"rule {rule!r} has no remediation configuration")
    row = _row(session, rule, node_id, at)
    state, decisions = machine.start_manual(state_from_json(row.state))
    if not decisions:
        raise PatchwardenError(f"a remediation of {rule!r} on {node_id} is already running")
    _save(session, row, state, decisions, at)
    return start(session, config, row, at, actor)


def executed(session: Session, execution_id: str, succeeded: bool, at: datetime) -> None:
    """A runbook execution started by remediation ended."""
    run = session.scalar(
        select(RemediationExecutionRow).where(RemediationExecutionRow.execution_id == execution_id)
    )
    if run is None or run.ended_at is not None:
        return
    run.status, run.ended_at = ("SUCCEEDED" if succeeded else "FAILED"), at
    finish(session, run, succeeded, at)


def finish(session: Session, run: RemediationExecutionRow, succeeded: bool, at: datetime) -> None:
    """Feed the outcome to the state machine (it may record an exception)."""
    config = store.remediation(session, run.rule)
    row = _row(session, run.rule, run.resource_id, at)
    if config is None:
        return
    state, decisions = machine.finished(config, state_from_json(row.state), succeeded, at)
    _save(session, row, state, decisions, at)


def accept_risk(
    session: Session,
    rule: str,
    node_id: str,
    reason: str,
    until: datetime | None,
    at: datetime,
    actor: str,
) -> None:
    """A manual RemediationException (time-boxed risk acceptance)."""
    row = _row(session, rule, node_id, at)
    state, decisions = machine.accept_risk(state_from_json(row.state), reason, until, at)
    _save(session, row, state, decisions, at, actor)


def clear_exception(session: Session, rule: str, node_id: str, at: datetime) -> bool:
    """Delete an exception; False when there was none."""
    row = session.get(RemediationStateRow, (rule, node_id))
    config = store.remediation(session, rule)
    if row is None or session.get(RemediationExceptionRow, (rule, node_id)) is None:
        return False
    state = state_from_json(row.state)
    if config is not None:
        state, decisions = machine.clear_exception(config, state, at)
        _save(session, row, state, decisions, at)
    else:
        session.delete(session.get(RemediationExceptionRow, (rule, node_id)))
    return True
