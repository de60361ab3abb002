"""One pass of everything time-driven in governance: periodic rules, runbook executions
(finished commands, compliance, timers, webhooks to send again) and remediation (due marks,
expired exceptions, queued runs).  Each phase commits on its own, then its webhooks go."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from patchwarden.pipeline.governance import evaluation, remediation_runs, runbooks
from patchwarden.pipeline.governance.context import UnitOfWork
from patchwarden.pipeline.governance.delivery import committed
from patchwarden.pipeline.governance.ports import Notifier


def tick(uow: UnitOfWork, notifier: Notifier, now: datetime) -> Counter[str]:
    """Periodic rules, running executions, then remediation marks and queues, once.

    Counts: evaluations per compliance type, ``executions`` looked at and
    ``remediations_started``.
    """
    counts: Counter[str] = Counter()
    counts.update(committed(uow, notifier, lambda gov: evaluation.periodic(gov, now), now))
    counts["executions"] = committed(uow, notifier, lambda gov: runbooks.advance(gov, now), now)
    counts["remediations_started"] = committed(
        uow, notifier, lambda gov: remediation_runs.tick(gov, now), now
    )
    return counts
