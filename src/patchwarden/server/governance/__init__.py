"""Governance in the server (issue 7): rules evaluated on change and on a timer, remediation
runbooks started from NON_COMPLIANT results, conformance packs.

- :mod:`.store` — Rule / Runbook / ConformancePack documents (packs deploy as a unit);
- :mod:`.evaluate` — evaluations (history kept) and the change hook :func:`changed`;
- :mod:`.remediate` — the per (rule, resource) state machine, execution controls, exceptions;
- :mod:`.runner` — runbook executions: actions → commands, tag edits, webhooks;
- :func:`tick` — one pass of everything time-driven (the background loop calls it; tests
  call it with their own ``now``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from datetime import datetime

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from patchwarden.server.db import Database
from patchwarden.server.governance import evaluate, remediate, runner
from patchwarden.server.settings import ServerSettings

log = logging.getLogger("patchwarden.governance")
INTERVAL_ENV = "PATCHWARDEN_GOVERNANCE_INTERVAL"
"""Seconds between governance ticks (default 5); 0 turns the loop off (tests call
:func:`tick` with their own ``now``)."""
INTERVAL_SECONDS = 5.0


def interval() -> float:
    """The configured tick interval (0: no background loop)."""
    return float(os.environ.get(INTERVAL_ENV, INTERVAL_SECONDS))


def changed(session: Session, node_id: str, at: datetime) -> None:
    """The change trigger, called where a node's compliance, inventory or tags change."""
    evaluate.changed(session, node_id, at)


def tick(db: Database, now: datetime) -> Counter[str]:
    """Periodic rules, remediation marks and queues, and running executions, once."""
    counts: Counter[str] = Counter()
    with db.write() as session, session.begin():
        counts.update(evaluate.periodic(session, now))
    with db.write() as session, session.begin():
        counts["executions"] = runner.tick(session, now)
    with db.write() as session, session.begin():
        counts["remediations_started"] = remediate.tick(session, now)
    return counts


async def loop(db: Database, settings: ServerSettings, seconds: float = INTERVAL_SECONDS) -> None:
    """The background governance loop: :func:`tick` every ``seconds``."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(tick, db, settings.clock())
        except Exception:  # retried at the next tick
            log.exception("governance tick failed")
