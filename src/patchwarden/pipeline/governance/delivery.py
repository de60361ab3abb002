"""Webhooks after the commit: queued notifications are sent outside any transaction and
their outcomes fed back to their executions, each batch in a transaction of its own (an
outcome may let an execution reach its next ``notify`` step, hence the rounds)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import TypeVar

from patchwarden.pipeline.governance import remediation, runbooks
from patchwarden.pipeline.governance.context import Governance, UnitOfWork
from patchwarden.pipeline.governance.ports import Notifier
from patchwarden.pipeline.governance.records import Delivery, Notification

T = TypeVar("T")
MAX_ROUNDS = 50
"""Rounds of send → report at most; what is left is sent again by a later tick."""


def deliver(
    uow: UnitOfWork, notifier: Notifier, queued: Sequence[Notification], at: datetime
) -> int:
    """Send ``queued`` (already committed) and report the outcomes; webhooks sent."""
    pending, sent = tuple(queued), 0
    for _ in range(MAX_ROUNDS):
        if not pending:
            break
        outcomes = [(n, notifier.send(n.target, n.payload)) for n in pending]
        sent += len(outcomes)
        _, pending = uow.run(partial(_report, outcomes=tuple(outcomes), at=at))
    return sent


def _report(
    gov: Governance, *, outcomes: Sequence[tuple[Notification, Delivery]], at: datetime
) -> None:
    """Each outcome to its execution, in :func:`.remediation.lock_order` (an execution's
    own outcomes in the order they were sent)."""
    order = remediation.lock_order(gov, list(dict.fromkeys(n.execution_id for n, _ in outcomes)))
    rank = {execution_id: index for index, execution_id in enumerate(order)}
    for notification, delivery in sorted(outcomes, key=lambda o: rank[o[0].execution_id]):
        runbooks.delivered(gov, notification, delivery, at)


def committed(
    uow: UnitOfWork, notifier: Notifier, work: Callable[[Governance], T], at: datetime
) -> T:
    """``work`` in a transaction of its own; the webhooks it queued are sent once it
    committed (none when it raised)."""
    result, queued = uow.run(work)
    deliver(uow, notifier, queued, at)
    return result
