"""The work board's reads (:mod:`patchwarden.server.fleet.board`): open commands with their
invocation tallies, the nodes with an InProgress invocation, and the Pending invocations of
the commands that may start more — indexed reads in one read-only session."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patchwarden.adapters.storage.dispatch import PACED_BY_WAVES, Tally, states
from patchwarden.adapters.storage.tables import Command, Invocation
from patchwarden.core.rollout import CommandStatus, InvocationStatus

OPEN = (CommandStatus.PENDING, CommandStatus.IN_PROGRESS, CommandStatus.CANCELLING)
"""The statuses of commands that are not terminal yet."""


@dataclass(frozen=True)
class OpenCommand:
    """A command not terminal yet, with what rate control needs of it."""

    id: str
    concurrency_limit: int
    error_limit: int
    ramp_up: bool
    """Whether SSM's slow start applies (not for commands paced by a window's waves)."""
    stopped: bool
    status: str
    tally: Tally
    """Its invocations by (status, details) → how many."""


class BoardReads:
    """The board's reads, all in one read-only session (:meth:`open`)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    @classmethod
    @contextmanager
    def open(cls, sessions: sessionmaker[Session]) -> Iterator[BoardReads]:
        """The reads over a new session of ``sessions`` (closed at the end)."""
        with sessions() as session:
            yield cls(session)

    def open_commands(self) -> list[OpenCommand]:
        """Every command not terminal yet, with its tally (no tally read when none)."""
        rows = self._session.execute(
            select(
                Command.id,
                Command.concurrency_limit,
                Command.error_limit,
                Command.created_by,
                Command.stopped,
                Command.status,
            ).where(Command.status.in_(OPEN))
        ).all()
        if not rows:
            return []
        tallies = states(self._session, [r.id for r in rows])
        return [
            OpenCommand(
                r.id,
                r.concurrency_limit,
                r.error_limit,
                r.created_by not in PACED_BY_WAVES,
                r.stopped,
                r.status,
                tallies[r.id],
            )
            for r in rows
        ]

    def delivered(self, command_ids: Sequence[str]) -> frozenset[str]:
        """Nodes with an InProgress invocation of one of ``command_ids``."""
        return frozenset(
            self._session.scalars(
                select(Invocation.node_id).where(
                    Invocation.command_id.in_(command_ids),
                    Invocation.status == InvocationStatus.IN_PROGRESS,
                )
            )
        )

    def pending(self, command_ids: Sequence[str]) -> list[tuple[str, str]]:
        """(node id, command id) of the Pending invocations of ``command_ids``, oldest
        first."""
        rows = self._session.execute(
            select(Invocation.node_id, Invocation.command_id)
            .where(
                Invocation.command_id.in_(command_ids),
                Invocation.status == InvocationStatus.PENDING,
            )
            .order_by(Invocation.created_at, Invocation.seq)
        )
        return [(node_id, command_id) for node_id, command_id in rows]
