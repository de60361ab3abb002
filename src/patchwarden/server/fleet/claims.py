"""Claims of the poll path: what a node is handed (:func:`delivery_body`), one node's claim
(:func:`claim_one`) and the work board's batch claim for every waiting long-poll
(:func:`claim_waiting`)."""

from __future__ import annotations

from typing import Any

from fastapi.encoders import jsonable_encoder

from patchwarden.adapters.storage import deliveries
from patchwarden.adapters.storage.commit_watch import QUIET
from patchwarden.pipeline.fleet.command_records import CommandRecord, InvocationRecord
from patchwarden.server.db import Database
from patchwarden.server.fleet.commands import resolver
from patchwarden.server.settings import ServerSettings


def delivery_body(inv: InvocationRecord, cmd: CommandRecord) -> dict[str, Any]:
    """One invocation as the agent receives it."""
    params = {k: v for k, v in cmd.parameters.items() if k != "BaselineOverride"}
    return {
        "invocation_id": inv.id,
        "command_id": cmd.id,
        "document_name": cmd.document_name,
        "parameters": params,
        "baseline": inv.baseline,
        "baseline_source": inv.baseline_source,
        "execution_timeout_seconds": cmd.execution_timeout_seconds,
    }


def claim_one(db: Database, settings: ServerSettings, node_id: str) -> list[dict[str, Any]]:
    """What ``node_id`` runs now (its delivered invocations and those it may start)."""
    with db.write() as session, session.begin():
        session.info[QUIET] = True  # the board spent this claim's budget already
        found = deliveries.claim(
            session, node_id, settings.clock.now(), settings.replica_id, resolver
        )
        return [delivery_body(inv, cmd) for inv, cmd in found]


def claim_waiting(
    db: Database, settings: ServerSettings, wanted: dict[str, tuple[str, ...]]
) -> dict[str, list[dict[str, Any]]]:
    """One transaction starting, per command, its whole allowance among the waiting nodes
    ``wanted`` (node → commands with work for it); node → what it is handed (JSON-ready).
    A claim that started something is not quiet: the board rebuilds after it, so the next
    budget (SSM's ramp-up opening) is handed out as soon as it exists."""
    with db.write() as session, session.begin():
        found = deliveries.claim_many(
            session, wanted, settings.clock.now(), settings.replica_id, resolver
        )
        if not found:
            session.info[QUIET] = True
        return {
            node_id: jsonable_encoder([delivery_body(inv, cmd) for inv, cmd in pairs])
            for node_id, pairs in found.items()
        }
