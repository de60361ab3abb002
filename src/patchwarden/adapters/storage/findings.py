"""Vulnerability findings per node, as the server's assessment of the uploaded inventory
left them (Inspector's agent-based mode: reassessed on every inventory change).

``node_findings`` keeps one row per (node, vulnerability, package, arch) with first/last
observed, status and when it was closed; :class:`NodeFindingState` is the
:class:`~patchwarden.ports.FindingHistory` of :func:`patchwarden.pipeline.assess.assess`
over it (the other state of a scan lives on the node).
``node_assessments`` says when a node was last assessed and with what warnings.

Registered on ``Base`` by :mod:`.tables`; changed only together with an Alembic revision.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, Text, delete, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from patchwarden.adapters.state import finding_from_json
from patchwarden.adapters.storage.base import Base
from patchwarden.core.suppression import FindingRecord
from patchwarden.core.vuln import Finding


class NodeFindingRow(Base):
    """One finding of one node as last observed (``finding``: its JSON)."""

    __tablename__ = "node_findings"
    node_id: Mapped[str] = mapped_column(
        String(20), ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True
    )
    vulnerability_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    package: Mapped[str] = mapped_column(String(256), primary_key=True)
    arch: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    fix_available: Mapped[str] = mapped_column(String(16))
    first_observed: Mapped[datetime | None]
    last_observed: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    finding: Mapped[str] = mapped_column(Text)


class NodeAssessmentRow(Base):
    """When a node's inventory was last assessed (``assessed``: False when its release has
    no vulnerability data mapping; ``warnings`` as :class:`Assessment` gave them)."""

    __tablename__ = "node_assessments"
    node_id: Mapped[str] = mapped_column(
        String(20), ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True
    )
    assessed_at: Mapped[datetime]
    assessed: Mapped[bool] = mapped_column(Boolean)
    warnings: Mapped[list[Any]]


class NodeFindingState:
    """The :class:`~patchwarden.ports.FindingHistory` of
    :func:`~patchwarden.pipeline.assess.assess` in the server database (``root`` is the
    node id)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def finding_history(self, root: str) -> list[FindingRecord]:
        """The findings kept for node ``root``: open ones and recently CLOSED ones."""
        rows = self._session.execute(
            select(NodeFindingRow.finding, NodeFindingRow.closed_at).where(
                NodeFindingRow.node_id == root
            )
        )
        return [FindingRecord(finding_from_json(text), closed) for text, closed in rows]

    def record_findings(self, root: str, records: Iterable[FindingRecord]) -> None:
        """Replace the findings kept for node ``root`` with ``records`` (bulk statements:
        a node may have thousands)."""
        rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        for r in records:
            f = r.finding
            rows[(f.vulnerability_id, f.package_name, f.package_arch)] = {
                "node_id": root,
                "vulnerability_id": f.vulnerability_id,
                "package": f.package_name,
                "arch": f.package_arch,
                "status": f.status.value,
                "severity": f.severity.value,
                "fix_available": f.fix_available.value,
                "first_observed": f.first_observed,
                "last_observed": f.last_observed,
                "closed_at": r.closed_at,
                "finding": _to_json(f),
            }
        self._session.execute(delete(NodeFindingRow).where(NodeFindingRow.node_id == root))
        if rows:
            self._session.execute(insert(NodeFindingRow), list(rows.values()))


def record_assessment(
    session: Session, node_id: str, at: datetime, assessed: bool, warnings: Iterable[str]
) -> None:
    """Remember that ``node_id`` was assessed at ``at``."""
    row = session.get(NodeAssessmentRow, node_id)
    if row is None:
        row = NodeAssessmentRow(node_id=node_id)
        session.add(row)
    row.assessed_at = at
    row.assessed = assessed
    row.warnings = list(warnings)


def node_findings(session: Session, node_id: str) -> list[Finding] | None:
    """The stored findings of ``node_id``; ``None`` when it was never assessed (or its
    release could not be assessed)."""
    assessment = session.get(NodeAssessmentRow, node_id)
    if assessment is None or not assessment.assessed:
        return None
    rows = session.scalars(select(NodeFindingRow.finding).where(NodeFindingRow.node_id == node_id))
    return [finding_from_json(text) for text in rows]


def fleet_findings(
    session: Session, *, severity: str | None, status: str | None, package: str | None
) -> list[tuple[str, Finding]]:
    """(node id, finding) of every node, filtered."""
    query = select(NodeFindingRow.node_id, NodeFindingRow.finding).order_by(
        NodeFindingRow.node_id, NodeFindingRow.vulnerability_id, NodeFindingRow.package
    )
    if severity is not None:
        query = query.where(NodeFindingRow.severity == severity)
    if status is not None:
        query = query.where(NodeFindingRow.status == status)
    if package is not None:
        query = query.where(NodeFindingRow.package == package)
    return [(node_id, finding_from_json(text)) for node_id, text in session.execute(query)]


_FIELDS = tuple(f.name for f in fields(Finding))


def _to_json(f: Finding) -> str:
    """What :func:`patchwarden.adapters.state.finding_to_json` writes, without the deep copy
    of ``dataclasses.asdict`` (a tenth of the time, for thousands of findings per upload)."""
    data: dict[str, Any] = {name: getattr(f, name) for name in _FIELDS}
    for key in ("first_observed", "last_observed"):
        value = data[key]
        data[key] = value.astimezone(UTC).isoformat() if value else None
    data["kev_due_date"] = f.kev_due_date.isoformat() if f.kev_due_date else None
    return json.dumps(data, separators=(",", ":"))
