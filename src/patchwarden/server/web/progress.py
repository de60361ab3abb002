"""How far a command has got, for the console's command and window-execution pages: its
invocations grouped as pending / in progress / succeeded / failed / cancelled (with a bar),
and the rate-control waves it rolls out in.

The waves are not a second scheduler: :func:`ramp_waves` asks
:func:`patchwarden.core.rollout.allowance` — the function the dispatcher calls — how many
invocations may start after each round, assuming every started one succeeds (SSM's slow
start of :func:`~patchwarden.core.rollout.ramp` for commands an operator sends, plain
MaxConcurrency batches for a maintenance window's, which pace themselves by waves)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from markupsafe import Markup

from patchwarden.adapters.storage.dispatch import PACED_BY_WAVES
from patchwarden.core import rollout
from patchwarden.core.rollout import InvocationStatus
from patchwarden.server.web import charts

BUCKETS: tuple[tuple[str, str, str, tuple[InvocationStatus, ...]], ...] = (
    ("pending", "Pending", "none", (InvocationStatus.PENDING,)),
    ("running", "In progress", "info", (InvocationStatus.IN_PROGRESS, InvocationStatus.DELAYED)),
    ("done", "Succeeded", "ok", (InvocationStatus.SUCCESS,)),
    (
        "failed",
        "Failed",
        "bad",
        (InvocationStatus.FAILED, InvocationStatus.TIMED_OUT, InvocationStatus.UNDELIVERABLE),
    ),
    ("cancelled", "Cancelled", "low", (InvocationStatus.CANCELLED,)),
)
"""(key, label, colour class, invocation statuses) of each group, in the bar's order."""
_BUCKET_OF = {status.value: key for key, _, _, statuses in BUCKETS for status in statuses}
STATUSES = tuple(s.value for s in InvocationStatus)
MAX_WAVES_SHOWN = 12
"""Rows of the waves table; the rest are summed up in one row."""


def progress(statuses: Iterable[str]) -> dict[str, int]:
    """Invocations per group (every group present, 0 when empty)."""
    found = Counter(_BUCKET_OF.get(s, "pending") for s in statuses)
    return {key: found.get(key, 0) for key, _, _, _ in BUCKETS}


def by_status(statuses: Iterable[str]) -> dict[str, int]:
    """Invocations per status (only the statuses present, in the enum's order)."""
    found = Counter(statuses)
    return {s: found[s] for s in STATUSES if found.get(s)}


def progress_bar(counts: Mapping[str, int], label: str) -> Markup:
    """One horizontal bar split by group (widths proportional; the page shows the numbers)."""
    return charts.bar(
        counts,
        [key for key, _, _, _ in BUCKETS],
        label,
        classes={key: colour for key, _, colour, _ in BUCKETS},
        titles={key: title.lower() for key, title, _, _ in BUCKETS},
    )


def describe(counts: Mapping[str, int], what: str = "invocations") -> str:
    """``"3 invocations: 1 pending, 2 succeeded"`` (the bar's label)."""
    total = sum(counts.values())
    parts = ", ".join(
        f"{counts[key]} {title.lower()}" for key, title, _, _ in BUCKETS if counts.get(key)
    )
    noun = what.removesuffix("s") if total == 1 else what
    return f"{total} {noun}" + (f": {parts}" if parts else "")


def ramp_waves(targets: int, concurrency_limit: int, error_limit: int, ramp_up: bool) -> list[int]:
    """How many invocations start in each round when every one succeeds, as
    :func:`rollout.allowance` allows them."""
    sizes: list[int] = []
    pending, answered = targets, 0
    while pending > 0:
        tally: dict[rollout.Invocation, int] = {
            rollout.Invocation(InvocationStatus.PENDING): pending
        }
        if answered:
            tally[rollout.Invocation(InvocationStatus.SUCCESS)] = answered
        room = rollout.allowance(tally, concurrency_limit, error_limit, ramp_up=ramp_up)
        if room < 1:  # pragma: no cover - allowance always lets one start while none run
            break
        sizes.append(room)
        pending -= room
        answered += room
    return sizes


def command_waves(command: Mapping[str, Any], started: int) -> dict[str, Any]:
    """The rate control of a command (its API view) and its waves, each with how many of
    its invocations have started (``started``: invocations no longer Pending, in send order)."""
    targets = int(command["target_count"])
    concurrency = rollout.limit(command["max_concurrency"], targets, concurrency=True)
    errors = rollout.limit(command["max_errors"], targets, concurrency=False)
    ramp_up = command["requested_by"] not in PACED_BY_WAVES
    sizes = ramp_waves(targets, concurrency, errors, ramp_up)
    rows: list[dict[str, Any]] = []
    first = 0
    for number, size in enumerate(sizes, start=1):
        begun = min(size, max(0, started - first))
        rows.append({"wave": str(number), "size": size, "first": first + 1, "started": begun})
        first += size
    if len(rows) > MAX_WAVES_SHOWN:
        rest = rows[MAX_WAVES_SHOWN - 1 :]
        rows = rows[: MAX_WAVES_SHOWN - 1]
        rows.append(
            {
                "wave": f"{rest[0]['wave']} to {rest[-1]['wave']}",
                "size": sum(r["size"] for r in rest),
                "first": rest[0]["first"],
                "started": sum(r["started"] for r in rest),
            }
        )
    return {
        "concurrency_limit": concurrency,
        "error_limit": errors,
        "ramp_up": ramp_up,
        "count": len(sizes),
        "rows": rows,
    }
