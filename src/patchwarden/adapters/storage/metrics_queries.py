"""Counts for the server's Prometheus ``/metrics`` (:mod:`patchwarden.server.metrics`): a few
aggregate reads (``GROUP BY``, no row objects), cheap enough for every scrape.

Every count covers what the JSON API shows by default: nodes that are not deregistered
(``GET /api/v1/nodes``, the compliance summary, ``GET /api/v1/findings``), and every stored
command, invocation, maintenance-window execution and remediation execution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from patchwarden.adapters.storage.findings import NodeFindingRow
from patchwarden.adapters.storage.governance_tables import RemediationExecutionRow
from patchwarden.adapters.storage.tables import (
    Command,
    ComplianceRecord,
    Invocation,
    Node,
    WindowExecution,
)


@dataclass(frozen=True)
class Presence:
    """What the ping status of one registered node follows from
    (:func:`patchwarden.core.presence.ping_status`)."""

    last_seen_at: datetime | None
    registered_at: datetime


@dataclass(frozen=True)
class FleetCounts:
    """One scrape's reads."""

    presence: list[Presence]
    compliance: dict[tuple[str | None, str | None], int]
    """(compliance or None: never reported, severity) → registered nodes."""
    findings: dict[tuple[str, str], int]
    """(severity, status) → findings of registered nodes."""
    commands: dict[str, int]
    invocations: dict[str, int]
    window_executions: dict[str, int]
    remediation_executions: dict[str, int]


def _by_status(session: Session, column: InstrumentedAttribute[Any]) -> dict[str, int]:
    rows: Sequence[Any] = session.execute(select(column, func.count()).group_by(column)).all()
    return {str(status): int(n) for status, n in rows}


def presence(session: Session) -> list[Presence]:
    """The check-in times of every registered node (two columns, one query: the ping status
    is computed from them by the one definition, in ``core.presence``)."""
    query = select(Node.last_seen_at, Node.registered_at).where(Node.deregistered_at.is_(None))
    return [Presence(seen, registered) for seen, registered in session.execute(query)]


def compliance(session: Session) -> dict[tuple[str | None, str | None], int]:
    """(compliance, severity) → registered nodes; compliance None: never reported."""
    query = (
        select(ComplianceRecord.compliance, ComplianceRecord.severity, func.count())
        .select_from(Node)
        .outerjoin(ComplianceRecord, ComplianceRecord.node_id == Node.id)
        .where(Node.deregistered_at.is_(None))
        .group_by(ComplianceRecord.compliance, ComplianceRecord.severity)
    )
    return {(state, severity): int(n) for state, severity, n in session.execute(query)}


def findings(session: Session) -> dict[tuple[str, str], int]:
    """(severity, status) → stored findings of registered nodes."""
    query = (
        select(NodeFindingRow.severity, NodeFindingRow.status, func.count())
        .join(Node, Node.id == NodeFindingRow.node_id)
        .where(Node.deregistered_at.is_(None))
        .group_by(NodeFindingRow.severity, NodeFindingRow.status)
    )
    return {(severity, status): int(n) for severity, status, n in session.execute(query)}


def fleet_counts(session: Session) -> FleetCounts:
    """Everything one scrape reads, in one read session."""
    return FleetCounts(
        presence=presence(session),
        compliance=compliance(session),
        findings=findings(session),
        commands=_by_status(session, Command.status),
        invocations=_by_status(session, Invocation.status),
        window_executions=_by_status(session, WindowExecution.status),
        remediation_executions=_by_status(session, RemediationExecutionRow.status),
    )
