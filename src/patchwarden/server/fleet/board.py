"""Which nodes have work: one view per process instead of a database read per poll.

A poll (``GET /api/v1/agent/commands``) asks the board; only a node the board names goes on
to the database, where :func:`~patchwarden.adapters.storage.dispatch.claim` decides under
the command lock.  An idle poll therefore touches no database at all.

The board is rebuilt by one set of reads at most every ``interval`` seconds while polls
arrive or long-polls wait, and as soon as this process has committed a change to commands
or invocations (:meth:`WorkBoard.changed`; at most every ``MIN_GAP``): a command sent
through one replica reaches a node polling that replica at once, and one polling another
replica within ``interval``.

Per command the board keeps a *claim budget*: how many Pending invocations rate control
lets start now (:func:`~patchwarden.core.rollout.allowance`, ramp-up included).  Each node
sent to the database spends one unit, so a command to 10,000 nodes with MaxConcurrency 50
sends about 50 nodes per interval to the database rather than every polling node.  Nodes
with an InProgress invocation always go (their agent is handed it again after a restart;
its journal decides).

Waiting long-polls park on a future.  Each rebuild hands out work to all of them at once:
one batch claim (:func:`patchwarden.server.fleet.claims.claim_waiting`) locks each command
with work for a waiting node once, starts as many of their Pending invocations as rate
control allows, and the rebuild wakes those nodes with what they were handed — so a
command to 10,000 waiting nodes is a handful of transactions, not 10,000 that queue on its
row lock.  A node with an InProgress invocation is woken to claim alone (it is handed it
again).  The batch runs in the background, one at a time, so polls never wait for it; what
it hands a node whose poll has just ended is kept for that node's next poll
(:meth:`WorkBoard.handed`); and a node that will wait anyway leaves its claim to the next
batch (:meth:`WorkBoard.take`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from patchwarden.adapters.storage.board_reads import BoardReads
from patchwarden.core import rollout
from patchwarden.core.rollout import CommandStatus
from patchwarden.server.db import Database, Reader

log = logging.getLogger("patchwarden.server")
T = TypeVar("T")
Batch = Callable[[dict[str, tuple[str, ...]]], dict[str, list[dict[str, Any]]]]
"""The batch claim: waiting node → commands with work for it, to node → what it was
handed (:func:`patchwarden.server.fleet.claims.claim_waiting` bound to a database)."""
MIN_GAP = 0.1
"""Seconds between two rebuilds at the least (a burst of local commits costs one)."""
COST_GAP = 2.0
"""... and at least this many times the last snapshot's time: under load (10,000 polling
connections on one interpreter) a snapshot takes longer, and back-to-back rebuilds would
keep a reader thread competing for the interpreter with the polls, reports and claims
they serve."""
CLAIMS_AT_ONCE = 4
"""Claim transactions one process runs at the same time."""
BURST = 16
"""Claims of one command a rebuild lets through at most: claims queue on the command row
lock, so more at once only ties up threads and connections (the rest go next rebuild)."""


@dataclass(frozen=True)
class Snapshot:
    """The work of the fleet at one moment."""

    delivered: frozenset[str] = frozenset()
    """Nodes with an InProgress invocation."""
    pending: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Node → commands (oldest first) with a Pending invocation for it and budget left."""
    budget: dict[str, int] = field(default_factory=dict)
    """Command → how many Pending invocations may start now (at most ``BURST``)."""
    capped: frozenset[str] = frozenset()
    """Commands that could start more than ``BURST`` (spent: rebuild at once)."""


def snapshot(db: Database) -> Snapshot:
    """Read the current work: three indexed reads over the commands not yet terminal."""
    with BoardReads.open(db.read) as reads:
        commands = reads.open_commands()
        if not commands:
            return Snapshot()
        budget: dict[str, int] = {}
        capped: set[str] = set()
        for c in commands:
            if c.stopped or c.status == CommandStatus.CANCELLING:
                continue
            room = rollout.allowance(c.tally, c.concurrency_limit, c.error_limit, ramp_up=c.ramp_up)
            if room > 0:
                budget[c.id] = min(room, BURST)
                if room > BURST:
                    capped.add(c.id)
        delivered = reads.delivered([c.id for c in commands])
        pending: dict[str, list[str]] = defaultdict(list)
        if budget:
            for node_id, command_id in reads.pending(list(budget)):
                pending[node_id].append(command_id)
        pending_of = {n: tuple(c) for n, c in pending.items()}
        return Snapshot(delivered, pending_of, budget, frozenset(capped))


class WorkBoard:
    """The process's view of which nodes have work, and its waiting long-polls."""

    def __init__(self, reader: Reader, interval: float, batch: Batch | None = None) -> None:
        self.reader = reader
        self.interval = interval
        self.batch = batch
        self._handed: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        """Node → (when, what) a batch claim handed it, until its poll takes it."""
        self._snap = Snapshot()
        self._budget: dict[str, int] = {}
        self._delivered: set[str] = set()
        self._built = float("-inf")
        self._dirty = True
        self._building: asyncio.Future[None] | None = None
        self._events: dict[str, set[asyncio.Future[bool]]] = {}
        """Node → the futures its waiting long-polls park on (True: woken for work)."""
        self._watcher: asyncio.Task[None] | None = None
        self._kick: asyncio.Event | None = None
        self._claims: anyio.CapacityLimiter | None = None
        self._claims_loop: asyncio.AbstractEventLoop | None = None
        self._handing: asyncio.Task[None] | None = None
        self._cost = 0.0
        """Seconds the last snapshot took."""
        self._deferred = False

    def changed(self) -> None:
        """This process committed a change to commands or invocations (any thread): the
        next poll rebuilds first, and waiting polls get a rebuild now (at most every
        ``MIN_GAP``) rather than at the end of the interval."""
        self._dirty = True
        watcher, kick = self._watcher, self._kick
        if watcher is not None and kick is not None and not watcher.done():
            with contextlib.suppress(RuntimeError):  # its loop has just closed
                watcher.get_loop().call_soon_threadsafe(kick.set)

    async def take(self, node_id: str, *, will_wait: bool = False) -> bool:
        """Whether ``node_id`` should claim now (spends a unit of its command's budget).

        With batch claims, a node that ``will_wait`` for work anyway does not claim alone:
        it is left to the batch of the next rebuild, brought forward (at most a gap away),
        so a fleet re-polling during a fan-out does not queue single claims on the
        command's row lock.  A node with an InProgress invocation still claims (it is
        handed it again)."""
        for _ in range(2):  # a commit during a rebuild already under way needs one more
            if not self._dirty and time.monotonic() - self._built < self.interval:
                break
            await self._rebuild()
        if will_wait and self.batch is not None and node_id not in self._delivered:
            if any(self._budget.get(c, 0) > 0 for c in self._snap.pending.get(node_id, ())):
                self.changed()
            return False
        return self._spend(node_id)

    async def wait(self, node_id: str, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until a rebuild finds work for ``node_id`` (and
        spends its budget); whether it did."""
        loop = asyncio.get_running_loop()
        parked: asyncio.Future[bool] = loop.create_future()
        self._events.setdefault(node_id, set()).add(parked)
        if self._watcher is None or self._watcher.done() or self._watcher.get_loop() is not loop:
            self._kick = asyncio.Event()
            if self._dirty:
                self._kick.set()
            self._watcher = asyncio.create_task(self._watch(self._kick))
        timer = loop.call_later(timeout, _settle, parked, False)  # lighter than wait_for
        try:
            return await parked
        finally:
            timer.cancel()
            mine = self._events.get(node_id)
            if mine is not None:
                mine.discard(parked)
                if not mine:
                    del self._events[node_id]

    async def claim(self, fn: Callable[[], T]) -> T:
        """Run the claim ``fn`` on a worker thread, at most ``CLAIMS_AT_ONCE`` at a time:
        claims of one command queue on its row lock, and more of them at once would only
        hold threads and connections that reports and uploads need (they wait here, on
        the event loop, instead)."""
        loop = asyncio.get_running_loop()
        if self._claims is None or self._claims_loop is not loop:
            self._claims, self._claims_loop = anyio.CapacityLimiter(CLAIMS_AT_ONCE), loop
        return await anyio.to_thread.run_sync(fn, limiter=self._claims)

    def handed(self, node_id: str) -> list[dict[str, Any]]:
        """What a batch claim handed ``node_id`` (once; ``[]``: nothing).  Kept for a node
        whose long-poll had just ended when the batch came back, so its next poll takes it
        without a claim; dropped once a snapshot taken after it no longer shows the node
        with an InProgress invocation (reported, or handed again by another replica)."""
        return self._handed.pop(node_id, (0.0, []))[1]

    def claimed(self, node_id: str) -> None:
        """``node_id`` was just handed invocations (so it has InProgress ones until the next
        rebuild says otherwise)."""
        self._delivered.add(node_id)

    def _spend(self, node_id: str) -> bool:
        if node_id in self._delivered:
            return True
        for command_id in self._snap.pending.get(node_id, ()):
            left = self._budget.get(command_id, 0)
            if left > 0:
                self._budget[command_id] = left - 1
                if left == 1 and command_id in self._snap.capped:
                    self.changed()  # more may start: the next burst after MIN_GAP
                return True
        return False

    async def _rebuild(self) -> None:
        if self._building is None or self._building.get_loop() is not asyncio.get_running_loop():
            self._building = asyncio.ensure_future(self._build())
        await asyncio.shield(self._building)

    async def _build(self) -> None:
        try:
            gap = max(MIN_GAP, COST_GAP * self._cost) - (time.monotonic() - self._built)
            if gap > 0:
                await asyncio.sleep(gap)
            self._dirty = False
            self._built = started = time.monotonic()
            try:
                snap = await self.reader.run(snapshot)
            except BaseException:
                self._dirty = True  # the next poll tries again
                raise
            self._cost = time.monotonic() - started
            self._snap, self._budget, self._delivered = snap, dict(snap.budget), set(snap.delivered)
            self._handed = {
                n: got for n, got in self._handed.items() if got[0] > started or n in snap.delivered
            }
            waiting = {
                n: snap.pending[n]
                for n in self._events
                if n in snap.pending and n not in self._delivered and n not in self._handed
            }
            if self.batch is not None and waiting:
                self._start_hand_out(self.batch, waiting)
            for node_id, events in list(self._events.items()):
                if node_id not in waiting and self._spend(node_id):
                    for parked in events:
                        _settle(parked, True)
        finally:
            self._building = None

    def _start_hand_out(self, batch: Batch, waiting: dict[str, tuple[str, ...]]) -> None:
        """Hand out to ``waiting`` in the background, one batch at a time: polls arriving
        meanwhile go on (they wait or take the new snapshot's budget) instead of queueing
        behind the batch; a rebuild during a batch leaves its waiting nodes to the rebuild
        that follows it."""
        busy = self._handing
        if busy is not None and not busy.done() and busy.get_loop() is asyncio.get_running_loop():
            self._deferred = True
            return
        self._handing = asyncio.ensure_future(self._hand_out(batch, waiting))

    async def _hand_out(self, batch: Batch, waiting: dict[str, tuple[str, ...]]) -> None:
        """One batch claim for the waiting nodes; wake those it handed work to.  When it
        fails, they claim one by one as before (the board's budget applies).  The batch has
        a worker thread of its own: neither the claims of single polls nor the sync routes
        (a burst of reports) make it queue for one."""
        try:
            handed = await anyio.to_thread.run_sync(
                lambda: batch(waiting), limiter=anyio.CapacityLimiter(1)
            )
        except Exception:
            log.exception("batch claim failed: waiting nodes claim one by one")
            for node_id in waiting:
                if self._spend(node_id):
                    for parked in self._events.get(node_id, ()):
                        _settle(parked, True)
            return
        finally:
            if self._deferred:
                self._deferred = False
                self.changed()
        at = time.monotonic()
        for node_id, bodies in handed.items():
            self._delivered.add(node_id)
            self._handed[node_id] = (at, bodies)
            for parked in self._events.get(node_id, ()):
                _settle(parked, True)

    async def _watch(self, kick: asyncio.Event) -> None:
        while self._events:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(kick.wait(), self.interval)
            kick.clear()
            if not self._events:
                return
            try:
                await self._rebuild()
            except Exception:  # the next tick retries; waiters still end at their deadline
                log.exception("work board rebuild failed")


def _settle(parked: asyncio.Future[bool], woken: bool) -> None:
    """End a parked long-poll's wait: ``woken`` for work, or its time is up."""
    if not parked.done():
        parked.set_result(woken)
