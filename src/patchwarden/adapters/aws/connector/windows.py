"""Export Patchwarden maintenance windows to SSM: the window, its targets (tag targets
registered with the window) and its tasks (RUN_COMMAND AWS-RunPatchBaseline, AUTOMATION).

A window is found by its exact name.  Settings SSM has no equivalent for (wave lists of
MaxConcurrency, pauses between waves, hooks, reboot coordination) are left out with a
warning.  SSM cannot read back a task's invocation parameters cheaply, so the export tags
the window with a digest of what it wrote (``patchwarden:digest``); a window whose fields,
target and task names and digest match is ``unchanged``, else its targets and tasks are
registered anew.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from patchwarden.adapters.aws.connector.common import call, pages
from patchwarden.adapters.aws.connector.export import MANAGED_TAG, Outcome
from patchwarden.adapters.aws.connector.window_plan import OPTIONAL, Plan, plan_window

DIGEST_TAG = "patchwarden:digest"
_REQUIRED = ("Schedule", "ScheduleTimezone", "Duration", "Cutoff", "AllowUnassociatedTargets")
_COMPARED = (
    "Schedule",
    "ScheduleTimezone",
    "Duration",
    "Cutoff",
    "AllowUnassociatedTargets",
    "Description",
    *OPTIONAL,
)


def _find(ssm: Any, name: str) -> str | None:
    filters = [{"Key": "Name", "Values": [name]}]
    for found in pages(
        ssm, "ssm", "describe_maintenance_windows", "WindowIdentities", Filters=filters
    ):
        if found.get("Name") == name:
            return str(found["WindowId"])
    return None


def _same(ssm: Any, window_id: str, plan: Plan) -> tuple[bool, bool]:
    """(the window's own fields match, everything matches)."""
    current = call(ssm, "ssm", "get_maintenance_window", WindowId=window_id)
    fields = all(
        current.get(k) == plan.window.get(k)
        for k in _COMPARED
        if k in current or k not in _REQUIRED  # GetMaintenanceWindow answers the required
    )
    fields = fields and bool(current.get("Enabled", True)) == plan.enabled
    tags = call(
        ssm, "ssm", "list_tags_for_resource", ResourceType="MaintenanceWindow", ResourceId=window_id
    )
    digest = {t["Key"]: t["Value"] for t in tags.get("TagList", [])}.get(DIGEST_TAG)
    targets = _targets(ssm, window_id)
    tasks = _tasks(ssm, window_id)
    names = sorted(str(t.get("Name")) for t in targets)
    wanted = sorted(str(t["Name"]) for t in plan.targets.values())
    task_names = sorted(str(t.get("Name")) for t in tasks)
    same = names == wanted and task_names == sorted(p["Name"] for _, p in plan.tasks)
    return fields, fields and same and digest == plan.digest


def _targets(ssm: Any, window_id: str) -> list[Any]:
    return list(
        pages(ssm, "ssm", "describe_maintenance_window_targets", "Targets", WindowId=window_id)
    )


def _tasks(ssm: Any, window_id: str) -> list[Any]:
    return list(pages(ssm, "ssm", "describe_maintenance_window_tasks", "Tasks", WindowId=window_id))


def _register(ssm: Any, window_id: str, plan: Plan) -> None:
    ids = {}
    for key, target in plan.targets.items():
        made = call(
            ssm, "ssm", "register_target_with_maintenance_window", WindowId=window_id, **target
        )
        ids[key] = str(made["WindowTargetId"])
    for keys, task in plan.tasks:
        extra = {"Targets": [{"Key": "WindowTargetIds", "Values": [ids[k] for k in keys]}]}
        call(
            ssm,
            "ssm",
            "register_task_with_maintenance_window",
            WindowId=window_id,
            **task,
            **(extra if keys else {}),
        )


def export_window(clients: Any, document: Mapping[str, Any]) -> Outcome:
    """Create or bring up to date the SSM maintenance window of a MaintenanceWindow
    document, with its targets and tasks."""
    ssm = clients("ssm")
    plan = plan_window(document)
    name = str(plan.window["Name"])
    outcome = Outcome(name, "unchanged", _find(ssm, name), plan.warnings)
    digest = {"Key": DIGEST_TAG, "Value": plan.digest}
    if outcome.ssm_id is None:
        made = call(
            ssm, "ssm", "create_maintenance_window", **plan.window, Tags=[MANAGED_TAG, digest]
        )
        outcome.ssm_id, outcome.action = str(made["WindowId"]), "created"
        if not plan.enabled:
            call(ssm, "ssm", "update_maintenance_window", WindowId=outcome.ssm_id, Enabled=False)
        _register(ssm, outcome.ssm_id, plan)
        return outcome
    fields_same, all_same = _same(ssm, outcome.ssm_id, plan)
    if all_same:
        return outcome
    window_id, outcome.action = outcome.ssm_id, "updated"
    if not fields_same:
        call(
            ssm,
            "ssm",
            "update_maintenance_window",
            WindowId=window_id,
            Replace=True,
            Enabled=plan.enabled,
            **plan.window,
        )
    for task in _tasks(ssm, window_id):
        call(
            ssm,
            "ssm",
            "deregister_task_from_maintenance_window",
            WindowId=window_id,
            WindowTaskId=task["WindowTaskId"],
        )
    for target in _targets(ssm, window_id):
        call(
            ssm,
            "ssm",
            "deregister_target_from_maintenance_window",
            WindowId=window_id,
            WindowTargetId=target["WindowTargetId"],
            Safe=False,
        )
    _register(ssm, window_id, plan)
    call(
        ssm,
        "ssm",
        "add_tags_to_resource",
        ResourceType="MaintenanceWindow",
        ResourceId=window_id,
        Tags=[digest],
    )
    return outcome
