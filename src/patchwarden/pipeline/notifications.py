"""Notifying the admin's targets of application events: one round of the server's delivery
loop.

1. one short write transaction: the events written since the last round get one pending
   delivery per matching target (:meth:`NotificationStore.dispatch`), then the deliveries
   due now are claimed (leased to this replica);
2. no transaction open: each claimed delivery is sent through the :class:`Notifier` (the
   SSRF-safe webhook adapter) in its target's format;
3. one short write transaction: each outcome recorded (delivered; or failed and tried again
   after an exponential backoff; or given up after the last attempt, which emits a
   ``notification.failed`` event that is logged but never notified), then old events with
   nothing pending are pruned.

The decisions (which target wants what, the payloads, the backoff) are
:mod:`patchwarden.core.notify`'s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from patchwarden.core import notify
from patchwarden.core.events import notification_failed
from patchwarden.core.notify import Claimed, Outcome, Targets
from patchwarden.pipeline.events import Events
from patchwarden.pipeline.governance.ports import Notifier
from patchwarden.ports import Clock

T = TypeVar("T")
LEASE = timedelta(minutes=2)
"""How long a claimed delivery is this replica's (a send takes 5 s at most per target)."""
BATCH = 50
"""Deliveries sent per round at most."""
DISPATCH_BATCH = 500
"""Events fanned out to targets per round at most."""
HORIZON = timedelta(days=1)
"""Events older than this when first dispatched (notifications were off, or no replica ran)
are not notified: a backlog is not replayed to the targets."""
RETENTION = timedelta(days=7)
"""Events with nothing pending are kept this long (the events API reads them)."""


class NotificationStore(Protocol):
    """The outbox and its deliveries, within one transaction."""

    def targets(self) -> Targets:
        """The configured targets."""
        ...

    def dispatch(self, configured: Targets, now: datetime, since: datetime, limit: int) -> int:
        """One pending delivery per matching target of up to ``limit`` new events (those
        that happened before ``since`` get none: too old to announce)."""
        ...

    def claim(self, now: datetime, until: datetime, replica: str, limit: int) -> list[Claimed]:
        """Lease up to ``limit`` deliveries due at ``now`` to ``replica`` until ``until``."""
        ...

    def settle(self, claimed: Claimed, outcome: Outcome, now: datetime, replica: str) -> bool:
        """Record an outcome unless the claim was lost; whether it was recorded."""
        ...

    def prune(self, before: datetime) -> int:
        """Delete events older than ``before`` with nothing pending."""
        ...


class UnitOfWork(Protocol):
    """Write transactions of the outbox."""

    def run(self, work: Callable[[NotificationStore, Events], T]) -> T:
        """``work`` in a transaction of its own, committed when it returns."""
        ...


def deliver_round(
    uow: UnitOfWork,
    notifier: Notifier,
    clock: Clock,
    replica: str,
    *,
    batch: int = BATCH,
    retention: timedelta = RETENTION,
) -> Counter[str]:
    """One round (see the module docstring); counts by outcome (``delivered``, ``retry``,
    ``failed``, ``lost``) plus ``dispatched`` and ``pruned``."""
    counts: Counter[str] = Counter()
    start = clock.now()

    def claim(store: NotificationStore, _: Events) -> tuple[Targets, list[Claimed]]:
        configured = store.targets()
        counts["dispatched"] += store.dispatch(configured, start, start - HORIZON, DISPATCH_BATCH)
        return configured, store.claim(start, start + LEASE, replica, batch)

    configured, claimed = uow.run(claim)
    results = [(item, _send(notifier, configured, item, clock)) for item in claimed]
    now = clock.now()

    def settle(store: NotificationStore, events: Events) -> None:
        for item, outcome in results:
            if not store.settle(item, outcome, now, replica):
                counts["lost"] += 1
                continue
            counts["retry" if outcome.status == "pending" else outcome.status] += 1
            if outcome.status == "failed":
                events.emit(
                    notification_failed(
                        now,
                        item.event_id,
                        item.event.type,
                        item.target,
                        outcome.attempts,
                        outcome.error,
                    )
                )
        counts["pruned"] += store.prune(now - retention)

    uow.run(settle)
    return counts


def _send(notifier: Notifier, configured: Targets, item: Claimed, clock: Clock) -> Outcome:
    """Send one claimed delivery (no transaction is open) and judge the attempt."""
    target = configured.named(item.target)
    if target is None:  # removed since the event was dispatched: nothing to retry
        return notify.after_attempt(
            item.attempts, "the target is no longer configured", clock.now(), item.attempts + 1
        )
    delivery = notifier.send(
        configured.webhook(target), notify.payload(target, item.event, item.event_id)
    )
    error = None
    if not delivery.ok:
        why = delivery.error or f"answered HTTP {delivery.status_code}"
        error = notify.scrub(why, target.url)
    return notify.after_attempt(item.attempts, error, clock.now())
