"""The poll path's in-memory state of one server process, kept honest by its own commits.

:class:`Polling` pairs the :class:`~patchwarden.server.fleet.board.WorkBoard` (who has work)
with the :class:`~patchwarden.server.fleet.nodecache.NodeCache` (credentials, check-ins).  Session
events on the app's write sessions (:mod:`patchwarden.adapters.storage.commit_watch`) tell
them what this process changed: a commit touching commands or invocations marks the board
for a rebuild before the next poll, and a commit touching a node drops it from the cache.
Other replicas' changes arrive through the board's periodic rebuild and the cache's
``credential_changed_at`` feed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder

from patchwarden.adapters.storage.commit_watch import QUIET as QUIET  # re-exported
from patchwarden.adapters.storage.commit_watch import follow_commits
from patchwarden.server.db import Database, Reader
from patchwarden.server.fleet.board import WorkBoard
from patchwarden.server.fleet.claims import claim_waiting
from patchwarden.server.fleet.nodecache import NodeCache
from patchwarden.server.settings import ServerSettings

POLL_PATH = "/api/v1/agent/commands"
"""The agents' long-poll."""


@dataclass(frozen=True)
class Polling:
    """The board and the node cache of one app."""

    board: WorkBoard
    nodes: NodeCache
    reader: Reader

    @classmethod
    def start(cls, db: Database, settings: ServerSettings) -> Polling:
        """Both, following the commits of ``db``'s write sessions."""
        reader = Reader(db)
        nodes = NodeCache(db, reader, settings.clock, settings.online_seconds)
        batch = partial(claim_waiting, db, settings) if settings.batch_claims else None
        polling = cls(WorkBoard(reader, settings.poll_check_interval, batch), nodes, reader)
        follow_commits(db.write, polling.board.changed, polling.nodes.forget)
        return polling


def polling(request: Request) -> Polling:
    """The app's poll state."""
    value: Polling = request.app.state.polling
    return value


async def next_work(
    board: WorkBoard,
    node_id: str,
    wait: float,
    claim: Callable[[], list[dict[str, Any]]],
    gone: Callable[[], Awaitable[bool]],
) -> list[dict[str, Any]]:
    """What ``node_id`` runs now, waiting up to ``wait`` seconds for work (JSON-ready): what
    a batch claim handed it, else its own claim (``claim``, a write transaction) when the
    board says it has work, else a wait on the board until work comes, the time is up or
    the caller is ``gone``.  The long-poll of both the route and its fast path
    (:mod:`patchwarden.server.fleet.fastpoll`)."""
    deadline = time.monotonic() + wait
    found = board.handed(node_id)  # a batch claim came back just after its previous poll
    if not found and await board.take(node_id, will_wait=wait > 0):
        found = await board.claim(claim)
    while not found:
        left = deadline - time.monotonic()
        if left <= 0 or await gone():
            break
        if await board.wait(node_id, left):
            found = board.handed(node_id) or await board.claim(claim)
    if found:
        board.claimed(node_id)
    encoded: list[dict[str, Any]] = jsonable_encoder(found)
    return encoded
