"""The agent's crash-safe journal (SQLite, synchronous=FULL).

Before an invocation runs, it is recorded ``started`` (with its payload); when it ends,
``finished`` with the result to report; once the server has acknowledged the result,
``acked``.  After a crash or reboot:

- a ``started`` invocation is never run again: the agent re-scans the root and reports the
  truth (:meth:`patchwarden.agent.loop.Agent.reconcile`);
- a ``finished`` result is resent until acknowledged (the spool).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from patchwarden import wire

_SCHEMA = """
CREATE TABLE IF NOT EXISTS invocations (
  id TEXT PRIMARY KEY, command_id TEXT NOT NULL, state TEXT NOT NULL,
  payload TEXT NOT NULL, result TEXT, started_at TEXT NOT NULL, finished_at TEXT);
"""


class Journal:
    """What this agent started, finished and had acknowledged."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def seen(self, invocation_id: str) -> bool:
        """Whether this invocation was ever started here."""
        row = self._db.execute("SELECT 1 FROM invocations WHERE id = ?", (invocation_id,))
        return row.fetchone() is not None

    def start(self, delivery: wire.Delivery) -> None:
        """Record ``started`` (durably) before anything runs."""
        self._db.execute(
            "INSERT INTO invocations (id, command_id, state, payload, started_at) "
            "VALUES (?, ?, 'started', ?, ?)",
            (
                delivery.invocation_id,
                delivery.command_id,
                json.dumps(delivery.to_json()),
                datetime.now(UTC).isoformat(),
            ),
        )

    def finish(self, invocation_id: str, result: wire.InvocationResult) -> None:
        """Record the result to report."""
        self._db.execute(
            "UPDATE invocations SET state = 'finished', result = ?, finished_at = ? WHERE id = ?",
            (json.dumps(result.to_json()), datetime.now(UTC).isoformat(), invocation_id),
        )

    def ack(self, invocation_id: str) -> None:
        """The server has the result."""
        self._db.execute("UPDATE invocations SET state = 'acked' WHERE id = ?", (invocation_id,))

    def state(self, invocation_id: str) -> str | None:
        """``started``, ``finished``, ``acked`` or ``None``."""
        row = self._db.execute("SELECT state FROM invocations WHERE id = ?", (invocation_id,))
        found = row.fetchone()
        return str(found[0]) if found else None

    def interrupted(self) -> list[wire.Delivery]:
        """Invocations started but never finished (a crash in between)."""
        rows = self._db.execute(
            "SELECT payload FROM invocations WHERE state = 'started' ORDER BY started_at"
        )
        return [wire.Delivery.from_json(json.loads(r[0])) for r in rows]

    def unreported(self) -> list[tuple[str, wire.InvocationResult]]:
        """(invocation id, result) finished but not acknowledged: the spool."""
        rows = self._db.execute(
            "SELECT id, result FROM invocations WHERE state = 'finished' ORDER BY finished_at"
        )
        return [(r[0], wire.InvocationResult.from_json(json.loads(r[1]))) for r in rows]
