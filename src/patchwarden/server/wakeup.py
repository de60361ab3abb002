"""Long-poll wake-ups: one query per interval for the whole process, not one per waiting node.

A waiting ``GET /api/v1/agent/commands?wait=S`` registers an event here.  While anyone is
waiting, a single task asks the database every ``poll_check_interval`` which nodes have a
Pending invocation of a command that may start one more (not stopped, in-flight count
below its current concurrency limit) and wakes exactly those waiters, which then claim in
a write transaction.  10,000 idle long-polls thus cost one read per interval instead of
20,000 write transactions per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from patchwarden.adapters.storage.tables import Command, Invocation
from patchwarden.core.rollout import CommandStatus, InvocationStatus
from patchwarden.server.db import Database

log = logging.getLogger("patchwarden.server")
RUNNING = (InvocationStatus.IN_PROGRESS.value, InvocationStatus.DELAYED.value)


def startable_nodes(db: Database) -> set[str]:
    """Nodes with a Pending invocation that rate control would let start now (approximately:
    the claim decides under the command lock)."""
    with db.read() as session:
        commands = session.execute(
            select(Command.id, Command.concurrency_limit).where(
                Command.status.in_([CommandStatus.PENDING, CommandStatus.IN_PROGRESS]),
                Command.stopped.is_(False),
            )
        ).all()
        if not commands:
            return set()
        ids = [c.id for c in commands]
        running = dict(
            session.execute(
                select(Invocation.command_id, func.count())
                .where(Invocation.command_id.in_(ids), Invocation.status.in_(RUNNING))
                .group_by(Invocation.command_id)
            ).all()
        )
        open_ids = [c.id for c in commands if running.get(c.id, 0) < c.concurrency_limit]
        if not open_ids:
            return set()
        return set(
            session.scalars(
                select(Invocation.node_id)
                .where(
                    Invocation.command_id.in_(open_ids),
                    Invocation.status == InvocationStatus.PENDING,
                )
                .distinct()
            )
        )


class Waiters:
    """Waiting long-polls of one process, woken by one shared watcher task."""

    def __init__(self, db: Database, interval: float) -> None:
        self.db = db
        self.interval = interval
        self._events: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None

    async def wait(self, node_id: str, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for work for ``node_id``; whether it was woken."""
        event = asyncio.Event()
        self._events.setdefault(node_id, set()).add(event)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch())
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout)
            return event.is_set()
        finally:
            mine = self._events.get(node_id)
            if mine is not None:
                mine.discard(event)
                if not mine:
                    del self._events[node_id]

    async def _watch(self) -> None:
        while self._events:
            await asyncio.sleep(self.interval)
            if not self._events:
                return
            try:
                ready = await run_in_threadpool(startable_nodes, self.db)
            except Exception:  # the next tick retries; waiters still end at their deadline
                log.exception("long-poll watcher query failed")
                continue
            for node_id in ready.intersection(self._events):
                for event in self._events[node_id]:
                    event.set()
