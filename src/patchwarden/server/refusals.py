"""Refused requests: audited, coalesced, and budgeted per client address (per process).

**Audit.**  Every refusal — a missing, wrong or revoked operator token or node credential
(``auth.refused``), a failed registration (``register.refused``), a node touching another
node's invocation (``access.refused``) — is recorded here in memory, keyed by (client
address, action).  :meth:`Refusals.flush` writes at most one audit entry per key and
``AUDIT_EVERY`` (a minute), in one short transaction of its own: the actor is the claimed
identity (``token-id:<id>``, ``node:<id>``, ``activation:<id>``, ``anonymous``; never the
secret), the target the client address, and the detail how many refusals the entry stands
for.  A key's first entry is written once its first refusal is :data:`SETTLE` old (a burst
becomes one entry), the next ones a minute after the previous one, so a flood of guesses
costs the audit table one row a minute per address.  Writes are batched like check-ins: the
check-in writer (:meth:`~patchwarden.server.fleet.nodecache.NodeCache.flush_checkins`, every
second) flushes; nothing is written while nothing is refused (the poll path stays free of
SQL), and never in a refused request's own transaction (which rolls back).

**Budget.**  Each wrong secret (an unknown or revoked token, a wrong node credential, a
wrong activation code) counts against its client address; after ``BUDGET`` of them within
``WINDOW`` the edge middleware answers 429 ``too_many_requests`` (``Retry-After``) to every
request from that address carrying a credential, and to its registrations, until the
window passes — before any secret is looked up or hashed.  Other addresses are unaffected.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from patchwarden.adapters.storage import audit_log
from patchwarden.ports import Clock
from patchwarden.server.db import Database

BUDGET = 20
"""Wrong secrets one client address may send within :data:`WINDOW`."""
WINDOW = timedelta(seconds=60)
"""The failed-secret budget's window (from the first failure of the address)."""
AUDIT_EVERY = timedelta(seconds=60)
"""At most one audit entry per (client address, action) this often."""
SETTLE = timedelta(seconds=1)
"""How old a key's first refusal is before its first entry is written."""
MAX_KEYS = 10_000
"""How many addresses (and keys) are tracked at most; beyond, they share one key."""
MAX_IDENTITIES = 10
"""How many distinct claimed identities one audit entry lists."""
_IDENT_CHARS = 64
OTHER = "*"
"""The source standing for addresses past :data:`MAX_KEYS`."""

AUTH = "auth.refused"
REGISTER = "register.refused"
ACCESS = "access.refused"


def source_of(scope: Any) -> str:
    """The client address of an ASGI scope (or of anything with a ``scope``, a request)."""
    scope = getattr(scope, "scope", scope)
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def claimed(kind: str, ident: str) -> str:
    """The actor naming a claimed identity (shortened: the caller chose it)."""
    return f"{kind}:{ident[:_IDENT_CHARS]}"


@dataclass
class _Pending:
    count: int = 0
    identities: list[str] = field(default_factory=list)
    status: int = 0
    code: str = ""
    first_at: datetime | None = None
    last_at: datetime | None = None
    written_at: datetime | None = None


class Refusals:
    """The refusals of one process (see the module docstring); any thread."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        budget: int = BUDGET,
        window: timedelta = WINDOW,
        audit_every: timedelta = AUDIT_EVERY,
        settle: timedelta = SETTLE,
    ) -> None:
        self.db = db
        self.clock = clock
        self.budget = budget
        self.window = window
        self.audit_every = audit_every
        self.settle = settle
        self._failures: dict[str, tuple[datetime, int]] = {}
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._lock = threading.Lock()

    # -- the budget ----------------------------------------------------------------------

    def retry_after(self, source: str) -> int | None:
        """Seconds until ``source`` may send credentials again, or None when it may now.
        No failure anywhere (the common case) costs one test of an empty dict."""
        if not self._failures:
            return None
        entry = self._failures.get(source)
        if entry is None or entry[1] < self.budget:
            return None
        left = (entry[0] + self.window - self.clock.now()).total_seconds()
        if left <= 0:
            with self._lock:
                if self._failures.get(source) == entry:
                    del self._failures[source]
            return None
        return max(1, math.ceil(left))

    def _failed(self, source: str, at: datetime) -> None:
        entry = self._failures.get(source)
        if entry is None or at >= entry[0] + self.window:
            if entry is None and len(self._failures) >= MAX_KEYS:
                self._prune_failures(at)
                if len(self._failures) >= MAX_KEYS:
                    source = OTHER
                    entry = self._failures.get(source)
            if entry is None or at >= entry[0] + self.window:
                self._failures[source] = (at, 1)
                return
        self._failures[source] = (entry[0], entry[1] + 1)

    def _prune_failures(self, at: datetime) -> None:
        for key, (started, _) in list(self._failures.items()):
            if at >= started + self.window:
                del self._failures[key]

    # -- the audit -----------------------------------------------------------------------

    def refused(
        self,
        source: str,
        action: str,
        actor: str,
        status: int,
        code: str,
        *,
        wrong_secret: bool = False,
    ) -> bool:
        """Record one refusal (``wrong_secret``: it counts against the budget) for the
        audit (:meth:`flush` writes it); True when it is the first of its key."""
        at = self.clock.now()
        with self._lock:
            if wrong_secret:
                self._failed(source, at)
            key = (source, action)
            pending = self._pending.get(key)
            if pending is None:
                if len(self._pending) >= MAX_KEYS:
                    self._prune_pending(at)
                    if len(self._pending) >= MAX_KEYS:
                        key = (OTHER, action)
                pending = self._pending.setdefault(key, _Pending())
            if pending.count == 0:
                pending.first_at = at
            pending.count += 1
            pending.last_at = at
            pending.status, pending.code = status, code
            if actor not in pending.identities and len(pending.identities) < MAX_IDENTITIES:
                pending.identities.append(actor)
            return pending.written_at is None and pending.count == 1

    def _due(self, pending: _Pending, at: datetime) -> bool:
        if pending.count == 0 or pending.first_at is None:
            return False
        if pending.written_at is None:
            return at - pending.first_at >= self.settle
        return at - pending.written_at >= self.audit_every

    def _prune_pending(self, at: datetime) -> None:
        for key, pending in list(self._pending.items()):
            if pending.count == 0 and not self._due_after_write(pending, at):
                del self._pending[key]

    def _due_after_write(self, pending: _Pending, at: datetime) -> bool:
        """Whether the entry still holds back later refusals (written under a minute ago)."""
        return pending.written_at is not None and at - pending.written_at < self.audit_every

    def flush(self) -> int:
        """Write the due audit entries in one transaction; how many.  Nothing refused, no
        SQL."""
        if not self._pending:
            return 0
        at = self.clock.now()
        with self._lock:
            due = [(k, p) for k, p in self._pending.items() if self._due(p, at)]
            taken = [(key, _Pending(**vars(p))) for key, p in due]
            for _, pending in due:
                pending.count, pending.identities = 0, []
                pending.written_at = at
            self._prune_pending(at)
            if at >= min((s for s, _ in self._failures.values()), default=at) + self.window:
                self._prune_failures(at)
        if not taken:
            return 0
        try:
            with self.db.write() as session, session.begin():
                for (source, action), p in taken:
                    detail = {
                        "client": source,
                        "count": p.count,
                        "status": p.status,
                        "code": p.code,
                        "identities": p.identities,
                        "first_at": p.first_at.isoformat() if p.first_at else None,
                        "last_at": p.last_at.isoformat() if p.last_at else None,
                    }
                    actor = p.identities[0] if p.identities else "anonymous"
                    audit_log.record(session, actor, action, source[:256], at, detail)
        except BaseException:
            with self._lock:  # not lost: counted into the next entry of the key
                for key, p in taken:
                    now = self._pending.setdefault(key, _Pending())
                    now.count += p.count
                    now.first_at = p.first_at
                    now.written_at = p.written_at
                    for ident in p.identities:
                        if ident not in now.identities and len(now.identities) < MAX_IDENTITIES:
                            now.identities.append(ident)
            raise
        return len(taken)
