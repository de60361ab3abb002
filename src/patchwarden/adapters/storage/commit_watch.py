"""What a process's own commits changed, told to its in-memory poll state
(:mod:`patchwarden.server.fleet.polling`) through session events: whether commands or invocations
changed, and which nodes' rows did."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from patchwarden.adapters.storage.tables import Command, Invocation, Node

QUIET = "patchwarden.quiet"
"""``session.info`` key: this transaction's invocation changes need no board rebuild (a
claim: the budget it used is spent already)."""
_WORK, _NODES = "patchwarden.work_changed", "patchwarden.nodes_changed"


def follow_commits(
    sessions: sessionmaker[Session],
    work_changed: Callable[[], None],
    nodes_changed: Callable[[Iterable[str]], None],
) -> None:
    """After each commit of a session of ``sessions``: ``work_changed()`` when it changed
    a command or an invocation (unless marked :data:`QUIET`), and ``nodes_changed(ids)``
    with the nodes whose rows it changed (maybe none).  A rollback forgets both."""

    def committed(session: Session) -> None:
        if session.info.pop(_WORK, False):
            work_changed()
        nodes_changed(session.info.pop(_NODES, ()))

    event.listen(sessions, "after_flush", _flushed)
    event.listen(sessions, "after_commit", committed)
    event.listen(sessions, "after_rollback", _rolled_back)


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
