"""A MaintenanceWindow document as the SSM objects the export writes: the window's
fields, its targets (tag targets registered with the window) and its tasks, with a warning
for each setting SSM has no equivalent for."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from patchwarden.documents.window import TaskSpec, WindowSpec, spec_of

WINDOW_TARGET = "patchwarden-window"
OPTIONAL = ("ScheduleOffset", "StartDate", "EndDate")


@dataclass
class Plan:
    """What SSM should hold for one window."""

    window: dict[str, Any]
    enabled: bool
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Target key → RegisterTargetWithMaintenanceWindow's parameters (no WindowId)."""
    tasks: list[tuple[list[str], dict[str, Any]]] = field(default_factory=list)
    """(target keys, RegisterTaskWithMaintenanceWindow's parameters without Targets)."""
    warnings: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str:
        """A digest of everything the plan writes."""
        text = json.dumps([self.window, self.enabled, self.targets, self.tasks], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def _selector(targets: list[Any], plan: Plan) -> list[dict[str, Any]]:
    out = []
    for target in targets:
        key = target.Key
        if key == "PatchGroup":
            key = "tag:Patch Group"
            note = "PatchGroup targets exported as the tag 'Patch Group'"
            if note not in plan.warnings:
                plan.warnings.append(note)
        out.append({"Key": key, "Values": list(target.Values)})
    return out


def _values(parameters: Mapping[str, Any]) -> dict[str, list[str]]:
    """Document parameters as SSM's ``{name: [strings]}``."""
    return {
        k: [str(x) for x in v] if isinstance(v, list) else [str(v)] for k, v in parameters.items()
    }


def _task(task: TaskSpec, plan: Plan) -> dict[str, Any]:
    params: dict[str, Any] = {
        "Name": task.Name,
        "TaskType": task.TaskType,
        "TaskArn": "AWS-RunPatchBaseline" if task.TaskArn == "RunPatchBaseline" else task.TaskArn,
        "Priority": task.Priority,
        "CutoffBehavior": task.CutoffBehavior,
    }
    if task.Description:
        params["Description"] = task.Description
    if not task.targetless:
        waves = task.concurrency
        concurrency = str(waves[0]) if isinstance(waves, list) else waves
        if isinstance(waves, list):
            plan.warnings.append(
                f"task {task.Name}: MaxConcurrency waves {waves} have no SSM "
                f"equivalent: exported {concurrency}"
            )
        params["MaxConcurrency"], params["MaxErrors"] = concurrency, task.errors
    if task.TaskType == "RUN_COMMAND":
        run: dict[str, Any] = {"Parameters": _values(task.run_command.Parameters)}
        if task.run_command.Comment:
            run["Comment"] = task.run_command.Comment
        if task.run_command.TimeoutSeconds is not None:
            run["TimeoutSeconds"] = task.run_command.TimeoutSeconds
        params["TaskInvocationParameters"] = {"RunCommand": run}
    else:
        automation: dict[str, Any] = {"Parameters": _values(task.automation.Parameters)}
        if task.automation.DocumentVersion:
            automation["DocumentVersion"] = task.automation.DocumentVersion
        params["TaskInvocationParameters"] = {"Automation": automation}
    left_out = [
        name
        for name, value in (
            ("PauseBetweenWavesSeconds", task.PauseBetweenWavesSeconds),
            ("PreHook", task.PreHook),
            ("PostHook", task.PostHook),
            ("RebootCoordination", task.RebootCoordination),
        )
        if value
    ]
    if left_out:
        plan.warnings.append(f"task {task.Name}: {', '.join(left_out)} left out (Patchwarden-only)")
    return params


def plan_window(document: Mapping[str, Any]) -> Plan:
    """The SSM objects of a MaintenanceWindow document."""
    spec: WindowSpec = spec_of(document["spec"])
    window: dict[str, Any] = {
        "Name": document["metadata"]["name"],
        "Schedule": spec.Schedule,
        "ScheduleTimezone": spec.ScheduleTimezone,
        "Duration": spec.Duration,
        "Cutoff": spec.Cutoff,
        "AllowUnassociatedTargets": spec.AllowUnassociatedTargets,
    }
    description = document["metadata"].get("description")
    if description:
        window["Description"] = str(description)[:128]
    for name in OPTIONAL:
        if getattr(spec, name) is not None:
            window[name] = getattr(spec, name)
    plan = Plan(window, spec.Enabled)
    if spec.Targets:
        plan.targets["window"] = {
            "Name": WINDOW_TARGET,
            "ResourceType": "INSTANCE",
            "Targets": _selector(spec.Targets, plan),
        }
    for registered in spec.WindowTargets:
        target: dict[str, Any] = {
            "Name": registered.Name or f"target-{registered.WindowTargetId}",
            "ResourceType": "INSTANCE",
            "Targets": _selector(registered.Targets, plan),
        }
        for name in ("Description", "OwnerInformation"):
            if getattr(registered, name):
                target[name] = getattr(registered, name)
        plan.targets[f"id:{registered.WindowTargetId}"] = target
    for task in spec.Tasks:
        if task.WindowTargetIds:
            keys = [f"id:{i}" for i in task.WindowTargetIds]
        elif task.Targets:
            keys = [f"task:{task.Name}"]
            plan.targets[keys[0]] = {
                "Name": f"task-{task.Name}"[:128],
                "ResourceType": "INSTANCE",
                "Targets": _selector(task.Targets, plan),
            }
        elif task.targetless:
            keys = []
        elif "window" in plan.targets:
            keys = ["window"]
        else:
            plan.warnings.append(f"task {task.Name}: no targets: not exported")
            continue
        plan.tasks.append((keys, _task(task, plan)))
    return plan
