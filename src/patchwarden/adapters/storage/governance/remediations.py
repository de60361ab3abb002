"""Remediation: the :class:`~patchwarden.pipeline.governance.ports.RemediationStore` over
``gov_remediation_states`` (the state machine per (rule, resource), as JSON),
``gov_remediation_exceptions`` and ``gov_remediation_executions``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.engine import sqlstate
from patchwarden.adapters.storage.governance.codec import state_from_json, state_to_json
from patchwarden.adapters.storage.governance_tables import (
    RemediationExceptionRow,
    RemediationExecutionRow,
    RemediationStateRow,
)
from patchwarden.adapters.storage.secrets import new_uuid
from patchwarden.core.remediation import Phase, RecordException, RemediationState
from patchwarden.pipeline.governance.records import RemediationRun, Tracked

CHUNK = 1000
"""Ids per ``IN (…)`` (SQLite and PostgreSQL both take far more parameters)."""
LOCK_NOT_AVAILABLE = "55P03"
"""PostgreSQL's SQLSTATE for ``NOWAIT`` on a row another transaction holds."""


def _run(row: RemediationExecutionRow) -> RemediationRun:
    return RemediationRun(
        row.id, row.rule, row.resource_id, row.execution_id, row.ended_at is not None
    )


class SqlRemediations:
    """Remediation states, exceptions and runs of one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def state(self, rule: str, resource_id: str) -> RemediationState | None:
        """The stored state (``None``: never tracked), locked until the transaction ends.

        Every caller changes it (read, step the machine, save): a concurrent change — the
        tick starting a run while a report's evaluation observes the node — waits for the
        other transaction and steps from its outcome instead of overwriting it."""
        row = self.session.get(
            RemediationStateRow, (rule, resource_id), populate_existing=True, with_for_update=True
        )
        return state_from_json(row.state) if row else None

    def save(self, rule: str, resource_id: str, state: RemediationState, at: datetime) -> None:
        """Create or replace the state."""
        row = self.session.get(RemediationStateRow, (rule, resource_id))
        if row is None:
            row = RemediationStateRow(rule=rule, resource_id=resource_id)
            self.session.add(row)
        row.state, row.phase, row.updated_at = state_to_json(state), state.phase.value, at
        self.session.flush()

    def claim(self, phases: Collection[Phase]) -> list[Tracked]:
        """States in ``phases``, oldest change first, each resource's states all locked
        (rule by rule); a resource another transaction holds a state of is skipped, never
        waited for: another replica's tick has it, or a node's report is evaluating it.

        Locking every state of the resource keeps the one lock order (resource, then rule):
        a run started now may re-evaluate its node (an ``addTags`` step), and that
        evaluation then waits for no state (a report holding a lower rule's state while
        waiting for a claimed one would otherwise close a cycle)."""
        values = [p.value for p in phases]
        resources = list(
            self.session.scalars(
                select(RemediationStateRow.resource_id)
                .where(RemediationStateRow.phase.in_(values))
                .distinct()
                .order_by(RemediationStateRow.resource_id)
            )
        )
        free = self._free(resources)
        found: list[RemediationStateRow] = []
        for start in range(0, len(free), CHUNK):  # locked now: their phases are current
            query = (
                select(RemediationStateRow)
                .where(
                    RemediationStateRow.resource_id.in_(free[start : start + CHUNK]),
                    RemediationStateRow.phase.in_(values),
                )
                .with_for_update(skip_locked=True)  # a state created since: only if free
                .execution_options(populate_existing=True)
            )
            found.extend(self.session.scalars(query))
        claimed = sorted(found, key=lambda row: (row.updated_at, row.resource_id, row.rule))
        return [Tracked(row.rule, row.resource_id, state_from_json(row.state)) for row in claimed]

    def _free(self, resources: list[str]) -> list[str]:
        """The ``resources`` no other transaction holds a state of, their states locked
        in (resource, rule) order.  All at once when none is held, else halves of the
        list, down to the held ones: a few queries more per held resource, not one per
        resource of the fleet."""
        if not resources:
            return []
        if self._locked(resources):
            return resources
        if len(resources) == 1:
            return []
        half = len(resources) // 2
        return self._free(resources[:half]) + self._free(resources[half:])

    def _locked(self, resources: list[str]) -> bool:
        """Lock every state of ``resources`` in (resource, rule) order; False when another
        transaction holds one of them (nothing stays locked then)."""
        if self.session.get_bind().dialect.name != "postgresql":  # one writer: no locks
            return True
        try:
            with self.session.begin_nested():  # a refused lock rolls back to here
                for start in range(0, len(resources), CHUNK):
                    keys = (
                        select(RemediationStateRow.resource_id, RemediationStateRow.rule)
                        .where(
                            RemediationStateRow.resource_id.in_(resources[start : start + CHUNK])
                        )
                        .order_by(RemediationStateRow.resource_id, RemediationStateRow.rule)
                        .with_for_update(nowait=True)
                    )
                    self.session.execute(keys).all()
        except DBAPIError as exc:
            if sqlstate(exc) != LOCK_NOT_AVAILABLE:
                raise
            return False
        return True

    def count(self, rule: str, phases: Collection[Phase]) -> int:
        """(rule, resource) pairs of ``rule`` in ``phases``."""
        query = (
            select(func.count())
            .select_from(RemediationStateRow)
            .where(
                RemediationStateRow.rule == rule,
                RemediationStateRow.phase.in_([p.value for p in phases]),
            )
        )
        return int(self.session.scalar(query) or 0)

    def has_exception(self, rule: str, resource_id: str) -> bool:
        """Whether a RemediationException is recorded."""
        return self.session.get(RemediationExceptionRow, (rule, resource_id)) is not None

    def put_exception(
        self, rule: str, resource_id: str, exception: RecordException, actor: str, at: datetime
    ) -> None:
        """Record (or renew) a RemediationException."""
        row = self.session.get(RemediationExceptionRow, (rule, resource_id))
        if row is None:
            row = RemediationExceptionRow(rule=rule, resource_id=resource_id)
            self.session.add(row)
        row.reason, row.manual, row.expires_at = exception.reason, exception.manual, exception.until
        row.created_by, row.created_at = actor, at
        self.session.flush()

    def drop_exception(self, rule: str, resource_id: str) -> None:
        """Delete a RemediationException if there is one."""
        row = self.session.get(RemediationExceptionRow, (rule, resource_id))
        if row is not None:
            self.session.delete(row)
            self.session.flush()

    def add_run(
        self, rule: str, resource_id: str, manual: bool, actor: str, at: datetime
    ) -> RemediationRun:
        """A new run, IN_PROGRESS."""
        row = RemediationExecutionRow(
            id=new_uuid(),
            rule=rule,
            resource_id=resource_id,
            execution_id=None,
            manual=manual,
            status="IN_PROGRESS",
            message="",
            created_by=actor,
            created_at=at,
            ended_at=None,
        )
        self.session.add(row)
        self.session.flush()
        return _run(row)

    def link_run(self, run_id: str, execution_id: str) -> None:
        """The runbook execution of a run."""
        row = self.session.get(RemediationExecutionRow, run_id)
        assert row is not None, run_id
        row.execution_id = execution_id
        self.session.flush()

    def end_run(self, run_id: str, status: str, at: datetime, message: str | None = None) -> None:
        """A run ended (SUCCEEDED or FAILED)."""
        row = self.session.get(RemediationExecutionRow, run_id)
        assert row is not None, run_id
        row.status, row.ended_at = status, at
        if message is not None:
            row.message = message

    def run(self, run_id: str) -> RemediationRun | None:
        """A run by id."""
        row = self.session.get(RemediationExecutionRow, run_id)
        return _run(row) if row else None

    def runs_of(self, execution_ids: Collection[str]) -> dict[str, RemediationRun]:
        """The runs these runbook executions belong to, by execution id."""
        wanted, found = sorted(set(execution_ids)), {}
        for start in range(0, len(wanted), CHUNK):
            query = select(RemediationExecutionRow).where(
                RemediationExecutionRow.execution_id.in_(wanted[start : start + CHUNK])
            )
            for row in self.session.scalars(query):
                assert row.execution_id is not None
                found[row.execution_id] = _run(row)
        return found

    def run_of(self, execution_id: str) -> RemediationRun | None:
        """The run a runbook execution belongs to."""
        row = self.session.scalar(
            select(RemediationExecutionRow).where(
                RemediationExecutionRow.execution_id == execution_id
            )
        )
        return _run(row) if row else None
