"""Maintenance windows: the list with a calendar of the next 14 days' runs
(``/windows``), one window with its executions (``/windows/{name}``), and one execution
with its tasks and the progress of each wave's command
(``/windows/-/executions/{id}``, live while it runs).

Reads are those of ``/api/v1/windows`` (:mod:`patchwarden.server.routes.windows`) and its
views.  The calendar's runs come from the window's own timing — the
:func:`patchwarden.documents.window.timing` the scheduler and the window store build, and
its ``next_after`` — called run after run: no second schedule implementation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from patchwarden.adapters.storage.windows import reads
from patchwarden.core.schedule.zones import zone
from patchwarden.core.windows import ACTIVE, Timing
from patchwarden.documents.window import spec_of, timing
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.windows.records import WindowRecord
from patchwarden.server.db import ReadDB, Settings
from patchwarden.server.web import progress
from patchwarden.server.web.render import page
from patchwarden.server.web.session import ConsoleError, current
from patchwarden.server.windows.api import execution_detail, execution_view, view

router = APIRouter(include_in_schema=False)
CALENDAR_DAYS = 14
MAX_RUNS = 100
"""Runs listed per window in the calendar (a five-minute rate has 4,032 in 14 days)."""
EXECUTIONS = 50
"""Executions a window's page lists (the API's default page)."""


def local(moment: datetime | None, name: str) -> str:
    """``moment`` on the wall clock of the IANA zone ``name`` (``2026-03-08 03:00 CET``)."""
    if moment is None:
        return ""
    try:
        tz = zone(name)
    except PatchwardenError:
        return ""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def upcoming(
    window: WindowRecord, after: datetime, until: datetime
) -> tuple[Timing, list[datetime], bool]:
    """The window's timing as the scheduler builds it, and its scheduled times in
    (``after``, ``until``] as the scheduler computes them (at most :data:`MAX_RUNS`; the flag
    says some were left out); no times when the window is disabled."""
    window_timing = timing(spec_of(window.document["spec"]), anchor=window.created_at)
    runs: list[datetime] = []
    at = window_timing.next_after(after) if window.enabled else None
    while at is not None and at <= until:
        if len(runs) == MAX_RUNS:
            return window_timing, runs, True
        runs.append(at)
        at = window_timing.next_after(at)
    return window_timing, runs, False


def calendar(windows: Sequence[WindowRecord], now: datetime) -> dict[str, Any]:
    """Every enabled window's runs of the next :data:`CALENDAR_DAYS` days, by UTC day."""
    until = now + timedelta(days=CALENDAR_DAYS)
    runs: list[dict[str, Any]] = []
    truncated: list[str] = []
    for window in windows:
        window_timing, times, more = upcoming(window, now, until)
        if more:
            truncated.append(window.name)
        for at in times:
            runs.append(
                {
                    "name": window.name,
                    "at": at,
                    "timezone": window_timing.timezone,
                    "local": local(at, window_timing.timezone),
                    "cutoff": window_timing.cutoff_at(at),
                    "end": window_timing.end_at(at),
                }
            )
    runs.sort(key=lambda r: (r["at"], r["name"]))
    days: list[tuple[date, list[dict[str, Any]]]] = [
        (day, list(items)) for day, items in groupby(runs, key=lambda r: r["at"].date())
    ]
    return {"days": days, "runs": len(runs), "truncated": truncated, "until": until}


@router.get("/windows", response_class=HTMLResponse)
def windows_page(request: Request, session: ReadDB, settings: Settings) -> HTMLResponse:
    """Every window (``GET /api/v1/windows``) and the calendar of their next runs."""
    who = current(request)
    now = settings.clock.now()
    records = reads.windows(session)
    context = {
        "windows": [view(w) for w in records],
        "calendar": calendar(records, now),
        "days": CALENDAR_DAYS,
        "now": now,
        "local": local,
    }
    return page(request, "windows.html", who, context)


@router.get("/windows/-/executions/{execution_id}", response_class=HTMLResponse)
def execution_page(request: Request, execution_id: str, session: ReadDB) -> HTMLResponse:
    """One execution with its tasks (``GET /api/v1/windows/-/executions/{id}``) and the
    progress of each task's waves."""
    who = current(request)
    detail = reads.execution_detail(session, execution_id)
    if detail is None:
        raise ConsoleError(404, f"window execution {execution_id} not found")
    shown = execution_detail(detail)
    timezone = str(detail.execution.document.get("spec", {}).get("ScheduleTimezone", "UTC"))
    context = {
        "execution": shown,
        "tasks": [task_progress(t) for t in shown["tasks"]],
        "buckets": progress.BUCKETS,
        "live": shown["status"] in ACTIVE,
        "timezone": timezone,
        "local": local,
    }
    return page(request, "window_execution.html", who, context)


def task_progress(task: Mapping[str, Any]) -> dict[str, Any]:
    """A task of the execution view with the progress of each wave's Task command (a wave
    whose command is not sent yet counts its nodes as pending) and of its hooks."""
    commands = task["commands"]
    waves: list[dict[str, Any]] = []
    for index, size in enumerate(task["waves"]):
        sent = [c for c in commands if c["wave"] == index and c["phase"] == "Task"]
        statuses = [i["status"] for c in sent for i in c["invocations"]]
        counts = progress.progress(statuses)
        if not sent:
            counts["pending"] = size
        label = f"wave {index + 1}: " + progress.describe(counts)
        waves.append(
            {
                "number": index + 1,
                "size": size,
                "commands": sent,
                "counts": counts,
                "bar": progress.progress_bar(counts, label),
            }
        )
    total = {key: sum(w["counts"][key] for w in waves) for key, _, _, _ in progress.BUCKETS}
    hooks = [c for c in commands if c["phase"] != "Task"]
    return {
        **task,
        "wave_progress": waves,
        "total": total,
        "bar": progress.progress_bar(total, f"{task['task_name']}: {progress.describe(total)}"),
        "hooks": hooks,
    }


@router.get("/windows/{name}", response_class=HTMLResponse)
def window_page(request: Request, name: str, session: ReadDB, settings: Settings) -> HTMLResponse:
    """One window (``GET /api/v1/windows/{name}``), its next runs and its executions
    (``GET /api/v1/windows/{name}/executions``)."""
    who = current(request)
    found = reads.window_executions(session, name, EXECUTIONS)
    if found is None:
        raise ConsoleError(404, f"maintenance window {name} not found")
    window, executions = found
    spec = spec_of(window.document["spec"])
    now = settings.clock.now()
    window_timing, runs, _ = upcoming(window, now, now + timedelta(days=CALENDAR_DAYS))
    context = {
        "window": {**view(window), "document": window.document},
        "spec": spec.model_dump(mode="json", exclude_none=True),
        "runs": runs[:10],
        "timing": window_timing,
        "executions": [execution_view(e, window.name) for e in executions],
        "days": CALENDAR_DAYS,
        "local": local,
    }
    return page(request, "window.html", who, context)
