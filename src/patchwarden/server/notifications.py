"""Application events in the server (issue 17): the outbox wired to the server's database,
the events emitted outside any transaction (:func:`emit`), and the background delivery
loop that notifies the admin's targets (:func:`deliver`, every
``PATCHWARDEN_NOTIFY_INTERVAL`` seconds; 0 turns it off).

Events emitted inside a use case's transaction are written to the outbox with it
(:class:`~patchwarden.adapters.storage.events.SqlEvents`) and logged once it committed;
the loop sends them afterwards, outside any transaction, through the same SSRF-safe
webhook adapter as runbook ``notify`` steps.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from patchwarden.adapters.storage import events as outbox
from patchwarden.adapters.webhook import WebhookNotifier
from patchwarden.core.events import Event
from patchwarden.pipeline.events import Events
from patchwarden.pipeline.governance.ports import Notifier
from patchwarden.pipeline.notifications import NotificationStore, deliver_round
from patchwarden.server.db import Database
from patchwarden.server.settings import ServerSettings

T = TypeVar("T")
log = logging.getLogger("patchwarden.notifications")
SENDER: Notifier = WebhookNotifier()
"""The notifier of the delivery loop (tests pass their own to :func:`deliver`)."""


def emit(db: Database, event: Event) -> None:
    """``event`` where no transaction is open: stored in one of its own, then logged."""
    outbox.emit(db.write, event)


class SessionOutbox:
    """Write transactions of the outbox for :func:`deliver_round`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def run(self, work: Callable[[NotificationStore, Events], T]) -> T:
        """``work`` in a write transaction of its own, committed when it returns."""
        with self.db.write() as session, session.begin():
            return work(outbox.SqlNotificationStore(session), outbox.SqlEvents(session))


def deliver(
    db: Database, settings: ServerSettings, notifier: Notifier | None = None
) -> Counter[str]:
    """One delivery round (tests call it with their notifier and clock)."""
    return deliver_round(SessionOutbox(db), notifier or SENDER, settings.clock, settings.replica_id)


async def loop(db: Database, settings: ServerSettings, seconds: float) -> None:
    """The background delivery: :func:`deliver` every ``seconds``."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(deliver, db, settings)
        except Exception:  # retried at the next round
            log.exception("notification round failed")
