"""Vulnerability findings as the server's assessment stored them (:mod:`..findings`), for
one node or for every active node."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage import findings as store
from patchwarden.adapters.storage.tables import Node
from patchwarden.core.vuln import Finding


@dataclass(frozen=True)
class NodeFindings:
    """A node's findings and its last assessment (``assessed_at`` None: never assessed)."""

    assessed_at: datetime | None
    assessed: bool
    warnings: list[str]
    findings: list[Finding]


def node_findings(session: Session, node_id: str) -> NodeFindings | None:
    """The node's stored findings (none while it was never assessed, or its release could
    not be); None when there is no such node."""
    if session.get(Node, node_id) is None:
        return None
    assessment = session.get(store.NodeAssessmentRow, node_id)
    found = store.node_findings(session, node_id) or []
    if assessment is None:
        return NodeFindings(None, False, [], found)
    return NodeFindings(
        assessment.assessed_at, assessment.assessed, list(assessment.warnings), found
    )


def active_findings(
    session: Session, *, severity: str | None, status: str | None, package: str | None
) -> list[tuple[str, str, Finding]]:
    """(node id, hostname, finding) of every active node, filtered by severity, status and
    package name (each when given)."""
    alive = {
        node_id: hostname
        for node_id, hostname in session.execute(
            select(Node.id, Node.hostname).where(Node.deregistered_at.is_(None))
        )
    }
    return [
        (node_id, alive[node_id], finding)
        for node_id, finding in store.fleet_findings(
            session, severity=severity, status=status, package=package
        )
        if node_id in alive
    ]
