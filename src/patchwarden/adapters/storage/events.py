"""The event outbox: :func:`record` writes an application event in the caller's transaction
(and logs it once that transaction commits — never when it rolls back); the delivery
loop's storage (fan-out to targets, claims, outcomes, pruning); the event and delivery
reads of the API; the notification targets setting.

Several replicas on one PostgreSQL share the work without a coordinator: fan-out takes
undispatched events ``FOR UPDATE SKIP LOCKED`` and deliveries are claimed the same way
and leased (``claimed_until``) for the time of the send, which happens outside any
transaction; an outcome is recorded only by the replica still holding the claim, so a
delivery whose replica died is sent again by another one once the lease ran out (at least
once).  SQLite serialises writers (``BEGIN IMMEDIATE``), the same code runs there.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, event, exists, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, sessionmaker

from patchwarden.adapters.storage.event_tables import (
    EventDeliveryRow,
    EventRow,
    NotificationSettingRow,
)
from patchwarden.core.events import Event, Severity
from patchwarden.core.notify import Claimed, Outcome, Targets

log = logging.getLogger("patchwarden.events")
_PENDING = "patchwarden_events"
"""``session.info`` key: the events of the open transaction, logged after its commit."""
TARGETS_KEY = "targets"
LEVELS = {
    Severity.INFO: logging.INFO,
    Severity.WARNING: logging.WARNING,
    Severity.ERROR: logging.ERROR,
    Severity.CRITICAL: logging.CRITICAL,
}


def log_event(item: Event, event_id: int | None = None) -> None:
    """One log line of ``item``: its summary, the event's fields as ``extra`` (the JSON log
    format shows them)."""
    fields = item.to_json()
    if event_id is not None:
        fields["id"] = event_id
    log.log(
        LEVELS[item.severity],
        "%s %s: %s",
        item.type,
        item.subject,
        item.summary,
        extra={"event": fields},
    )


def record(session: Session, item: Event) -> None:
    """Write ``item`` to the outbox in ``session``'s transaction; logged after it commits."""
    row = EventRow(
        type=item.type,
        severity=item.severity.value,
        at=item.at,
        subject=item.subject,
        event=item.to_json(),
        created_at=item.at,
        dispatched_at=None,
    )
    session.add(row)
    session.info.setdefault(_PENDING, []).append((row, item))


@event.listens_for(Session, "after_commit")
def _log_committed(session: Session) -> None:
    for row, item in session.info.pop(_PENDING, ()):
        ident = sa_inspect(row).dict.get("id")  # no SQL here: the id if the flush set it
        log_event(item, ident if isinstance(ident, int) else None)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


class SqlEvents:
    """The :class:`~patchwarden.pipeline.events.Events` port of a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def emit(self, item: Event) -> None:
        """:func:`record` ``item`` in the session's transaction."""
        record(self._session, item)


def emit(sessions: sessionmaker[Session], item: Event) -> None:
    """``item`` where no transaction is open: in a short one of its own; when the database
    cannot take it, logged at least."""
    try:
        with sessions() as session, session.begin():
            record(session, item)
    except Exception as exc:  # the event is not lost from the log
        log.warning("event %s not stored: %s", item.type, exc)
        log_event(item)


# --- the delivery loop -------------------------------------------------------------------


def targets(session: Session) -> Targets:
    """The configured notification targets (none when never set)."""
    row = session.get(NotificationSettingRow, TARGETS_KEY)
    return Targets.from_json(row.value) if row is not None else Targets()


def put_targets(session: Session, value: Targets, actor: str, at: datetime) -> None:
    """Replace the notification targets."""
    row = session.get(NotificationSettingRow, TARGETS_KEY, with_for_update=True)
    if row is None:
        row = NotificationSettingRow(key=TARGETS_KEY, value={}, modified_at=at, modified_by="")
        session.add(row)
    row.value, row.modified_at, row.modified_by = value.to_json(), at, actor


class SqlNotificationStore:
    """The :class:`~patchwarden.pipeline.notifications.NotificationStore` of a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def targets(self) -> Targets:
        """The configured targets."""
        return targets(self._session)

    def dispatch(self, configured: Targets, now: datetime, since: datetime, limit: int) -> int:
        """Make one pending delivery per matching target of up to ``limit`` undispatched
        events (oldest first; rows another replica holds are skipped; an event before
        ``since`` gets none); how many events."""
        rows = self._session.scalars(
            select(EventRow)
            .where(EventRow.dispatched_at.is_(None))
            .order_by(EventRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            item = Event.from_json(row.event)
            for target in configured.matching(item) if item.at >= since else ():
                self._session.add(
                    EventDeliveryRow(
                        event_id=row.id,
                        target=target.name,
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                        claimed_until=None,
                        claimed_by="",
                        last_error="",
                        updated_at=now,
                        delivered_at=None,
                    )
                )
            row.dispatched_at = now
        return len(rows)

    def claim(self, now: datetime, until: datetime, replica: str, limit: int) -> list[Claimed]:
        """Lease up to ``limit`` deliveries due at ``now`` (none another replica holds)."""
        due = self._session.execute(
            select(EventDeliveryRow, EventRow.event)
            .join(EventRow, EventRow.id == EventDeliveryRow.event_id)
            .where(
                EventDeliveryRow.status == "pending",
                EventDeliveryRow.next_attempt_at <= now,
                or_(
                    EventDeliveryRow.claimed_until.is_(None),
                    EventDeliveryRow.claimed_until <= now,
                ),
            )
            .order_by(EventDeliveryRow.next_attempt_at, EventDeliveryRow.event_id)
            .limit(limit)
            .with_for_update(of=EventDeliveryRow, skip_locked=True)
        ).all()
        claimed = []
        for row, document in due:
            row.claimed_until, row.claimed_by = until, replica
            claimed.append(
                Claimed(row.event_id, row.target, Event.from_json(document), row.attempts)
            )
        return claimed

    def settle(self, claimed: Claimed, outcome: Outcome, now: datetime, replica: str) -> bool:
        """Record the outcome of a delivery this replica still holds; False when it lost
        the claim (another replica sends it)."""
        row = self._session.scalar(
            select(EventDeliveryRow)
            .where(
                EventDeliveryRow.event_id == claimed.event_id,
                EventDeliveryRow.target == claimed.target,
                EventDeliveryRow.status == "pending",
                EventDeliveryRow.claimed_by == replica,
                EventDeliveryRow.attempts == claimed.attempts,
            )
            .with_for_update()
        )
        if row is None:
            return False
        row.status, row.attempts, row.last_error = outcome.status, outcome.attempts, outcome.error
        row.next_attempt_at = outcome.next_attempt_at
        row.claimed_until, row.claimed_by, row.updated_at = None, "", now
        if outcome.status == "delivered":
            row.delivered_at = now
        return True

    def prune(self, before: datetime) -> int:
        """Delete the events older than ``before`` that were dispatched and have no
        delivery still pending (their deliveries go with them); how many."""
        pending = exists().where(
            EventDeliveryRow.event_id == EventRow.id, EventDeliveryRow.status == "pending"
        )
        stale = select(EventRow.id).where(
            EventRow.at < before, EventRow.dispatched_at.is_not(None), ~pending
        )
        ids = list(self._session.scalars(stale.limit(1000)))
        if not ids:
            return 0
        self._session.execute(delete(EventDeliveryRow).where(EventDeliveryRow.event_id.in_(ids)))
        self._session.execute(delete(EventRow).where(EventRow.id.in_(ids)))
        return len(ids)


# --- reads ------------------------------------------------------------------------------


def _like(pattern: str) -> str:
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def events(
    session: Session,
    types: Sequence[str] = (),
    since: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Events newest first: of the given types (globs), at or after ``since``, with an id
    below ``before_id`` (the previous page's last)."""
    query = select(EventRow.id, EventRow.event)
    if types:
        query = query.where(or_(*(EventRow.type.like(_like(t), escape="\\") for t in types)))
    if since is not None:
        query = query.where(EventRow.at >= since)
    if before_id is not None:
        query = query.where(EventRow.id < before_id)
    rows = session.execute(query.order_by(EventRow.id.desc()).limit(limit)).all()
    return [{"id": ident, **document} for ident, document in rows]


def deliveries(
    session: Session, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Deliveries newest first (by their last change), optionally of one status."""
    query = select(EventDeliveryRow, EventRow.type, EventRow.event).join(
        EventRow, EventRow.id == EventDeliveryRow.event_id
    )
    if status is not None:
        query = query.where(EventDeliveryRow.status == status)
    query = query.order_by(EventDeliveryRow.updated_at.desc(), EventDeliveryRow.event_id.desc())
    found = []
    for row, type_, document in session.execute(query.limit(limit)):
        found.append(
            {
                "event_id": row.event_id,
                "event_type": type_,
                "event_summary": document.get("summary", ""),
                "target": row.target,
                "status": row.status,
                "attempts": row.attempts,
                "last_error": row.last_error,
                "next_attempt_at": _iso(row.next_attempt_at if row.status == "pending" else None),
                "delivered_at": _iso(row.delivered_at),
                "updated_at": _iso(row.updated_at),
            }
        )
    return found


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


__all__ = [
    "SqlEvents",
    "SqlNotificationStore",
    "deliveries",
    "emit",
    "events",
    "log_event",
    "put_targets",
    "record",
    "targets",
]
