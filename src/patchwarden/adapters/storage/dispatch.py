"""Invocation delivery under SSM rate control, safe with several server replicas.

Lock order is always command row, then invocation rows.  On PostgreSQL the command row is
taken ``FOR UPDATE`` (so the in-flight count and the claim are one decision) and pending
invocations are claimed ``FOR UPDATE SKIP LOCKED``; SQLite serialises writers with
``BEGIN IMMEDIATE`` (see :mod:`.engine`).  Timeouts, the MaxErrors stop and the status
rollup are :mod:`patchwarden.core.rollout`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.tables import Command, Invocation, Node
from patchwarden.core import rollout
from patchwarden.core.rollout import CommandStatus, Details, InvocationStatus

Resolver = Callable[[Session, Node, Command], tuple[dict[str, Any] | None, str]]
"""(session, node, command) → (baseline document or None, where it came from)."""

ACTIVE = (InvocationStatus.PENDING.value, InvocationStatus.IN_PROGRESS.value)
PACED_BY_WAVES = frozenset({"scheduler"})
"""Senders whose commands skip SSM's slow start (:func:`rollout.ramp`): a maintenance window
sends one command per wave and its waves are the ramp-up already."""


def _value(inv: Invocation) -> rollout.Invocation:
    return rollout.Invocation(InvocationStatus(inv.status), inv.status_details)


def lock_command(session: Session, command_id: str) -> Command | None:
    """The command row, locked for this transaction (PostgreSQL; SQLite holds the write
    lock already)."""
    return session.scalar(select(Command).where(Command.id == command_id).with_for_update())


def refresh(session: Session, cmd: Command, now: datetime) -> None:
    """Apply timeouts, stop after too many errors, cancel, and roll the status up.
    The command row must be locked (:func:`lock_command`)."""
    if CommandStatus(cmd.status).terminal:
        return
    invs = list(session.scalars(select(Invocation).where(Invocation.command_id == cmd.id)))
    for inv in invs:
        if inv.status not in ACTIVE:
            continue
        after = rollout.expire(
            _value(inv),
            now=now,
            requested_at=cmd.requested_at,
            started_at=inv.started_at,
            delivery_timeout=cmd.timeout_seconds,
            execution_timeout=cmd.execution_timeout_seconds,
        )
        if after.status.value != inv.status:
            inv.status, inv.status_details, inv.finished_at = after.status, after.details, now
    values = [_value(i) for i in invs]
    if cmd.cancel_requested or rollout.should_stop(values, cmd.error_limit):
        cmd.stopped = True
        details = Details.CANCELLED if cmd.cancel_requested else Details.TERMINATED
        for inv in invs:
            if inv.status == InvocationStatus.PENDING:
                inv.status, inv.status_details = InvocationStatus.CANCELLED, details
                inv.finished_at = now
        values = [_value(i) for i in invs]
    status, details = rollout.rollup(values, cmd.error_limit, cancel_requested=cmd.cancel_requested)
    counts = rollout.counts(values)
    cmd.status, cmd.status_details = status.value, details.value
    cmd.completed_count = sum(v.status.terminal for v in values)
    cmd.error_count = counts["errors"]
    cmd.delivery_timed_out_count = counts["delivery_timed_out"]


def refresh_active(session: Session, now: datetime) -> int:
    """Refresh every command not yet terminal (the periodic sweep); returns how many."""
    ids = session.scalars(
        select(Command.id).where(
            Command.status.in_(
                [CommandStatus.PENDING, CommandStatus.IN_PROGRESS, CommandStatus.CANCELLING]
            )
        )
    ).all()
    for ident in ids:
        cmd = lock_command(session, ident)
        if cmd is not None:
            refresh(session, cmd, now)
    return len(ids)


def claim(
    session: Session, node: Node, now: datetime, replica: str, resolve: Resolver
) -> list[Invocation]:
    """What ``node`` should run now: its invocations already delivered but not reported
    (the agent's journal drops what it has seen), plus the pending ones rate control lets
    start."""
    node_invs = select(Invocation).where(Invocation.node_id == node.id)
    delivered = list(
        session.scalars(node_invs.where(Invocation.status == InvocationStatus.IN_PROGRESS))
    )
    pending = session.execute(
        select(Invocation.id, Invocation.command_id)
        .where(Invocation.node_id == node.id, Invocation.status == InvocationStatus.PENDING)
        .order_by(Invocation.created_at, Invocation.seq)
    ).all()
    started: list[Invocation] = []
    for inv_id, command_id in pending:
        cmd = lock_command(session, command_id)
        if cmd is None:
            continue
        refresh(session, cmd, now)
        inv = session.scalar(
            select(Invocation)
            .where(Invocation.id == inv_id, Invocation.status == InvocationStatus.PENDING)
            .with_for_update(skip_locked=True)
        )
        if inv is None or cmd.stopped:
            continue
        values = [
            rollout.Invocation(InvocationStatus(status), details)
            for status, details in session.execute(
                select(Invocation.status, Invocation.status_details).where(
                    Invocation.command_id == cmd.id
                )
            )
        ]
        ramp_up = cmd.created_by not in PACED_BY_WAVES
        if rollout.allowance(values, cmd.concurrency_limit, cmd.error_limit, ramp_up=ramp_up) < 1:
            continue
        if inv.baseline is None:
            inv.baseline, inv.baseline_source = resolve(session, node, cmd)
        inv.status, inv.status_details = InvocationStatus.IN_PROGRESS, Details.IN_PROGRESS
        inv.started_at, inv.claimed_by = now, replica
        started.append(inv)
        refresh(session, cmd, now)
    for inv in (*delivered, *started):
        inv.deliveries += 1
    return [*delivered, *started]
