"""Governance in the server (issue 7): wiring of the use cases of
:mod:`patchwarden.pipeline.governance` to the server's database, commands, audit log and
webhooks.

- :func:`changed` — the change trigger, called inside another route's transaction;
- :func:`tick` — one pass of everything time-driven (the background :func:`loop` calls it;
  tests call it with their own ``now``); each phase commits, then its webhooks are sent;
- :mod:`.wiring` — the ports bound to a session; :mod:`.api` — the routes' dependencies;
- :mod:`.runner`, :mod:`.apply` — entry points of other shells (windows, ``apply``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import datetime

from starlette.concurrency import run_in_threadpool

from patchwarden.pipeline.governance import evaluation
from patchwarden.pipeline.governance import tick as governance_tick
from patchwarden.pipeline.governance.ports import Notifier
from patchwarden.server.db import Database, Session
from patchwarden.server.governance.api import WEBHOOKS
from patchwarden.server.governance.wiring import SessionUnitOfWork, detached
from patchwarden.server.settings import ServerSettings

log = logging.getLogger("patchwarden.governance")


def changed(session: Session, node_id: str, at: datetime) -> None:
    """The change trigger, called where a node's compliance, inventory or tags change."""
    evaluation.changed(detached(session), node_id, at)


def tick(db: Database, now: datetime, notifier: Notifier | None = None) -> Counter[str]:
    """Periodic rules, running executions, remediation marks and queues, once; webhooks
    go out after each phase committed."""
    return governance_tick.tick(SessionUnitOfWork(db), notifier or WEBHOOKS, now)


async def loop(db: Database, settings: ServerSettings, seconds: float) -> None:
    """The background governance loop: :func:`tick` every ``seconds``."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(tick, db, settings.clock.now())
        except Exception:  # retried at the next tick
            log.exception("governance tick failed")
