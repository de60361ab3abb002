"""Applying a MaintenanceWindow document: parsed, checked against what is stored (task
parameters, runbooks, targets) and created or replaced with the scheduler's marker."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from patchwarden.core.schedule import check_fires, parse_schedule
from patchwarden.core.windows import PSEUDO_NAMES, substitute
from patchwarden.documents import parse_documents
from patchwarden.documents.window import WindowDocument, timing
from patchwarden.errors import InputError
from patchwarden.pipeline.fleet.ports import AuditLog
from patchwarden.pipeline.windows.ports import (
    ParameterCheck,
    RunbookCatalog,
    TargetResolver,
    WindowRepository,
)
from patchwarden.pipeline.windows.records import NewWindow, WindowRecord
from patchwarden.pipeline.windows.start import window_nodes

SAMPLE_ID = "00000000-0000-4000-8000-000000000000"
"""What the pseudo-parameters stand for while the parameters are checked."""


@dataclass(frozen=True)
class WindowChecks:
    """What applying a window checks its document against."""

    parameters: ParameterCheck
    runbooks: RunbookCatalog
    targets: TargetResolver


def parse_window(raw: Mapping[str, Any], where: str = "document") -> WindowDocument:
    """A MaintenanceWindow document (envelope)."""
    (doc,) = parse_documents(json.dumps(raw), where + ".json")
    if not isinstance(doc, WindowDocument):
        raise InputError(f"{where}: expected kind MaintenanceWindow, got {doc.kind}")
    return doc


def check_parameters(check: ParameterCheck, doc: WindowDocument) -> None:
    """Every RUN_COMMAND task's and hook's Parameters are valid RunPatchBaseline parameters
    once the pseudo-parameters are filled in (checked when applied, not when the window
    opens)."""
    sample = dict.fromkeys(PSEUDO_NAMES, SAMPLE_ID)
    for index, task in enumerate(doc.spec.Tasks):
        if task.TaskType != "RUN_COMMAND":
            continue
        where = f"spec.Tasks[{index}]"
        given = [("TaskInvocationParameters.RunCommand.Parameters", task.run_command.Parameters)]
        given += [
            (f"{n}.Parameters", h.Parameters)
            for n, h in (("PreHook", task.PreHook), ("PostHook", task.PostHook))
            if h
        ]
        for path, params in given:
            check.check(substitute(params, sample), f"{doc.source}: {where}.{path}")


def check_runbooks(runbooks: RunbookCatalog, doc: WindowDocument) -> None:
    """Every AUTOMATION task names an existing runbook (a runbook deleted later fails the
    task when the window runs, with that detail)."""
    for index, task in enumerate(doc.spec.Tasks):
        if task.TaskType == "AUTOMATION" and not runbooks.exists(task.TaskArn):
            raise InputError(
                f"{doc.source}: spec.Tasks[{index}].TaskArn: runbook {task.TaskArn!r} "
                "does not exist (apply the Runbook first)"
            )


def check_targets(targets: TargetResolver, doc: WindowDocument) -> None:
    """With ``AllowUnassociatedTargets: false`` (the default), the node ids a task names
    (``Targets: [{Key: InstanceIds, …}]``) must be nodes the window's own Targets or its
    registered targets (``WindowTargets``) select now."""
    if doc.spec.AllowUnassociatedTargets:
        return
    named = [
        (index, value)
        for index, task in enumerate(doc.spec.Tasks)
        for target in task.Targets or []
        if target.Key == "InstanceIds"
        for value in target.Values
    ]
    if not named:
        return
    selected = {n.id for n in window_nodes(targets, doc.spec)}
    selectors = [doc.spec.Targets, *(t.Targets for t in doc.spec.WindowTargets)]
    every = any([(t.Key, t.Values) for t in sel] == [("InstanceIds", ["*"])] for sel in selectors)
    for index, value in named:
        if value == "*" and not every:
            raise InputError(
                f"{doc.source}: spec.Tasks[{index}].Targets: InstanceIds * selects nodes beyond "
                "the window's Targets (set spec.AllowUnassociatedTargets: true to allow it)"
            )
        if value != "*" and value not in selected:
            raise InputError(
                f"{doc.source}: spec.Tasks[{index}].Targets: node {value} does not match the "
                "window's Targets (set spec.AllowUnassociatedTargets: true to allow it)"
            )


def check_schedule_fires(doc: WindowDocument, stored: WindowRecord | None, at: datetime) -> None:
    """A schedule with no run left after ``at`` (an ``at()`` in the past, a cron whose year
    field lies in the past) is refused, as AWS does.  Re-applying a window with the schedule
    it already has is not: an ``at()`` window that has run can still be applied unchanged."""
    if stored is not None and stored.document["spec"].get("Schedule") == doc.spec.Schedule:
        return
    try:
        check_fires(parse_schedule(doc.spec.Schedule), at, timezone=doc.spec.ScheduleTimezone)
    except InputError as exc:
        raise InputError(f"{doc.source}: spec: {exc}") from None


def store_window(
    windows: WindowRepository, checks: WindowChecks, doc: WindowDocument, at: datetime
) -> tuple[WindowRecord, bool]:
    """Create or replace the window ``doc`` names; (window, created).  The scheduler's
    marker starts at ``at``: a new window never runs for times before it was created, and
    an update never re-runs past times."""
    check_parameters(checks.parameters, doc)
    check_runbooks(checks.runbooks, doc)
    check_targets(checks.targets, doc)
    stored = windows.by_name(doc.name, lock=True)
    check_schedule_fires(doc, stored, at)
    enabled = doc.spec.Enabled
    created_at = at if stored is None else stored.created_at
    handled_until = at if stored is None else max(stored.handled_until, at)
    next_at = timing(doc.spec, anchor=created_at).next_after(handled_until) if enabled else None
    if stored is None:
        return windows.create(NewWindow(doc.name, doc.to_json(), enabled, at, next_at)), True
    window = replace(
        stored,
        document=doc.to_json(),
        enabled=enabled,
        modified_at=at,
        handled_until=handled_until,
        next_execution_at=next_at,
    )
    windows.update(window)
    return window, False


def apply_window(
    windows: WindowRepository,
    checks: WindowChecks,
    audit: AuditLog,
    doc: WindowDocument,
    actor: str,
    at: datetime,
) -> tuple[WindowRecord, bool]:
    """:func:`store_window`, audited as ``window.create`` or ``window.update``."""
    window, created = store_window(windows, checks, doc, at)
    audit.record(actor, f"window.{'create' if created else 'update'}", window.name, at)
    return window, created
