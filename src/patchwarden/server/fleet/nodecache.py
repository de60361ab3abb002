"""Node credentials and check-ins, kept in memory so a poll needs no database.

**Credentials.**  A node's credential hash, name and deregistration are cached per
process after the first request.  Every change of a credential (registration, rotation,
deregistration) stamps ``nodes.credential_changed_at``; at most every ``follow_seconds``
the cache reads which nodes changed since its previous look (minus a margin for clock
skew between replicas and slow commits) and forgets them, so a rotated or revoked
credential stops working on every replica within about a second — at once on the replica
that changed it (:meth:`NodeCache.forget` after the commit).  A secret that does not match
the cached hash is checked once more against the database (a credential rotated through
another replica a moment ago).

**Check-ins.**  ``last_seen_at`` (ping status has a resolution of minutes) is written at
most once per ``SEEN_WRITE_SECONDS`` per node, and in batches: requests record it here and
:meth:`NodeCache.flush_checkins` writes all of them in one statement, every
``CHECKIN_SECONDS`` (a background task of the app, off the poll path).  A node whose
stored check-in is older than half the Online threshold (5 minutes) is written at once, so
a node coming back is Online at once everywhere; a polling node never gets there.

**Refusals.**  The cache also holds the process's :class:`~patchwarden.server.refusals.Refusals`
(the failed-secret budget per client address and the coalesced audit of refused requests):
:meth:`NodeCache.flush_checkins` writes their due audit entries too, in a transaction of
their own and only when something was refused.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio.to_thread

from patchwarden.adapters.storage.credentials import (
    credentials_changed_since,
    node_credential,
    write_checkins,
)
from patchwarden.adapters.storage.secrets import verify
from patchwarden.ports import Clock
from patchwarden.server.db import Database, Reader
from patchwarden.server.refusals import Refusals

SEEN_WRITE_SECONDS = 60.0
"""A node's check-in is written at most this often."""
CHECKIN_SECONDS = 1.0
"""How often recorded check-ins are written."""
FOLLOW_MARGIN = timedelta(seconds=60)
"""How far back each look at ``credential_changed_at`` reaches before the previous one."""


@dataclass
class KnownNode:
    """What authenticating a node needs."""

    credential_hash: str
    name: str
    deregistered: bool
    seen_at: datetime | None


class NodeCache:
    """Per-process node credentials (followed through ``credential_changed_at``) and the
    check-ins waiting to be written."""

    def __init__(
        self,
        db: Database,
        reader: Reader,
        clock: Clock,
        online_seconds: float,
        follow_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.reader = reader
        self.clock = clock
        self.urgent_after = timedelta(seconds=online_seconds / 2)
        self.follow_seconds = follow_seconds
        self._known: dict[str, KnownNode] = {}
        self._followed = float("-inf")
        self._since: datetime | None = None
        self._following: asyncio.Future[None] | None = None
        self._checkins: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self.refusals = Refusals(db, clock)

    async def known(self, node_id: str, secret: str) -> KnownNode | None:
        """The node when ``secret`` is its current credential, else None."""
        if time.monotonic() - self._followed >= self.follow_seconds:
            if self._following is None:
                self._following = asyncio.ensure_future(self._follow())
            await asyncio.shield(self._following)
        found = self._known.get(node_id)
        if found is None or not verify(secret, found.credential_hash):
            found = await self.reader.run(lambda db: self._load(db, node_id))
        if found is None or not verify(secret, found.credential_hash):
            return None
        return found

    def forget(self, node_ids: Iterable[str]) -> None:
        """Drop cached nodes (their rows changed); any thread."""
        for node_id in node_ids:
            self._known.pop(node_id, None)

    def checked_in(self, node_id: str, found: KnownNode, at: datetime) -> bool:
        """Record a check-in of an authenticated node when the stored one is older than
        ``SEEN_WRITE_SECONDS``; True when it should be written now rather than with the next
        batch (the stored one is old enough for the node to look offline soon: coming back
        shows at once)."""
        if found.seen_at is not None and at - found.seen_at < timedelta(seconds=SEEN_WRITE_SECONDS):
            return False
        urgent = found.seen_at is None or at - found.seen_at >= self.urgent_after
        found.seen_at = at
        with self._lock:
            self._checkins[node_id] = at
        return urgent

    async def check_in(self, node_id: str, found: KnownNode) -> None:
        """Every request of an authenticated node is a ping: :meth:`checked_in` now, and
        written at once (on a worker thread) when it is urgent."""
        if self.checked_in(node_id, found, self.clock.now()):
            await anyio.to_thread.run_sync(self.flush_checkins)

    def flush_checkins(self) -> int:
        """Write the recorded check-ins in one statement; how many.  Then the refusals'
        due audit entries (:meth:`Refusals.flush`: nothing, no SQL, when none was refused)."""
        with self._lock:
            batch, self._checkins = self._checkins, {}
        if not batch:
            self.refusals.flush()
            return 0
        try:
            write_checkins(self.db.write, batch)
        except BaseException:
            with self._lock:  # not lost: the next flush writes them (newer ones win)
                for node_id, at in batch.items():
                    self._checkins.setdefault(node_id, at)
            raise
        self.refusals.flush()
        return len(batch)

    def _load(self, db: Database, node_id: str) -> KnownNode | None:
        row = node_credential(db.read, node_id)
        if row is None:
            return None
        found = KnownNode(row.credential_hash, row.name, row.deregistered, row.last_seen_at)
        self._known[node_id] = found
        return found

    async def _follow(self) -> None:
        try:
            started, now = time.monotonic(), self.clock.now()
            since = self._since
            if since is not None:
                cutoff = since - FOLLOW_MARGIN
                changed = await self.reader.run(
                    lambda db: credentials_changed_since(db.read, cutoff)
                )
                self.forget(changed)
            else:  # nothing cached before the first look
                self._known.clear()
            self._since, self._followed = now, started
        finally:
            self._following = None
