"""One scheduler round: what came due for every enabled window, then every active
execution advanced — each in a transaction of its own, so a replica dying mid-step loses
nothing and any replica resumes.  One broken window or execution does not stop the
others: a window is retried at the next round, an execution that fails to advance is
ended FAILED with the error as its details."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from patchwarden.pipeline.windows.advance import fail_execution, run_execution
from patchwarden.pipeline.windows.context import UnitOfWork, WindowPorts
from patchwarden.pipeline.windows.schedule import schedule_window

log = logging.getLogger("patchwarden.scheduler")


def _schedule(uow: UnitOfWork, window_id: str, now: datetime, replica: str) -> Counter[str]:
    def work(ports: WindowPorts) -> Counter[str]:
        return schedule_window(ports, window_id, now, replica)

    return uow.write(work)


def _advance(uow: UnitOfWork, execution_id: str, now: datetime, replica: str) -> bool:
    def work(ports: WindowPorts) -> bool:
        return run_execution(ports, execution_id, now, replica)

    return uow.write(work)


def _fail(uow: UnitOfWork, execution_id: str, now: datetime, details: str) -> None:
    def work(ports: WindowPorts) -> None:
        fail_execution(ports.executions, execution_id, now, details, ports.events)

    uow.write(work)


def tick(uow: UnitOfWork, now: datetime, replica: str = "") -> Counter[str]:
    """One round at ``now``: due executions, then every active execution.

    Counts: created executions by outcome (:func:`schedule_window`), ``advanced`` and
    ``errors``.
    """
    counts: Counter[str] = Counter()
    for window_id in uow.read(lambda ports: ports.windows.enabled_ids()):
        try:
            counts.update(_schedule(uow, window_id, now, replica))
        except Exception:  # one broken window must not stop the others
            log.exception("scheduling window %s failed", window_id)
            counts["errors"] += 1
    for execution_id in uow.read(lambda ports: ports.executions.active_ids()):
        try:
            counts["advanced"] += _advance(uow, execution_id, now, replica)
        except Exception as exc:  # recorded on the execution rather than retried forever
            log.exception("window execution %s failed to advance", execution_id)
            counts["errors"] += 1
            _fail(uow, execution_id, now, f"internal error: {type(exc).__name__}: {exc}")
    return counts
