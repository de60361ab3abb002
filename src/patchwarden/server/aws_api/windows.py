"""Maintenance windows over the SSM API, on the same use cases and reads as
``/api/v1/windows`` (a window is Patchwarden's ``MaintenanceWindow`` document; every change
is the document re-applied, so it is validated and audited as ``window.create`` /
``window.update`` / ``window.delete`` exactly as natively).

Ids: a window is its native id (``mw-`` + 17 hex digits); a registered target is the
``WindowTargetId`` of ``spec.WindowTargets`` and a task its ``WindowTaskId`` (the model's
ids are UUIDs: an id written natively that is none, or a task without one, shows a stable
UUID derived from the window id and that id or the task's name);
executions and task executions are the native UUIDs.  A Run Command task's invocations
are its wave commands (one SendCommand each, as AWS sends one per task invocation).
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.windows import reads
from patchwarden.adapters.storage.windows.executions import SqlWindowExecutions
from patchwarden.adapters.storage.windows.windows import SqlWindows
from patchwarden.documents.window import spec_of, timing
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.windows import admin
from patchwarden.pipeline.windows.records import WindowRecord
from patchwarden.server.aws_api.protocol import (
    AwsError,
    Context,
    Params,
    boolean,
    epoch,
    filters,
    integer,
    invalid,
    operation,
    page,
    refusals,
    string,
)
from patchwarden.server.windows.api import PHASES, apply, parse_window

WINDOW_ID = r"mw-[0-9a-f]{17}"
UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
NAME = r"[a-zA-Z0-9_\-.]{3,128}"
TASK_IDS = uuid.UUID("5b0f6c8e-3f43-4c55-9a43-0c1d7e1b6a11")
"""Namespace of the ids of tasks applied natively without a ``WindowTaskId``."""
_DOCUMENT_ARN = re.compile(r"arn:aws[\w-]*:ssm:[^:]*:[^:]*:document/(.+)")
_RUN_COMMAND_STATUS = {
    "Pending": "PENDING",
    "InProgress": "IN_PROGRESS",
    "Delayed": "IN_PROGRESS",
    "Success": "SUCCESS",
    "Failed": "FAILED",
    "Incomplete": "FAILED",
    "TimedOut": "TIMED_OUT",
    "Cancelling": "CANCELLING",
    "Cancelled": "CANCELLED",
    "Terminated": "CANCELLED",
}
"""A wave command's status as a window task invocation's (AWS's window status enum)."""
_OPTIONAL_FIELDS = ("ScheduleTimezone", "ScheduleOffset", "StartDate", "EndDate")


# -- windows -------------------------------------------------------------------------------


def _window(ctx: Context, params: Params) -> WindowRecord:
    """The window ``WindowId`` names (``DoesNotExistException`` when there is none)."""
    window_id = string(params, "WindowId", required=True, pattern=WINDOW_ID)
    assert window_id is not None
    found = SqlWindows(ctx.session).get(window_id)
    if found is None:
        raise AwsError("DoesNotExistException", f"Maintenance window {window_id} does not exist")
    return found


def _store(ctx: Context, document: dict[str, Any]) -> WindowRecord:
    """Apply the document as ``POST /api/v1/windows`` does (parsed, checked, audited)."""
    try:
        doc = parse_window(document)
        window, _ = apply(ctx.session, doc, ctx.principal.actor, ctx.now)
    except PatchwardenError as exc:
        raise invalid(str(exc)) from None
    return window


def _local(at: datetime | None, zone: str) -> str | None:
    """A time as AWS's MaintenanceWindowStringDateTime, in the window's time zone."""
    if at is None:
        return None
    try:
        return at.astimezone(ZoneInfo(zone)).isoformat(timespec="minutes")
    except (KeyError, ValueError):
        return at.isoformat(timespec="minutes")


def _window_fields(window: WindowRecord) -> dict[str, Any]:
    spec = window.document["spec"]
    out: dict[str, Any] = {
        "WindowId": window.id,
        "Name": window.name,
        "Enabled": window.enabled,
        "Duration": spec["Duration"],
        "Cutoff": spec["Cutoff"],
        "Schedule": spec["Schedule"],
        "ScheduleTimezone": spec.get("ScheduleTimezone", "UTC"),
        "AllowUnassociatedTargets": spec.get("AllowUnassociatedTargets", False),
    }
    description = window.document.get("metadata", {}).get("description")
    if description:
        out["Description"] = description[:128]
    for name in ("ScheduleOffset", "StartDate", "EndDate"):
        if spec.get(name) is not None:
            out[name] = spec[name]
    next_at = _local(window.next_execution_at, out["ScheduleTimezone"])
    if next_at:
        out["NextExecutionTime"] = next_at
    return out


def _window_params(params: Params, spec: dict[str, Any], *, creating: bool) -> None:
    """Copy the window parameters given into ``spec`` (the document's own validation runs
    when it is applied)."""
    required = creating
    values: dict[str, Any] = {
        "Schedule": string(params, "Schedule", required=required, min_length=1, max_length=256),
        "ScheduleTimezone": string(params, "ScheduleTimezone"),
        "ScheduleOffset": integer(params, "ScheduleOffset", low=1, high=6),
        "Duration": integer(params, "Duration", low=1, high=24),
        "Cutoff": integer(params, "Cutoff", low=0, high=23),
        "AllowUnassociatedTargets": boolean(params, "AllowUnassociatedTargets"),
        "StartDate": string(params, "StartDate"),
        "EndDate": string(params, "EndDate"),
        "Enabled": boolean(params, "Enabled"),
    }
    if required:
        for name in ("Duration", "Cutoff", "AllowUnassociatedTargets"):
            if values[name] is None:
                string(params, name, required=True)  # answers AWS's "must not be null"
    for name, value in values.items():
        if value is not None:
            spec[name] = value


def _description(params: Params, document: dict[str, Any]) -> None:
    description = string(params, "Description", min_length=1, max_length=128)
    if description is not None:
        document["metadata"]["description"] = description


@operation("CreateMaintenanceWindow", "operator")
def create_maintenance_window(ctx: Context, params: Params) -> dict[str, Any]:
    """A new window without targets or tasks (register them afterwards)."""
    name = string(params, "Name", required=True, pattern=NAME)
    assert name is not None
    if reads.window(ctx.session, name) is not None:
        raise AwsError("AlreadyExistsException", f"A maintenance window named {name} exists")
    if params.get("Tags"):
        raise invalid("Tags: maintenance windows have no tags in Patchwarden")
    spec: dict[str, Any] = {"Targets": [], "Tasks": []}
    _window_params(params, spec, creating=True)
    spec.pop("Enabled", None)  # CreateMaintenanceWindow has no Enabled: a window starts enabled
    document: dict[str, Any] = {
        "apiVersion": "patchwarden/v1",
        "kind": "MaintenanceWindow",
        "metadata": {"name": name},
        "spec": spec,
    }
    _description(params, document)
    return {"WindowId": _store(ctx, document).id}


@operation("GetMaintenanceWindow", "viewer")
def get_maintenance_window(ctx: Context, params: Params) -> dict[str, Any]:
    """The window as ``GET /api/v1/windows/NAME`` shows it."""
    window = _window(ctx, params)
    return {
        **_window_fields(window),
        "CreatedDate": epoch(window.created_at),
        "ModifiedDate": epoch(window.modified_at),
    }


@operation("UpdateMaintenanceWindow", "operator")
def update_maintenance_window(ctx: Context, params: Params) -> dict[str, Any]:
    """The window's document with the given fields changed (``Replace``: the optional
    fields not given are removed), re-applied."""
    window = _window(ctx, params)
    document = copy.deepcopy(window.document)
    name = string(params, "Name", pattern=NAME)
    if name is not None and name != window.name:
        raise invalid("Name: a window cannot be renamed in Patchwarden (names are unique ids)")
    spec = document["spec"]
    if boolean(params, "Replace"):
        for field in ("Schedule", "Duration", "Cutoff", "AllowUnassociatedTargets"):
            if params.get(field) is None:
                raise invalid(f"{field}: required with Replace")
        for field in _OPTIONAL_FIELDS:
            spec.pop(field, None)
        document["metadata"].pop("description", None)
        spec["Enabled"] = True
    _window_params(params, spec, creating=False)
    _description(params, document)
    out = _window_fields(_store(ctx, document))
    out.pop("NextExecutionTime", None)  # not in UpdateMaintenanceWindow's answer
    return out


@operation("DeleteMaintenanceWindow", "operator")
def delete_maintenance_window(ctx: Context, params: Params) -> dict[str, Any]:
    """``DELETE /api/v1/windows/NAME`` (refused while an execution runs)."""
    window = _window(ctx, params)
    with refusals(conflict="ValidationException"):
        admin.delete_window(
            SqlWindows(ctx.session),
            SqlWindowExecutions(ctx.session),
            SqlAuditLog(ctx.session),
            window.name,
            ctx.principal.actor,
            ctx.now,
        )
    return {"WindowId": window.id}


def _matches(value: Any, values: Sequence[str]) -> bool:
    if isinstance(value, bool):
        value = "true" if value else "false"
    return not values or str(value) in values


def _filtered(
    items: list[dict[str, Any]], params: Params, keys: dict[str, Callable[[dict[str, Any]], Any]]
) -> list[dict[str, Any]]:
    for found in filters(params, list(keys)):
        items = [i for i in items if _matches(keys[found.key](i), found.values)]
    return items


def _paged(items: Sequence[Any], params: Params, name: str) -> dict[str, Any]:
    integer(params, "MaxResults", low=10, high=100)  # the model's range; page() reads it
    shown, token = page(items, params, maximum=100)
    out: dict[str, Any] = {name: list(shown)}
    if token:
        out["NextToken"] = token
    return out


@operation("DescribeMaintenanceWindows", "viewer")
def describe_maintenance_windows(ctx: Context, params: Params) -> dict[str, Any]:
    """``GET /api/v1/windows``: by name; filters ``Name``, ``Enabled``."""
    found = [_window_fields(w) for w in reads.windows(ctx.session)]
    for item in found:
        item.pop("AllowUnassociatedTargets")
    found = _filtered(
        found, params, {"Name": lambda w: w["Name"], "Enabled": lambda w: w["Enabled"]}
    )
    return _paged(found, params, "WindowIdentities")


# -- registered targets --------------------------------------------------------------------


def target_id(window_id: str, native: str) -> str:
    """A registered target's WindowTargetId: its document id when it is a UUID, else one
    derived from the window and that id."""
    if re.fullmatch(UUID, native):
        return native
    return str(uuid.uuid5(TASK_IDS, f"{window_id}/target/{native}"))


def _native_target(window: WindowRecord, ident: str) -> str | None:
    """The document id of the registered target AWS calls ``ident``."""
    for target in window.document["spec"].get("WindowTargets", []):
        if target_id(window.id, target["WindowTargetId"]) == ident:
            native: str = target["WindowTargetId"]
            return native
    return None


def _targets(params: Params, name: str = "Targets") -> list[dict[str, Any]] | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not isinstance(raw, list) or not 1 <= len(raw) <= 5:
        raise invalid(f"{name}: expected 1 to 5 targets")
    found = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise AwsError("SerializationException", f"{name}[{index}]: expected an object")
        key = string(item, "Key", required=True, min_length=1, max_length=163)
        values = item.get("Values")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise invalid(f"{name}[{index}].Values: expected a list of strings")
        found.append({"Key": key, "Values": list(values)})
    return found


@operation("RegisterTargetWithMaintenanceWindow", "operator")
def register_target_with_maintenance_window(ctx: Context, params: Params) -> dict[str, Any]:
    """A new entry of ``spec.WindowTargets`` (a selector with its own id)."""
    window = _window(ctx, params)
    string(params, "ResourceType", required=True, enum=("INSTANCE", "RESOURCE_GROUP"))
    if params["ResourceType"] != "INSTANCE":
        raise invalid("ResourceType: Patchwarden's window targets are INSTANCE targets")
    targets = _targets(params)
    if targets is None:
        raise invalid("Targets: required")
    target: dict[str, Any] = {"WindowTargetId": str(uuid.uuid4()), "Targets": targets}
    for field, value in (
        ("Name", string(params, "Name", pattern=NAME)),
        ("Description", string(params, "Description", min_length=1, max_length=128)),
        ("OwnerInformation", string(params, "OwnerInformation", min_length=1, max_length=128)),
    ):
        if value is not None:
            target[field] = value
    document = copy.deepcopy(window.document)
    document["spec"].setdefault("WindowTargets", []).append(target)
    _store(ctx, document)
    return {"WindowTargetId": target["WindowTargetId"]}


def _target_view(window: WindowRecord, target: dict[str, Any]) -> dict[str, Any]:
    out = {"WindowId": window.id, "ResourceType": target.get("ResourceType", "INSTANCE")}
    out |= {k: v for k, v in target.items() if k != "ResourceType"}
    out["WindowTargetId"] = target_id(window.id, target["WindowTargetId"])
    return out


@operation("DescribeMaintenanceWindowTargets", "viewer")
def describe_maintenance_window_targets(ctx: Context, params: Params) -> dict[str, Any]:
    """``spec.WindowTargets`` in registration order; filters ``WindowTargetId``,
    ``OwnerInformation``, ``Name``."""
    window = _window(ctx, params)
    found = [_target_view(window, t) for t in window.document["spec"].get("WindowTargets", [])]
    keys: dict[str, Callable[[dict[str, Any]], Any]] = {
        "WindowTargetId": lambda t: t["WindowTargetId"],
        "OwnerInformation": lambda t: t.get("OwnerInformation"),
        "Name": lambda t: t.get("Name"),
    }
    found = _filtered(found, params, keys)
    return _paged(found, params, "Targets")


@operation("DeregisterTargetFromMaintenanceWindow", "operator")
def deregister_target_from_maintenance_window(ctx: Context, params: Params) -> dict[str, Any]:
    """The entry removed from ``spec.WindowTargets``; refused while a task names it."""
    window = _window(ctx, params)
    ident = string(params, "WindowTargetId", required=True, pattern=UUID)
    assert ident is not None
    boolean(params, "Safe")
    native = _native_target(window, ident)
    if native is None:
        raise AwsError("DoesNotExistException", f"Window target {ident} does not exist")
    document = copy.deepcopy(window.document)
    spec = document["spec"]
    users = [t["Name"] for t in spec["Tasks"] if native in (t.get("WindowTargetIds") or [])]
    if users:
        raise AwsError(
            "TargetInUseException",
            f"Window target {ident} is used by task {users[0]} (deregister the task first)",
        )
    spec["WindowTargets"] = [t for t in spec["WindowTargets"] if t["WindowTargetId"] != native]
    _store(ctx, document)
    return {"WindowId": window.id, "WindowTargetId": ident}


# -- tasks ---------------------------------------------------------------------------------


def task_id(window_id: str, task: dict[str, Any]) -> str:
    """A task's WindowTaskId: its own when it is a UUID, else one derived from the window
    and its name (the model's ids are UUIDs)."""
    own: str | None = task.get("WindowTaskId")
    if own and re.fullmatch(UUID, own):
        return own
    return str(uuid.uuid5(TASK_IDS, f"{window_id}/{task['Name']}"))


def _task_arn(params: Params) -> str:
    arn = string(params, "TaskArn", required=True, min_length=1, max_length=1600)
    assert arn is not None
    found = _DOCUMENT_ARN.fullmatch(arn)
    return found.group(1) if found else arn


def _run_command(params: Params) -> dict[str, Any]:
    """``TaskInvocationParameters.RunCommand`` as the document's (Parameters, Comment,
    TimeoutSeconds)."""
    invocation = params.get("TaskInvocationParameters") or {}
    if not isinstance(invocation, dict):
        raise AwsError("SerializationException", "TaskInvocationParameters: expected an object")
    if set(invocation) - {"RunCommand"}:
        raise invalid("TaskInvocationParameters: a RUN_COMMAND task takes RunCommand only")
    raw = invocation.get("RunCommand") or {}
    if not isinstance(raw, dict):
        raise AwsError("SerializationException", "RunCommand: expected an object")
    out: dict[str, Any] = {"Parameters": raw.get("Parameters") or {}}
    for field in ("Comment", "TimeoutSeconds"):
        if raw.get(field) is not None:
            out[field] = raw[field]
    ignored = {"DocumentVersion", "DocumentHash", "DocumentHashType", "ServiceRoleArn"}
    ignored |= {"NotificationConfig", "OutputS3BucketName", "OutputS3KeyPrefix"}
    ignored |= {"CloudWatchOutputConfig", "Parameters", "Comment", "TimeoutSeconds"}
    unknown = set(raw) - ignored
    if unknown:
        raise invalid(f"RunCommand: {', '.join(sorted(unknown))} not supported")
    return out


@operation("RegisterTaskWithMaintenanceWindow", "operator")
def register_task_with_maintenance_window(ctx: Context, params: Params) -> dict[str, Any]:
    """A new entry of ``spec.Tasks``: RUN_COMMAND of AWS-RunPatchBaseline; ``Targets``
    ``WindowTargetIds`` become the task's ``WindowTargetIds``, other keys its ``Targets``."""
    window = _window(ctx, params)
    task_type = string(
        params,
        "TaskType",
        required=True,
        enum=("RUN_COMMAND", "AUTOMATION", "STEP_FUNCTIONS", "LAMBDA"),
    )
    if task_type != "RUN_COMMAND":
        raise AwsError(
            "FeatureNotAvailableException", f"TaskType {task_type}: only RUN_COMMAND is supported"
        )
    if params.get("TaskParameters"):
        raise invalid("TaskParameters: give TaskInvocationParameters.RunCommand.Parameters")
    if params.get("LoggingInfo"):
        raise invalid("LoggingInfo: S3 logging is not supported")
    new_id = str(uuid.uuid4())
    task: dict[str, Any] = {
        "Name": string(params, "Name", pattern=NAME) or new_id,
        "WindowTaskId": new_id,
        "TaskType": "RUN_COMMAND",
        "TaskArn": _task_arn(params),
        "TaskInvocationParameters": {"RunCommand": _run_command(params)},
    }
    targets = _targets(params)
    if targets is not None:
        registered = [t for t in targets if t["Key"] == "WindowTargetIds"]
        if registered and len(registered) != len(targets):
            raise invalid("Targets: WindowTargetIds cannot be combined with other keys")
        if registered:
            # unknown ids are kept as given: the document refuses them
            task["WindowTargetIds"] = [
                _native_target(window, v) or v for t in registered for v in t["Values"]
            ]
        else:
            task["Targets"] = targets
    for field, value in (
        ("Priority", integer(params, "Priority", low=0, high=2**31 - 1)),
        ("MaxConcurrency", string(params, "MaxConcurrency", min_length=1, max_length=7)),
        ("MaxErrors", string(params, "MaxErrors", min_length=1, max_length=7)),
        ("Description", string(params, "Description", min_length=1, max_length=128)),
        (
            "CutoffBehavior",
            string(params, "CutoffBehavior", enum=("CONTINUE_TASK", "CANCEL_TASK")),
        ),
    ):
        if value is not None:
            task[field] = value
    string(params, "ServiceRoleArn")  # accepted and ignored (no IAM)
    document = copy.deepcopy(window.document)
    document["spec"]["Tasks"].append(task)
    _store(ctx, document)
    return {"WindowTaskId": new_id}


def _task_view(window: WindowRecord, task: dict[str, Any]) -> dict[str, Any]:
    ident = task_id(window.id, task)
    out: dict[str, Any] = {
        "WindowId": window.id,
        "WindowTaskId": ident,
        "TaskArn": task.get("TaskArn", "AWS-RunPatchBaseline"),
        "Type": task.get("TaskType", "RUN_COMMAND"),
        "Priority": task.get("Priority", 1),
        "CutoffBehavior": task.get("CutoffBehavior", "CONTINUE_TASK"),
        "MaxErrors": task.get("MaxErrors") or "0",
    }
    if task["Name"] != ident:
        out["Name"] = task["Name"]
    if task.get("Description"):
        out["Description"] = task["Description"]
    concurrency = task.get("MaxConcurrency") or "50"
    if isinstance(concurrency, str):  # a canary list has no AWS form
        out["MaxConcurrency"] = concurrency
    if task.get("WindowTargetIds"):
        ids = [target_id(window.id, t) for t in task["WindowTargetIds"]]
        out["Targets"] = [{"Key": "WindowTargetIds", "Values": ids}]
    elif task.get("Targets") is not None:
        out["Targets"] = task["Targets"]
    else:  # the window's own Targets
        out["Targets"] = window.document["spec"].get("Targets", [])
    return out


@operation("DescribeMaintenanceWindowTasks", "viewer")
def describe_maintenance_window_tasks(ctx: Context, params: Params) -> dict[str, Any]:
    """``spec.Tasks`` in document order; filters ``WindowTaskId``, ``TaskArn``,
    ``Priority``, ``TaskType``."""
    window = _window(ctx, params)
    found = [_task_view(window, t) for t in window.document["spec"].get("Tasks", [])]
    keys: dict[str, Callable[[dict[str, Any]], Any]] = {
        "WindowTaskId": lambda t: t["WindowTaskId"],
        "TaskArn": lambda t: t["TaskArn"],
        "Priority": lambda t: t["Priority"],
        "TaskType": lambda t: t["Type"],
    }
    return _paged(_filtered(found, params, keys), params, "Tasks")


@operation("DeregisterTaskFromMaintenanceWindow", "operator")
def deregister_task_from_maintenance_window(ctx: Context, params: Params) -> dict[str, Any]:
    """The entry removed from ``spec.Tasks``."""
    window = _window(ctx, params)
    ident = string(params, "WindowTaskId", required=True, pattern=UUID)
    document = copy.deepcopy(window.document)
    tasks = document["spec"].get("Tasks", [])
    kept = [t for t in tasks if task_id(window.id, t) != ident]
    if len(kept) == len(tasks):
        raise AwsError("DoesNotExistException", f"Window task {ident} does not exist")
    document["spec"]["Tasks"] = kept
    _store(ctx, document)
    return {"WindowId": window.id, "WindowTaskId": ident}


# -- executions ----------------------------------------------------------------------------


def _times(item: dict[str, Any], start: datetime | None, end: datetime | None) -> dict[str, Any]:
    if start is not None:
        item["StartTime"] = epoch(start)
    if end is not None:
        item["EndTime"] = epoch(end)
    return item


def _time_filters(
    params: Params, items: list[tuple[datetime | None, dict[str, Any]]]
) -> list[dict[str, Any]]:
    out = []
    chosen = filters(params, ("ExecutedBefore", "ExecutedAfter"))
    bounds: list[tuple[str, datetime]] = []
    for found in chosen:
        if len(found.values) != 1:
            raise invalid(f"Filters: {found.key} takes one value")
        try:
            at = datetime.fromisoformat(found.values[0].replace("Z", "+00:00"))
        except ValueError:
            raise invalid(f"Filters: {found.key}: not an ISO-8601 time") from None
        if at.tzinfo is None:
            raise invalid(f"Filters: {found.key}: give a time zone (e.g. Z)")
        bounds.append((found.key, at))
    for start, item in items:
        ok = all(
            start is not None and (start < at if key == "ExecutedBefore" else start > at)
            for key, at in bounds
        )
        if ok:
            out.append(item)
    return out


@operation("DescribeMaintenanceWindowExecutions", "viewer")
def describe_maintenance_window_executions(ctx: Context, params: Params) -> dict[str, Any]:
    """``GET /api/v1/windows/NAME/executions``: newest first; filters ``ExecutedBefore``,
    ``ExecutedAfter`` (the start time)."""
    window = _window(ctx, params)
    found = reads.window_executions(ctx.session, window.name, 1000)
    assert found is not None
    items = [
        (
            e.started_at,
            _times(
                {
                    "WindowId": e.window_id,
                    "WindowExecutionId": e.id,
                    "Status": e.status.value,
                    "StatusDetails": e.status_details[:250],
                },
                e.started_at,
                e.ended_at,
            ),
        )
        for e in found[1]
    ]
    return _paged(_time_filters(params, items), params, "WindowExecutions")


def _detail(ctx: Context, params: Params) -> reads.ExecutionDetail:
    execution_id = string(params, "WindowExecutionId", required=True, pattern=UUID)
    assert execution_id is not None
    detail = reads.execution_detail(ctx.session, execution_id)
    if detail is None:
        raise AwsError("DoesNotExistException", f"Window execution {execution_id} does not exist")
    return detail


def _status_filter(params: Params, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return _filtered(items, params, {"Status": lambda i: i["Status"]})


@operation("DescribeMaintenanceWindowExecutionTasks", "viewer")
def describe_maintenance_window_execution_tasks(ctx: Context, params: Params) -> dict[str, Any]:
    """The task executions of ``GET /api/v1/windows/-/executions/ID`` (by priority, then
    name); filter ``Status``."""
    detail = _detail(ctx, params)
    tasks = {t.Name: t for t in spec_of(detail.execution.document["spec"]).Tasks}
    items = []
    for t in detail.tasks:
        state, task = t.task.state, tasks.get(t.task.task_name)
        item = {
            "WindowExecutionId": detail.execution.id,
            "TaskExecutionId": t.task.id,
            "Status": state.status.value,
            "StatusDetails": state.details[:250],
            "TaskArn": task.TaskArn if task else "AWS-RunPatchBaseline",
            "TaskType": task.TaskType if task else "RUN_COMMAND",
        }
        items.append(_times(item, state.started_at, state.ended_at))
    return _paged(_status_filter(params, items), params, "WindowExecutionTaskIdentities")


@operation("DescribeMaintenanceWindowExecutionTaskInvocations", "viewer")
def describe_maintenance_window_execution_task_invocations(
    ctx: Context, params: Params
) -> dict[str, Any]:
    """One invocation per command the task sent (a wave's phase), in wave order; its
    ``ExecutionId`` is the command id.  Filter ``Status``."""
    detail = _detail(ctx, params)
    task_execution = string(params, "TaskId", required=True, pattern=UUID)
    found = [t for t in detail.tasks if t.task.id == task_execution]
    if not found:
        raise AwsError("DoesNotExistException", f"Task execution {task_execution} does not exist")
    (task,) = found
    items = []
    for c in task.commands:
        invs = c.invocations
        started = [i.started_at or i.created_at for i in invs]
        ended = [i.finished_at for i in invs]
        parameters = {
            "documentName": "AWS-RunPatchBaseline",
            "wave": c.wave + 1,
            "phase": PHASES[c.phase],
            "instanceIds": [i.node_id for i in invs],
        }
        item: dict[str, Any] = {
            "WindowExecutionId": detail.execution.id,
            "TaskExecutionId": task.task.id,
            "InvocationId": c.command_id,
            "ExecutionId": c.command_id,
            "TaskType": "RUN_COMMAND",
            "Parameters": json.dumps(parameters),
            "Status": _RUN_COMMAND_STATUS.get(c.status or "Pending", "IN_PROGRESS"),
            "StatusDetails": (c.status or "Pending")[:250],
        }
        end = max(ended) if ended and all(e is not None for e in ended) else None  # type: ignore[type-var]
        items.append(_times(item, min(started) if started else None, end))
    for r in task.runbook_runs:
        item = {
            "WindowExecutionId": detail.execution.id,
            "TaskExecutionId": task.task.id,
            "InvocationId": r.execution_id,
            "ExecutionId": r.execution_id,
            "TaskType": "AUTOMATION",
            "Parameters": json.dumps({"runbook": r.runbook, "node": r.node_id or None}),
            "Status": _RUN_COMMAND_STATUS.get(r.status, "IN_PROGRESS"),
            "StatusDetails": r.status[:250],
        }
        items.append(_times(item, r.started_at, r.ended_at))
    return _paged(_status_filter(params, items), params, "WindowExecutionTaskInvocationIdentities")


# -- schedule ------------------------------------------------------------------------------

SCHEDULE_LIMIT = 200
"""At most this many upcoming runs are listed (all pages together)."""


def upcoming(window: WindowRecord, count: int) -> list[datetime]:
    """The window's next ``count`` scheduled times after the scheduler's marker, from the
    same timing the scheduler computes ``next_execution_time`` with."""
    if not window.enabled:
        return []
    window_timing = timing(spec_of(window.document["spec"]), anchor=window.created_at)
    found: list[datetime] = []
    after = window.handled_until
    while len(found) < count:
        nxt = window_timing.next_after(after)
        if nxt is None:
            break
        found.append(nxt)
        after = nxt
    return found


@operation("DescribeMaintenanceWindowSchedule", "viewer")
def describe_maintenance_window_schedule(ctx: Context, params: Params) -> dict[str, Any]:
    """The next scheduled times of the window ``WindowId`` (earliest first)."""
    if params.get("Targets") or params.get("ResourceType"):
        raise invalid("Targets: the schedule by target is not supported; give WindowId")
    if params.get("Filters"):
        raise invalid("Filters: not supported")
    if params.get("WindowId") is None:
        raise invalid("WindowId: required (the schedule by target is not supported)")
    window = _window(ctx, params)
    zone = window.document["spec"].get("ScheduleTimezone", "UTC")
    times = upcoming(window, SCHEDULE_LIMIT)
    items = [
        {"WindowId": window.id, "Name": window.name, "ExecutionTime": _local(at, zone)}
        for at in times
    ]
    shown, next_token = page(items, params, maximum=SCHEDULE_LIMIT, default=100)
    out: dict[str, Any] = {"ScheduledWindowExecutions": list(shown)}
    if next_token:
        out["NextToken"] = next_token
    return out
