"""Runbooks and the runbook executions AUTOMATION window tasks started: the
:class:`~patchwarden.pipeline.windows.ports.RunbookRuns` over the governance tables.  A
runbook execution belongs to a task execution through its ``created_by``
(``window:<task execution id>:<node id>``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.governance_tables import RunbookExecutionRow, RunbookRow


def started_by(session: Session, prefix: str) -> dict[str, RunbookExecutionRow]:
    """The runbook executions whose creator starts with ``prefix``, by the rest of it
    (oldest first; a later one of the same rest wins)."""
    found = session.scalars(
        select(RunbookExecutionRow)
        .where(RunbookExecutionRow.created_by.startswith(prefix, autoescape=True))
        .order_by(RunbookExecutionRow.started_at, RunbookExecutionRow.created_by)
    )
    return {r.created_by[len(prefix) :]: r for r in found}


class SqlRunbookRuns:
    """Runbooks and window-started runbook executions of a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def exists(self, runbook: str) -> bool:
        """Whether a runbook of that name is stored."""
        return self._session.get(RunbookRow, runbook) is not None

    def statuses(self, actor_prefix: str) -> dict[str, str]:
        """Status of each runbook execution started by a creator under ``actor_prefix``."""
        return {node: run.status for node, run in started_by(self._session, actor_prefix).items()}
