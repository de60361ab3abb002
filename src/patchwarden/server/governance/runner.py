"""The runbook runner: persists executions and turns the interpreter's actions into effects
through the existing machinery (commands to agents, tag edits, webhooks via httpx).  The
interpreter decides; the runner only performs and reports back events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.governance_tables import (
    RunbookExecutionRow,
    RunbookRow,
    StepExecutionRow,
)
from patchwarden.adapters.storage.secrets import new_uuid
from patchwarden.core.runbook import (
    ApprovalGiven,
    TimerFired,
    Transition,
    handle,
    parse_runbook,
)
from patchwarden.core.runbook import (
    start as begin,
)
from patchwarden.errors import InputError
from patchwarden.server import audit
from patchwarden.server.governance import effects, store
from patchwarden.server.governance.codec import execution_from_json, execution_to_json

ACTIVE = ("InProgress", "Waiting", "Pending")


def start(
    session: Session, name: str, parameters: Mapping[str, object], at: datetime, actor: str
) -> RunbookExecutionRow:
    """Start runbook ``name``: InputError for an unknown runbook or bad parameters."""
    row = session.get(RunbookRow, name)
    if row is None:
        raise InputError(f"runbook {name!r} does not exist")
    book = parse_runbook(name, row.document["spec"])
    transition = begin(book, parameters, at, allow_shell=store.shell_enabled(session))
    execution = RunbookExecutionRow(
        id=new_uuid(),
        runbook=name,
        status=transition.execution.status.value,
        document=row.document,
        state={},
        created_by=actor,
        started_at=at,
        ended_at=None,
    )
    session.add(execution)
    for position, step in enumerate(book.steps):
        session.add(
            StepExecutionRow(
                execution_id=execution.id,
                step=step.name,
                position=position,
                action=step.action,
                status="Pending",
                attempts=0,
                message="",
                outputs={},
                waiting={},
                started_at=None,
                ended_at=None,
            )
        )
    audit.record(
        session,
        actor,
        "runbook.start",
        f"{name}/{execution.id}",
        at,
        {"parameters": dict(parameters)},
    )
    _apply(session, execution, transition, at)
    return execution


def _apply(
    session: Session, row: RunbookExecutionRow, transition: Transition, at: datetime
) -> None:
    """Persist a transition, perform its actions and feed immediate outcomes back."""
    book = parse_runbook(row.runbook, row.document["spec"])
    pending: list[Transition] = [transition]
    while pending:
        current = pending.pop(0)
        _persist(session, row, current, at)
        for action in current.actions:
            event = effects.perform(session, row, action, at)
            if event is not None:
                pending.append(handle(book, execution_from_json(row.state), event, at))
                break  # the new transition carries the remaining actions of its own
    if row.status not in ACTIVE:
        from patchwarden.server.governance import remediate

        remediate.executed(session, row.id, row.status == "Success", at)


def _persist(
    session: Session, row: RunbookExecutionRow, transition: Transition, at: datetime
) -> None:
    execution = transition.execution
    row.state, row.status = execution_to_json(execution), execution.status.value
    row.ended_at = execution.ended_at
    for step in session.scalars(
        select(StepExecutionRow).where(StepExecutionRow.execution_id == row.id)
    ):
        run = execution.steps[step.step]
        step.status, step.attempts, step.message = run.status.value, run.attempts, run.message
        step.outputs, step.started_at, step.ended_at = (
            dict(run.outputs),
            run.started_at,
            run.ended_at,
        )
        if run.status.done:
            step.waiting = {}
    session.flush()


def tick(session: Session, at: datetime) -> int:
    """Advance every active execution: finished commands, compliance reached, timers."""
    active = session.scalars(
        select(RunbookExecutionRow)
        .where(RunbookExecutionRow.status.in_(ACTIVE))
        .with_for_update(skip_locked=True)  # replicas: one advances each execution
    ).all()
    for row in active:
        book = parse_runbook(row.runbook, row.document["spec"])
        event = effects.check(session, row, at)
        if event is not None:
            _apply(session, row, handle(book, execution_from_json(row.state), event, at), at)
        if row.status in ACTIVE:
            _apply(session, row, handle(book, execution_from_json(row.state), TimerFired(), at), at)
    return len(active)


def approve(
    session: Session, execution_id: str, approver: str, approved: bool, comment: str, at: datetime
) -> RunbookExecutionRow:
    """An operator's approval (or rejection) of the waiting ``approve`` step."""
    row = session.get(RunbookExecutionRow, execution_id)
    if row is None:
        raise LookupError(execution_id)
    execution = execution_from_json(row.state)
    if (
        execution.current is None
        or effects.step_row(session, row, execution.current).action != "approve"
    ):
        raise InputError(f"execution {execution_id} is not waiting for an approval")
    book = parse_runbook(row.runbook, row.document["spec"])
    event = ApprovalGiven(execution.current, approver, approved, comment)
    _apply(session, row, handle(book, execution, event, at), at)
    return row
