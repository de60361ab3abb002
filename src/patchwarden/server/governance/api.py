"""FastAPI dependencies of the governance routes: the ports bound to the request's write
session (:data:`GovernanceDB`), whose queued webhooks are sent once the session committed
and the response went out; and the :class:`Notifier` that sends them (overridable with
``app.dependency_overrides[notifier]``)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request

from patchwarden.adapters.webhook import WebhookNotifier
from patchwarden.pipeline.governance.context import Governance, Outbox
from patchwarden.pipeline.governance.delivery import deliver
from patchwarden.pipeline.governance.ports import Notifier
from patchwarden.ports import Clock
from patchwarden.server.db import Database, WriteDB, database, settings
from patchwarden.server.governance.wiring import SessionUnitOfWork, bind

log = logging.getLogger("patchwarden.governance")
WEBHOOKS = WebhookNotifier()
"""The notifier of the server (the background loop and the routes)."""


def notifier() -> Notifier:
    """The notifier webhooks go through."""
    return WEBHOOKS


def send_after_commit(db: Database, sender: Notifier, outbox: Outbox, clock: Clock) -> None:
    """Send what the request's use case queued and report the outcomes.  A failure is
    logged: the executions keep waiting and the tick queues their webhooks again."""
    queued = outbox.drain()
    if not queued:
        return
    try:
        deliver(SessionUnitOfWork(db), sender, queued, clock.now())
    except Exception:
        log.exception("webhooks of a request were not reported")


def write_governance(
    session: WriteDB,
    request: Request,
    background: BackgroundTasks,
    sender: Annotated[Notifier, Depends(notifier)],
) -> Governance:
    """The governance ports over the request's write session.  Background tasks run only
    after a response was sent, so never for a request whose transaction rolled back."""
    outbox = Outbox()
    background.add_task(
        send_after_commit, database(request), sender, outbox, settings(request).clock
    )
    return bind(session, outbox)


GovernanceDB = Annotated[Governance, Depends(write_governance)]
"""Governance ports over the request's write session (webhooks sent after its commit)."""
