"""A node's report of an invocation's end: the invocation row locked and finished, the
node's compliance replaced, the command rolled up unless another transaction holds it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage import dispatch
from patchwarden.adapters.storage.tables import Command, ComplianceRecord, Invocation
from patchwarden.pipeline.fleet.command_records import (
    ComplianceReport,
    FinishedInvocation,
    InvocationState,
)
from patchwarden.render.json import report_dict


class SqlInvocationReports:
    """The :class:`~patchwarden.pipeline.fleet.ports.InvocationReports` of a session."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._ended: dict[str, str] = {}
        """Command → its invocation finished in this transaction."""

    def _row(self, invocation_id: str) -> Invocation:
        row = self._session.get(Invocation, invocation_id)
        assert row is not None
        return row

    def lock(self, invocation_id: str) -> InvocationState | None:
        """The invocation, locked for this transaction (only its row: see
        :mod:`.dispatch` for why a report never waits for its command's row)."""
        locked = select(Invocation).where(Invocation.id == invocation_id).with_for_update()
        row = self._session.scalar(locked)
        if row is None:
            return None
        return InvocationState(row.id, row.node_id, row.command_id, row.status, row.started_at)

    def finish(self, invocation_id: str, result: FinishedInvocation) -> None:
        """Store the invocation's final state."""
        row = self._row(invocation_id)
        row.status, row.status_details = result.status, result.status_details
        row.output = result.output
        row.response_code = result.response_code
        row.finished_at = result.finished_at
        row.started_at = result.started_at
        self._ended[row.command_id] = row.id

    def save_compliance(self, node_id: str, report: ComplianceReport, at: datetime) -> None:
        """Replace the node's patch compliance."""
        record = self._session.get(ComplianceRecord, node_id) or ComplianceRecord(node_id=node_id)
        data = report_dict(report.report)  # stored as the report's own JSON rendering
        record.compliance = data["compliance"]
        record.severity = data["severity"]
        record.baseline = report.report.baseline
        record.baseline_id = None
        record.snapshot_id = data["snapshot_id"]
        record.operation = data["operation"]
        record.command_id = report.command_id
        record.generated_at = report.report.generated_at
        record.reported_at = at
        record.summary = data["summary"]
        record.items = data["patches"]
        self._session.add(record)

    def roll_up(self, command_id: str, at: datetime) -> str:
        """Refresh the command unless another transaction holds it; its status."""
        cmd = dispatch.lock_command(self._session, command_id, wait=False)
        ended = self._ended.get(command_id)
        if cmd is not None and ended is not None:
            dispatch.settle(self._session, cmd, at, ended)
        elif cmd is not None:
            dispatch.refresh(self._session, cmd, at)
        else:  # busy: its rollup as it stands (its holder's successor or the sweep rolls up)
            cmd = self._session.get(Command, command_id)
            assert cmd is not None
        return cmd.status
