"""The governance ports bound to a server session: storage repositories, the server's own
command and audit machinery behind :class:`CommandSender` / :class:`AuditLog`, and the
:class:`SessionUnitOfWork` whose transactions commit before their webhooks are sent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.events import SqlEvents
from patchwarden.adapters.storage.governance.documents import SqlDocuments
from patchwarden.adapters.storage.governance.executions import SqlExecutions
from patchwarden.adapters.storage.governance.fleet import SqlCommandResults, SqlNodes, SqlTags
from patchwarden.adapters.storage.governance.remediations import SqlRemediations
from patchwarden.adapters.storage.governance.resources import SqlResources
from patchwarden.adapters.storage.governance.results import SqlResults
from patchwarden.adapters.storage.tables import Node
from patchwarden.errors import InputError, PatchwardenError
from patchwarden.pipeline.governance.context import Governance, Outbox
from patchwarden.pipeline.governance.records import CommandRequest, Notification, SentCommand
from patchwarden.server.db import DATABASE_ERRORS, Database, Session, is_conflict
from patchwarden.server.errors import ApiError
from patchwarden.server.fleet import commands
from patchwarden.server.fleet.baselines import resolve
from patchwarden.server.fleet.command_schema import SendCommand

T = TypeVar("T")
CONFLICT_ATTEMPTS = 3
"""Times a governance transaction runs when PostgreSQL keeps ending it in a deadlock."""


class ServerCommandSender:
    """:func:`patchwarden.server.fleet.commands.send` as the pipeline's ``CommandSender``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def send(self, request: CommandRequest, at: datetime) -> SentCommand:
        """One command to one node, one at a time and no error allowed."""
        try:
            body = SendCommand.model_validate(
                {
                    "DocumentName": request.document,
                    "InstanceIds": [request.node_id],
                    "Parameters": dict(request.parameters),
                    "MaxConcurrency": "1",
                    "MaxErrors": "0",
                    "Comment": request.comment,
                }
            )
            command = commands.send(self.session, body, request.actor, at)
        except PatchwardenError:
            raise
        except (ValueError, ApiError) as exc:  # refused as the API would answer the request
            raise InputError(str(exc)) from None
        return SentCommand(command.id, command.target_count)


def bind(session: Session, outbox: Outbox) -> Governance:
    """Every governance port over ``session`` (the caller owns its transaction)."""

    def baseline_of(node: Node) -> tuple[dict[str, Any] | None, str]:
        return resolve(session, node, None)

    documents = SqlDocuments(session)
    return Governance(
        catalog=documents,
        documents=documents,
        results=SqlResults(session),
        nodes=SqlNodes(session, baseline_of),
        tags=SqlTags(session),
        remediations=SqlRemediations(session),
        executions=SqlExecutions(session),
        commands=ServerCommandSender(session),
        command_results=SqlCommandResults(session),
        audit=SqlAuditLog(session),
        outbox=outbox,
        events=SqlEvents(session),
        resources=SqlResources(session),
    )


def detached(session: Session) -> Governance:
    """The ports over a session another shell owns: its webhooks wait for the next tick."""
    return bind(session, Outbox(delivers=False))


class SessionUnitOfWork:
    """Write transactions of the server's database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def run(self, work: Callable[[Governance], T]) -> tuple[T, tuple[Notification, ...]]:
        """``work`` in a transaction of its own; its webhooks once it committed.

        A transaction PostgreSQL ends to break a deadlock runs again, up to
        :data:`CONFLICT_ATTEMPTS` times: nothing of it was kept or sent.  States are locked
        in one order (:func:`patchwarden.pipeline.governance.remediation.lock_order`), so
        this is left for rows created meanwhile."""
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            outbox = Outbox()
            try:
                with self.db.write() as session, session.begin():
                    result = work(bind(session, outbox))
            except DATABASE_ERRORS as exc:
                if attempt == CONFLICT_ATTEMPTS or not is_conflict(exc):
                    raise
                continue
            return result, outbox.drain()
        raise AssertionError("unreachable")  # pragma: no cover
