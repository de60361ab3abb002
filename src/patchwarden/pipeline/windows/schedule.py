"""What came due for one window: each scheduled time the scheduler has not handled yet
becomes an execution — PENDING, SKIPPED_OVERLAPPING while a previous one runs, or FAILED
as missed when its cutoff passed while no server ran (:func:`patchwarden.core.windows.due`).

With several replicas each scheduled time is recorded once: the execution repository
creates it only if none exists for (window, scheduled time), and the window's marker only
moves forward."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from patchwarden.core import windows
from patchwarden.core.events import window_finished
from patchwarden.core.windows import MISSED, Status
from patchwarden.documents.window import spec_of, timing
from patchwarden.pipeline.windows.context import WindowPorts
from patchwarden.pipeline.windows.records import NewExecution, WindowRecord

OVERLAPPING = "the previous execution is running"


def _state(ports: WindowPorts, window: WindowRecord, missed: bool) -> tuple[Status, str]:
    if missed:
        return Status.FAILED, MISSED
    if ports.executions.first_active(window.id) is not None:
        return Status.SKIPPED_OVERLAPPING, OVERLAPPING
    return Status.PENDING, ""


def schedule_window(
    ports: WindowPorts, window_id: str, now: datetime, replica: str
) -> Counter[str]:
    """Record what came due for one window at ``now``; counts by outcome (``missed``,
    ``pending``, ``skipped_overlapping``) of the executions this call created."""
    counts: Counter[str] = Counter()
    window = ports.windows.get(window_id)
    if window is None or not window.enabled:
        return counts
    window_timing = timing(spec_of(window.document["spec"]), anchor=window.created_at)
    due = windows.due(window_timing, now, window.handled_until)
    for at in sorted([*due.missed, *due.start]):
        missed = at in due.missed
        status, details = _state(ports, window, missed)
        over = now if status.terminal else None
        execution = NewExecution(
            window_id=window.id,
            scheduled_for=at,
            status=status,
            status_details=details,
            document=window.document,
            created_at=now,
            started_at=over,
            ended_at=over,
            claimed_by=replica,
        )
        if ports.executions.claim(execution):
            counts["missed" if missed else status.value.lower()] += 1
            if status.terminal:  # missed or skipped: it ends as it is recorded
                ended = window_finished(now, window.name, "", status.value, details, at)
                ports.events.emit(ended)
    ports.windows.mark_handled(
        window.id, due.next_run, due.handled_until, due.handled_until or window.handled_until
    )
    return counts
