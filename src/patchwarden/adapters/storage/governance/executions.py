"""Runbook executions: the :class:`~patchwarden.pipeline.governance.ports.ExecutionStore`
over ``gov_runbook_executions`` (the interpreter state as JSON, the runbook as it was) and
``gov_step_executions`` (one row per step, with what it waits for)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.governance.codec import execution_from_json, execution_to_json
from patchwarden.adapters.storage.governance_tables import RunbookExecutionRow, StepExecutionRow
from patchwarden.adapters.storage.secrets import new_uuid
from patchwarden.core.runbook import Execution
from patchwarden.pipeline.governance.records import ACTIVE, StoredExecution, StoredRunbook


class SqlExecutions:
    """Runbook executions of one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        runbook: StoredRunbook,
        steps: Sequence[tuple[str, str]],
        execution: Execution,
        actor: str,
        at: datetime,
    ) -> str:
        """A new execution with its (step, action) rows, Pending; its id."""
        row = RunbookExecutionRow(
            id=new_uuid(),
            runbook=runbook.name,
            status=execution.status.value,
            document=dict(runbook.document),
            state=execution_to_json(execution),
            created_by=actor,
            started_at=at,
            ended_at=None,
        )
        self.session.add(row)
        for position, (name, action) in enumerate(steps):
            self.session.add(
                StepExecutionRow(
                    execution_id=row.id,
                    step=name,
                    position=position,
                    action=action,
                    status="Pending",
                    attempts=0,
                    message="",
                    outputs={},
                    waiting={},
                    started_at=None,
                    ended_at=None,
                )
            )
        self.session.flush()
        return row.id

    def row(self, execution_id: str) -> RunbookExecutionRow | None:
        """The stored row (for shells that read it directly)."""
        return self.session.get(RunbookExecutionRow, execution_id)

    def get(self, execution_id: str, *, lock: bool = False) -> StoredExecution | None:
        """An execution (``lock``: its row locked until the transaction ends, and read
        again under the lock even when this session had loaded it)."""
        row = self.session.get(
            RunbookExecutionRow, execution_id, populate_existing=lock, with_for_update=lock or None
        )
        if row is None:
            return None
        execution = execution_from_json(row.state)
        return StoredExecution(row.id, row.runbook, row.document["spec"], execution)

    def save(self, execution_id: str, execution: Execution) -> None:
        """The interpreter state and every step's status (done steps stop waiting)."""
        row = self.session.get(RunbookExecutionRow, execution_id)
        assert row is not None, execution_id
        row.state, row.status = execution_to_json(execution), execution.status.value
        row.ended_at = execution.ended_at
        steps = select(StepExecutionRow).where(StepExecutionRow.execution_id == execution_id)
        for step in self.session.scalars(steps):
            run = execution.steps[step.step]
            step.status, step.attempts, step.message = run.status.value, run.attempts, run.message
            step.outputs, step.started_at, step.ended_at = (
                dict(run.outputs),
                run.started_at,
                run.ended_at,
            )
            if run.status.done:
                step.waiting = {}
        self.session.flush()

    def _step(self, execution_id: str, step: str) -> StepExecutionRow:
        found = self.session.get(StepExecutionRow, (execution_id, step))
        assert found is not None, (execution_id, step)
        return found

    def waiting(self, execution_id: str, step: str) -> Mapping[str, Any]:
        """What a step waits for (a command, approvals, compliance, a webhook)."""
        return dict(self._step(execution_id, step).waiting or {})

    def set_waiting(self, execution_id: str, step: str, waiting: Mapping[str, Any]) -> None:
        """Remember what a step waits for."""
        self._step(execution_id, step).waiting = dict(waiting)

    def claim_active(self) -> list[str]:
        """Ids of active executions, locked (replicas advance each execution once)."""
        query = (
            select(RunbookExecutionRow.id)
            .where(RunbookExecutionRow.status.in_(ACTIVE))
            .order_by(RunbookExecutionRow.started_at, RunbookExecutionRow.id)
            .with_for_update(skip_locked=True)
        )
        return list(self.session.scalars(query).all())
