"""The poll path's in-memory state of one server process, kept honest by its own commits.

:class:`Polling` pairs the :class:`~patchwarden.server.board.WorkBoard` (who has work)
with the :class:`~patchwarden.server.nodecache.NodeCache` (credentials, check-ins).  Session
events on the app's write sessions tell them what this process changed: a commit touching
commands or invocations marks the board for a rebuild before the next poll, and a commit
touching a node drops it from the cache.  Other replicas' changes arrive through the
board's periodic rebuild and the cache's ``credential_changed_at`` feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any

from fastapi import Request
from sqlalchemy import event
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.tables import Command, Invocation, Node
from patchwarden.server.board import WorkBoard
from patchwarden.server.db import Database, Reader
from patchwarden.server.nodecache import NodeCache
from patchwarden.server.settings import ServerSettings

QUIET = "patchwarden.quiet"
"""``session.info`` key: this transaction's invocation changes need no board rebuild (a
claim: the budget it used is spent already)."""
_WORK, _NODES = "patchwarden.work_changed", "patchwarden.nodes_changed"


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
        polling = cls(WorkBoard(reader, settings.poll_check_interval), nodes, reader)
        event.listen(db.write, "after_flush", _flushed)
        event.listen(db.write, "after_commit", polling._committed)
        event.listen(db.write, "after_rollback", _rolled_back)
        return polling

    def _committed(self, session: Session) -> None:
        if session.info.pop(_WORK, False):
            self.board.changed()
        self.nodes.forget(session.info.pop(_NODES, ()))


def _flushed(session: Session, _context: Any) -> None:
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, Command | Invocation):
            if not session.info.get(QUIET):
                session.info[_WORK] = True
        elif isinstance(obj, Node):
            session.info.setdefault(_NODES, set()).add(obj.id)


def _rolled_back(session: Session) -> None:
    session.info.pop(_WORK, None)
    session.info.pop(_NODES, None)


def polling(request: Request) -> Polling:
    """The app's poll state."""
    value: Polling = request.app.state.polling
    return value
