"""The window ports bound to a server session: the SQL repositories of
:mod:`patchwarden.adapters.storage.windows`, the server's command machinery behind
:class:`~patchwarden.pipeline.windows.ports.CommandSender`, the governance runner behind
:class:`~patchwarden.pipeline.windows.ports.RunbookStarter`, and the
:class:`SessionWindows` unit of work the scheduler's rounds run in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TypeVar

from patchwarden.adapters.storage.baselines import SqlBaselines
from patchwarden.adapters.storage.events import SqlEvents
from patchwarden.adapters.storage.windows.commands import SqlPhaseCommands, SqlSnapshots
from patchwarden.adapters.storage.windows.executions import SqlWindowExecutions
from patchwarden.adapters.storage.windows.runbooks import SqlRunbookRuns
from patchwarden.adapters.storage.windows.targets import SqlWindowTargets
from patchwarden.adapters.storage.windows.tasks import SqlTaskExecutions
from patchwarden.adapters.storage.windows.windows import SqlWindows
from patchwarden.pipeline.windows.context import WindowPorts
from patchwarden.pipeline.windows.records import PhaseRequest
from patchwarden.server.db import Database, WriteDB
from patchwarden.server.fleet import commands
from patchwarden.server.fleet.command_schema import RunParameters, SendCommand
from patchwarden.server.governance import runner

T = TypeVar("T")


class ServerPhaseSender:
    """:func:`patchwarden.server.fleet.commands.send` as the window's ``CommandSender``."""

    def __init__(self, session: WriteDB) -> None:
        self._session = session

    def send(self, request: PhaseRequest, at: datetime) -> str:
        """Validate the parameters as SendCommand does and create the command; its id."""
        body = SendCommand.model_construct(
            DocumentName=request.document_name,
            Parameters=RunParameters.model_validate(request.parameters),
            InstanceIds=list(request.node_ids),
            Targets=[],
            MaxConcurrency=request.max_concurrency,
            MaxErrors=request.max_errors,
            TimeoutSeconds=request.timeout_seconds,
            ExecutionTimeoutSeconds=request.execution_timeout_seconds,
            Comment=request.comment,
        )
        return commands.send(self._session, body, request.actor, at).id


class ServerRunbookStarter:
    """:func:`patchwarden.server.governance.runner.start` as the window's
    ``RunbookStarter`` (the governance loop advances what it starts)."""

    def __init__(self, session: WriteDB) -> None:
        self._session = session

    def start(
        self, runbook: str, parameters: Mapping[str, object], at: datetime, actor: str
    ) -> str:
        """Start ``runbook`` in the session's transaction; its status right after."""
        run = runner.start(self._session, runbook, parameters, at, actor)
        self._session.flush()
        return run.status


def bind(session: WriteDB) -> WindowPorts:
    """Every window port over ``session`` (the caller owns its transaction)."""
    return WindowPorts(
        windows=SqlWindows(session),
        executions=SqlWindowExecutions(session),
        tasks=SqlTaskExecutions(session),
        targets=SqlWindowTargets(session),
        phases=SqlPhaseCommands(session),
        sender=ServerPhaseSender(session),
        snapshots=SqlSnapshots(session),
        baselines=SqlBaselines(session),
        runbooks=SqlRunbookRuns(session),
        starter=ServerRunbookStarter(session),
        events=SqlEvents(session),
    )


class SessionWindows:
    """Transactions of the server's database for the scheduler's use cases."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def write(self, work: Callable[[WindowPorts], T]) -> T:
        """``work`` in a write transaction of its own, committed when it returns."""
        with self.db.write() as session, session.begin():
            return work(bind(session))

    def read(self, work: Callable[[WindowPorts], T]) -> T:
        """``work`` in a read-only session."""
        with self.db.read() as session:
            return work(bind(session))
