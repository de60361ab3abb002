"""Invocation delivery under SSM rate control, safe with several server replicas.

Claims, timeouts, cancels and the sweep take the command row ``FOR UPDATE`` (so the
in-flight count and the claim are one decision), then invocation rows: pending ones are
claimed ``FOR UPDATE SKIP LOCKED``, expiring ones locked ``FOR UPDATE`` (PostgreSQL re-checks
their status after a concurrent report commits).  A report locks only its invocation row and
then takes the command row without waiting (``wait=False``): a transaction holding an
invocation row never waits for a command row, so there is no lock cycle, and a busy command
is rolled up by its lock holder's successor or the periodic sweep.  SQLite serialises
writers with ``BEGIN IMMEDIATE`` (see :mod:`.engine`).  Timeouts, the MaxErrors stop and the status
rollup are :mod:`patchwarden.core.rollout`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage import events
from patchwarden.adapters.storage.tables import Command, Invocation, Node
from patchwarden.core import rollout
from patchwarden.core.events import command_finished
from patchwarden.core.rollout import CommandStatus, Details, InvocationStatus

Resolver = Callable[[Session, Node, Command], tuple[dict[str, Any] | None, str]]
"""(session, node, command) → (baseline document or None, where it came from)."""

ACTIVE = (InvocationStatus.PENDING.value, InvocationStatus.IN_PROGRESS.value)
PACED_BY_WAVES = frozenset({"scheduler"})
"""Senders whose commands skip SSM's slow start (:func:`rollout.ramp`): a maintenance window
sends one command per wave and its waves are the ramp-up already."""


RUNNING = (InvocationStatus.IN_PROGRESS.value, InvocationStatus.DELAYED.value)
NOT_FINAL = (*ACTIVE, InvocationStatus.DELAYED.value)
"""Statuses of invocations not over yet (Pending, InProgress, Delayed)."""


def _value(inv: Invocation) -> rollout.Invocation:
    return rollout.Invocation(InvocationStatus(inv.status), inv.status_details)


Tally = Counter[rollout.Invocation]
"""A command's invocations as value → how many (:data:`rollout.Invocations`)."""


def states(session: Session, command_ids: Sequence[str]) -> dict[str, Tally]:
    """Each command's invocations tallied by (status, details), from one ``GROUP BY`` (no
    invocation rows are loaded: a command to 10,000 nodes is a handful of groups)."""
    found: dict[str, Tally] = {ident: Counter() for ident in command_ids}
    if not command_ids:
        return found
    for command_id, status, details, count in session.execute(
        select(Invocation.command_id, Invocation.status, Invocation.status_details, func.count())
        .where(Invocation.command_id.in_(command_ids))
        .group_by(Invocation.command_id, Invocation.status, Invocation.status_details)
    ):
        found[command_id][rollout.Invocation(InvocationStatus(status), details)] += count
    return found


def lock_command(session: Session, command_id: str, *, wait: bool = True) -> Command | None:
    """The command row, locked for this transaction (PostgreSQL; SQLite holds the write
    lock already); without ``wait``, None when another transaction holds it."""
    query = select(Command).where(Command.id == command_id)
    return session.scalar(query.with_for_update(skip_locked=not wait))


def _due(cmd: Command, now: datetime) -> list[ColumnElement[bool]]:
    """Which of ``cmd``'s invocations can have run out of time by ``now`` (no condition:
    none can — Pending ones before the delivery timeout, running ones before the execution
    timeout has passed since the command was sent)."""
    due = []
    if now >= cmd.requested_at + timedelta(seconds=cmd.timeout_seconds):
        due.append(Invocation.status == InvocationStatus.PENDING)
    cutoff = now - timedelta(seconds=cmd.execution_timeout_seconds)
    if cmd.requested_at <= cutoff:  # else nothing has run that long: no query
        started = or_(Invocation.started_at <= cutoff, Invocation.started_at.is_(None))
        due.append(and_(Invocation.status.in_(RUNNING), started))
    return due


def _expire(session: Session, cmd: Command, now: datetime) -> None:
    """Apply :func:`rollout.expire` to the invocations that can have run out of time (SQL
    picks them: :func:`_due`)."""
    due = _due(cmd, now)
    if not due:
        return
    due_rows = select(Invocation).where(Invocation.command_id == cmd.id, or_(*due))
    for inv in session.scalars(due_rows.with_for_update()):  # a report may hold one
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


def refresh(session: Session, cmd: Command, now: datetime) -> Tally:
    """Apply timeouts, stop after too many errors, cancel, and roll the status up; returns
    the invocations' values it rolled up.  The command row must be locked
    (:func:`lock_command`)."""
    if CommandStatus(cmd.status).terminal:
        return Counter()
    _expire(session, cmd, now)
    values = states(session, [cmd.id])[cmd.id]
    if cmd.cancel_requested or rollout.should_stop(values, cmd.error_limit):
        cmd.stopped = True
        details = Details.CANCELLED if cmd.cancel_requested else Details.TERMINATED
        pending = select(Invocation).where(
            Invocation.command_id == cmd.id, Invocation.status == InvocationStatus.PENDING
        )
        for inv in session.scalars(pending.with_for_update()):
            inv.status, inv.status_details = InvocationStatus.CANCELLED, details
            inv.finished_at = now
        values = states(session, [cmd.id])[cmd.id]
    _roll_up(cmd, values)
    if CommandStatus(cmd.status).terminal:  # once: a terminal command is not refreshed
        finished = command_finished(
            now,
            cmd.id,
            cmd.document_name,
            cmd.status,
            cmd.completed_count,
            cmd.error_count,
            cmd.target_count,
        )
        events.record(session, finished)
    return values


def settle(session: Session, cmd: Command, now: datetime, invocation_id: str) -> None:
    """Roll ``cmd`` up after its invocation ``invocation_id`` ended in this transaction
    (a node's report; the command row locked): what :func:`refresh` would write, without
    its tally while other invocations of the command are still Pending or running and
    nothing else can have changed the status — no timeout due, no cancel or stop, MaxErrors
    not reached.  Then the command stays In Progress and only its counts move, so a burst
    of reports from a command to 10,000 nodes does not tally 10,000 invocations per report.
    Otherwise (the last one, an error over the limit, a timeout due): :func:`refresh`."""
    inv = session.get(Invocation, invocation_id)
    assert inv is not None
    ended = _value(inv)
    if (
        CommandStatus(cmd.status).terminal
        or cmd.stopped
        or cmd.cancel_requested
        or not ended.status.terminal
        or cmd.error_count + ended.is_error > cmd.error_limit
        or _due(cmd, now)
        or not _others_active(session, cmd.id, invocation_id)
    ):
        refresh(session, cmd, now)
        return
    cmd.status, cmd.status_details = CommandStatus.IN_PROGRESS.value, Details.IN_PROGRESS.value
    cmd.completed_count += 1
    cmd.error_count += ended.is_error
    cmd.delivery_timed_out_count += ended.details == Details.DELIVERY_TIMED_OUT


def _others_active(session: Session, command_id: str, invocation_id: str) -> bool:
    """Whether an invocation of the command other than ``invocation_id`` is not final."""
    found = session.scalar(
        select(Invocation.id)
        .where(
            Invocation.command_id == command_id,
            Invocation.status.in_(NOT_FINAL),
            Invocation.id != invocation_id,
        )
        .limit(1)
    )
    return found is not None


def _started(values: Tally, count: int = 1) -> Tally:
    """``values`` with ``count`` Pending invocations now InProgress."""
    after = Counter(values)
    running = rollout.Invocation(InvocationStatus.IN_PROGRESS, Details.IN_PROGRESS)
    for value in [v for v, n in values.items() if n and v.status is InvocationStatus.PENDING]:
        moved = min(count, after[value])
        after[value] -= moved
        after[running] += moved
        count -= moved
        if not count:
            break
    return after


def _roll_up(cmd: Command, values: Tally) -> None:
    status, details = rollout.rollup(values, cmd.error_limit, cancel_requested=cmd.cancel_requested)
    counts = rollout.counts(values)
    cmd.status, cmd.status_details = status.value, details.value
    cmd.completed_count = sum(n for v, n in values.items() if v.status.terminal)
    cmd.error_count = counts["errors"]
    cmd.delivery_timed_out_count = counts["delivery_timed_out"]


def refresh_active(session: Session, now: datetime) -> int:
    """Refresh every command not yet terminal (the periodic sweep); returns how many."""
    ids = session.scalars(
        select(Command.id)
        .where(
            Command.status.in_(
                [CommandStatus.PENDING, CommandStatus.IN_PROGRESS, CommandStatus.CANCELLING]
            )
        )
        .order_by(Command.requested_at, Command.id)  # the order every claim locks them in
    ).all()
    for ident in ids:
        cmd = lock_command(session, ident)
        if cmd is not None:
            refresh(session, cmd, now)
    return len(ids)


def _open(session: Session, command_id: str, now: datetime) -> tuple[Command, Tally, int] | None:
    """Lock and refresh a command that may start invocations: (the command, its tally, how
    many Pending invocations rate control lets start now); ``None`` when it is gone, stopped
    or finished."""
    cmd = lock_command(session, command_id)
    if cmd is None:
        return None
    values = refresh(session, cmd, now)
    if cmd.stopped or CommandStatus(cmd.status).terminal:
        return None
    ramp_up = cmd.created_by not in PACED_BY_WAVES
    room = rollout.allowance(values, cmd.concurrency_limit, cmd.error_limit, ramp_up=ramp_up)
    return cmd, values, room


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
        .order_by(Invocation.created_at, Invocation.command_id)
    ).all()
    started: list[Invocation] = []
    for inv_id, command_id in pending:
        opened = _open(session, command_id, now)
        if opened is None or opened[2] < 1:
            continue
        cmd, values, _ = opened
        inv = session.scalar(
            select(Invocation)
            .where(Invocation.id == inv_id, Invocation.status == InvocationStatus.PENDING)
            .with_for_update(skip_locked=True)
        )
        if inv is None:
            continue
        if inv.baseline is None:
            inv.baseline, inv.baseline_source = resolve(session, node, cmd)
        inv.status, inv.status_details = InvocationStatus.IN_PROGRESS, Details.IN_PROGRESS
        inv.started_at, inv.claimed_by = now, replica
        started.append(inv)
        _roll_up(cmd, _started(values))  # under the command lock: values are current

    for inv in (*delivered, *started):
        inv.deliveries += 1
    return [*delivered, *started]


CHUNK = 500
"""Node ids per ``IN`` list of a batch claim."""


def claim_many(
    session: Session,
    wanted: dict[str, tuple[str, ...]],
    now: datetime,
    replica: str,
    resolve: Resolver,
) -> dict[str, list[Invocation]]:
    """One transaction handing out whole rate-control budgets: for each command (oldest
    first, the order of every lock of several commands), lock it once, refresh it once,
    and start up to its allowance of the Pending invocations of the nodes in ``wanted``
    (node → commands with work for it), lowest target sequence first.  Node → the
    invocations it now runs.

    The same decision as :func:`claim` — one lock, one tally, :func:`rollout.allowance` —
    taken once per command instead of once per node, so a fleet waiting on long-polls is
    handed a command to 10,000 nodes in a few transactions rather than 10,000 that queue
    on the command's row lock.  Baselines are resolved once per (OS, patch group)."""
    by_command: dict[str, list[str]] = {}
    for node_id, commands in wanted.items():
        for command_id in commands:
            by_command.setdefault(command_id, []).append(node_id)
    out: dict[str, list[Invocation]] = {}
    for command_id in _lock_order(session, list(by_command)):
        node_ids = by_command[command_id]
        opened = _open(session, command_id, now)
        if opened is None:
            continue
        cmd, values, room = opened
        picked: list[Invocation] = []
        for start in range(0, len(node_ids), CHUNK):
            if len(picked) >= room:
                break
            chunk = node_ids[start : start + CHUNK]
            picked.extend(
                session.scalars(
                    select(Invocation)
                    .where(
                        Invocation.command_id == cmd.id,
                        Invocation.node_id.in_(chunk),
                        Invocation.status == InvocationStatus.PENDING,
                    )
                    .order_by(Invocation.seq)
                    .limit(room - len(picked))
                    .with_for_update(skip_locked=True)
                )
            )
        if not picked:
            continue
        _start_all(session, cmd, picked, now, replica, resolve)
        _roll_up(cmd, _started(values, len(picked)))
        for inv in picked:
            out.setdefault(inv.node_id, []).append(inv)
    return out


def _lock_order(session: Session, command_ids: list[str]) -> list[str]:
    """``command_ids`` oldest first (requested time, then id): every transaction that locks
    several commands (claims, batch claims, the sweep) takes them in this order, so two of
    them never wait for each other (a node's invocations are created with their command)."""
    rows = session.execute(
        select(Command.id)
        .where(Command.id.in_(command_ids))
        .order_by(Command.requested_at, Command.id)
    )
    return [ident for (ident,) in rows]


def _start_all(
    session: Session,
    cmd: Command,
    picked: Sequence[Invocation],
    now: datetime,
    replica: str,
    resolve: Resolver,
) -> None:
    """Mark ``picked`` InProgress (delivered now, by ``replica``), resolving the baselines
    not pinned at send time once per (operating system, patch group)."""
    unpinned = [inv.node_id for inv in picked if inv.baseline is None]
    nodes: dict[str, Node] = {}
    for start in range(0, len(unpinned), CHUNK):
        chunk = unpinned[start : start + CHUNK]
        nodes.update((n.id, n) for n in session.scalars(select(Node).where(Node.id.in_(chunk))))
    resolved: dict[tuple[str, str | None], tuple[dict[str, Any] | None, str]] = {}
    for inv in picked:
        if inv.baseline is None:
            node = nodes[inv.node_id]
            key = (node.operating_system, node.patch_group)
            if key not in resolved:
                resolved[key] = resolve(session, node, cmd)
            inv.baseline, inv.baseline_source = resolved[key]
        inv.status, inv.status_details = InvocationStatus.IN_PROGRESS, Details.IN_PROGRESS
        inv.started_at, inv.claimed_by = now, replica
        inv.deliveries += 1
