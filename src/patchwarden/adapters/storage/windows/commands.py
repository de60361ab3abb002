"""The commands of window tasks' wave phases (``window_task_commands``) and the baseline
snapshot pinned on them: the :class:`~patchwarden.pipeline.windows.ports.PhaseCommands`
and :class:`~patchwarden.pipeline.windows.ports.SnapshotStore` of a session.  Rate control,
timeouts and rollups are :mod:`patchwarden.adapters.storage.dispatch`'s."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage import dispatch
from patchwarden.adapters.storage.tables import (
    Command,
    Invocation,
    Node,
    WindowExecution,
    WindowTaskCommand,
)
from patchwarden.core.rollout import CommandStatus, InvocationStatus
from patchwarden.core.window_machine import PhaseCommand
from patchwarden.pipeline.windows.records import SnapshotInvocation


class SqlPhaseCommands:
    """Wave-phase commands: found by (task, wave, phase), locked and refreshed."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._locked: dict[str, Command] = {}

    def _view(self, cmd: Command, *, refreshed: bool) -> PhaseCommand:
        terminal = CommandStatus(cmd.status).terminal
        succeeded: tuple[str, ...] = ()
        if refreshed and terminal and not cmd.cancel_requested:
            succeeded = tuple(
                self._session.scalars(
                    select(Invocation.node_id).where(
                        Invocation.command_id == cmd.id,
                        Invocation.status == InvocationStatus.SUCCESS,
                    )
                )
            )
        return PhaseCommand(
            command_id=cmd.id,
            terminal=terminal,
            cancel_requested=cmd.cancel_requested,
            error_count=cmd.error_count,
            succeeded=succeeded,
            refreshed=refreshed,
        )

    def lock(self, task_id: str, wave: int, phase: int) -> PhaseCommand | None:
        """The command sent for (wave, phase), locked; None when none was sent."""
        link = self._session.get(WindowTaskCommand, (task_id, wave, phase))
        if link is None:
            return None
        cmd = dispatch.lock_command(self._session, link.command_id)
        assert cmd is not None, link.command_id
        self._locked[cmd.id] = cmd
        return self._view(cmd, refreshed=False)

    def refresh(self, command_id: str, at: datetime, *, cancel: bool) -> PhaseCommand:
        """Request cancellation with ``cancel``, then apply timeouts, MaxErrors and
        cancellation to the (locked) command."""
        cmd = self._locked[command_id]
        if cancel:
            cmd.cancel_requested = True
        dispatch.refresh(self._session, cmd, at)
        return self._view(cmd, refreshed=True)

    def link(self, task_id: str, wave: int, phase: int, command_id: str) -> None:
        """Record the command of the task's (wave, phase)."""
        self._session.add(
            WindowTaskCommand(
                task_execution_id=task_id, wave=wave, phase=phase, command_id=command_id
            )
        )
        self._session.flush()


class SqlSnapshots:
    """An execution's baseline snapshot and the invocations it is pinned on."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._loaded: dict[str, Invocation] = {}

    def _execution(self, execution_id: str) -> WindowExecution:
        row = self._session.get(WindowExecution, execution_id)
        assert row is not None, execution_id
        return row

    def baselines(self, execution_id: str) -> dict[str, Any]:
        """``"patch group|OS"`` → [document, source] resolved so far."""
        return dict(self._execution(execution_id).baselines or {})

    def set_baselines(self, execution_id: str, snapshot: dict[str, Any]) -> None:
        """Replace the execution's snapshot."""
        self._execution(execution_id).baselines = snapshot

    def invocations(self, command_id: str) -> list[SnapshotInvocation]:
        """The command's invocations with their nodes' OS and patch group."""
        rows = self._session.execute(
            select(Invocation, Node)
            .join(Node, Node.id == Invocation.node_id)
            .where(Invocation.command_id == command_id)
        ).all()
        # kept: pinning them changes these rows (the session holds clean rows weakly)
        self._loaded = {inv.id: inv for inv, _ in rows}
        return [
            SnapshotInvocation(inv.id, node.operating_system, node.patch_group)
            for inv, node in rows
        ]

    def set_snapshot_id(self, command_id: str, snapshot_id: str) -> None:
        """Add ``SnapshotId`` to the command's parameters."""
        cmd = self._session.get(Command, command_id)
        assert cmd is not None, command_id
        cmd.parameters = {**cmd.parameters, "SnapshotId": snapshot_id}

    def pin(self, invocation_id: str, baseline: dict[str, Any] | None, source: str) -> None:
        """Give the invocation its baseline now (not at delivery)."""
        inv = self._loaded.get(invocation_id) or self._session.get(Invocation, invocation_id)
        assert inv is not None, invocation_id
        inv.baseline, inv.baseline_source = baseline, source
