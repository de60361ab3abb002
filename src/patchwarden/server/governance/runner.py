"""Runbook executions started by other shells inside their own transactions (AUTOMATION
tasks of maintenance windows).  The governance tick advances them and sends their
webhooks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from patchwarden.adapters.storage.governance.executions import SqlExecutions
from patchwarden.adapters.storage.governance_tables import RunbookExecutionRow
from patchwarden.pipeline.governance import runbooks
from patchwarden.pipeline.governance.records import ACTIVE
from patchwarden.server.db import Session
from patchwarden.server.governance.wiring import detached

__all__ = ["ACTIVE", "start"]


def start(
    session: Session, name: str, parameters: Mapping[str, object], at: datetime, actor: str
) -> RunbookExecutionRow:
    """Start runbook ``name`` in ``session``'s transaction (InputError: unknown runbook or
    bad parameters); its stored row."""
    stored = runbooks.start(detached(session), name, parameters, at, actor)
    row = SqlExecutions(session).row(stored.id)
    assert row is not None, stored.id
    return row
