"""Which nodes wait for a vulnerability assessment, and how an upload joins them.

A node (with an inventory, not deregistered) is *pending* when it was never assessed, when
its inventory was uploaded after its last assessment (``inventories.uploaded_at >
node_assessments.assessed_at``), or when the vulnerability database was modified after its
last assessment.  :func:`inventory_changed` keeps an upload dated after the assessment it
follows, and takes the inventory row lock the assessment's write step takes too
(:mod:`.assessment_store`), so the two are ordered.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session, sessionmaker

from patchwarden.adapters.storage.findings import NodeAssessmentRow
from patchwarden.adapters.storage.tables import Inventory, Node

_AFTER = timedelta(microseconds=1)


def inventory_changed(session: Session, header: Inventory) -> None:
    """Make the node of the just-stored ``header`` pending: its ``uploaded_at`` after its
    last assessment, even when an assessment (of the previous inventory) committed while
    this upload waited for the inventory row, or the clock did not move.  Called by the
    upload, in its transaction, whenever the inventory changed."""
    session.execute(
        select(Inventory.node_id).where(Inventory.node_id == header.node_id).with_for_update()
    )
    last = session.scalar(
        select(NodeAssessmentRow.assessed_at).where(NodeAssessmentRow.node_id == header.node_id)
    )
    if last is not None and header.uploaded_at <= last:
        header.uploaded_at = last + _AFTER


def is_pending(db_time: datetime) -> ColumnElement[bool]:
    """The condition on :func:`assessable` rows of a pending node."""
    last = NodeAssessmentRow.assessed_at
    return or_(last.is_(None), last < Inventory.uploaded_at, last < db_time)


def assessable(*columns: Any) -> Select[Any]:
    """``columns`` of nodes with an inventory, not deregistered, and their assessment."""
    return (
        select(*columns)
        .join(Node, Node.id == Inventory.node_id)
        .outerjoin(NodeAssessmentRow, NodeAssessmentRow.node_id == Inventory.node_id)
        .where(Node.deregistered_at.is_(None))
    )


def pending(session: Session, db_time: datetime, limit: int) -> list[str]:
    """Up to ``limit`` pending node ids: the never-assessed first, then the longest waiting."""
    query = (
        assessable(Inventory.node_id)
        .where(is_pending(db_time))
        .order_by(NodeAssessmentRow.assessed_at.asc().nulls_first(), Inventory.node_id)
        .limit(limit)
    )
    return list(session.scalars(query))


class SqlAssessmentQueue:
    """The :class:`~patchwarden.pipeline.fleet.assess.AssessmentQueue` of the server
    database."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def pending(self, db_time: datetime, limit: int) -> list[str]:
        """See :func:`pending` (in a read-only session of its own)."""
        with self._sessions() as session:
            return pending(session, db_time, limit)
