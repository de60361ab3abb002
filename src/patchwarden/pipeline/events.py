"""The port use cases announce application events through (:mod:`patchwarden.core.events`).

A use case calls ``events.emit(event)`` where something happens; the shell binds the port
to its transaction, so the event is written to the outbox with the change it announces (and
rolled back with it), logged once the transaction committed and notified later by the
server's delivery loop.  :data:`NO_EVENTS` drops them (callers with nothing to announce to,
tests of other things); :class:`Recorded` keeps them in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from patchwarden.core.events import Event


class Events(Protocol):
    """Where a use case's events go."""

    def emit(self, event: Event) -> None:
        """Announce ``event`` (within the caller's transaction, if any)."""
        ...


class _Dropped:
    """Events nobody listens to."""

    def emit(self, event: Event) -> None:
        """Drop ``event``."""


NO_EVENTS: Events = _Dropped()
"""The :class:`Events` that drops everything."""


@dataclass
class Recorded:
    """Events kept in memory, in order."""

    events: list[Event] = field(default_factory=list)

    def emit(self, event: Event) -> None:
        """Keep ``event``."""
        self.events.append(event)
