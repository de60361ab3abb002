"""The server's own fleet as a host deployment's :class:`~patchwarden.pipeline.host_rollout.
FleetPort`: nodes by patch group and address tag, Install commands sent as
``POST /api/v1/commands`` sends them (audited ``command.send``), and their status read with
timeouts applied first.  Each call is its own short transaction (a run waits for minutes on
a background thread)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from patchwarden.adapters.storage import commands as command_store
from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.targets import target_rows
from patchwarden.core.rollout import CommandStatus
from patchwarden.pipeline.fleet.commands import send_command
from patchwarden.pipeline.fleet.records import TargetSelection
from patchwarden.pipeline.host_rollout import INSTALL_DOCUMENT
from patchwarden.server.db import Database
from patchwarden.server.fleet.command_schema import SendCommand
from patchwarden.server.fleet.commands import fleet, request


class ServerFleet:
    """Nodes and Install commands of the server's database."""

    def __init__(
        self, db: Database, address_tag: str, now: Callable[[], datetime], comment: str = ""
    ) -> None:
        self.db = db
        self.address_tag = address_tag
        self.now = now
        self.comment = comment[:100]

    def nodes(self, patch_group: str) -> list[tuple[str, str]]:
        """``(node id, address tag's value)`` of the active nodes of ``patch_group``."""
        with self.db.read() as session:
            rows = target_rows(session, TargetSelection(patch_groups=(patch_group,)))
            return [(row.id, str((row.tags or {}).get(self.address_tag, ""))) for row in rows]

    def install(self, patch_group: str, actor: str) -> str:
        """Send AWS-RunPatchBaseline Operation=Install to ``patch_group``."""
        body = SendCommand.model_validate(
            {
                "DocumentName": INSTALL_DOCUMENT,
                "Parameters": {"Operation": "Install"},
                "Targets": [{"Key": "PatchGroup", "Values": [patch_group]}],
                "Comment": self.comment,
            }
        )
        with self.db.write() as session, session.begin():
            sent = send_command(
                fleet(session), SqlAuditLog(session), request(body), actor, self.now()
            )
            return sent.id

    def result(self, command_id: str) -> str | None:
        """The command's final status, None while it runs (``Missing`` when gone)."""
        with self.db.write() as session, session.begin():
            found = command_store.refreshed(session, command_id, self.now())
        if found is None:
            return "Missing"
        status = found[0].status
        return status if CommandStatus(status).terminal else None
