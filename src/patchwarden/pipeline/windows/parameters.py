"""What a window task sends: the pseudo-parameters filled in (reference §5), the
execution's ``SnapshotId``, and the command of one wave phase."""

from __future__ import annotations

from typing import Any

from patchwarden.core import window_machine as machine
from patchwarden.core import windows
from patchwarden.core.window_machine import Phase
from patchwarden.documents.window import TaskSpec
from patchwarden.pipeline.windows.records import ExecutionRecord, PhaseRequest

ACTOR = "scheduler"
"""Who sends the wave commands (their ramp-up is the waves themselves)."""
EXECUTION_TIMEOUT_SECONDS = 7200
TARGETLESS = ""
"""The single "node" of a targetless AUTOMATION task's only wave."""


def _pseudo(task: TaskSpec, execution: ExecutionRecord, task_id: str) -> dict[str, str]:
    return {
        "WINDOW_ID": execution.window_id,
        "WINDOW_TASK_ID": task.Name,
        "WINDOW_TARGET_ID": execution.window_id,
        "WINDOW_EXECUTION_ID": execution.id,
        "TASK_EXECUTION_ID": task_id,
        "TARGET_TYPE": "INSTANCE",
    }


def phase_parameters(
    task: TaskSpec, phase: int, execution: ExecutionRecord, task_id: str
) -> dict[str, Any]:
    """The parameters of a RUN_COMMAND task's phase (its hook's for a hook phase), with a
    ``SnapshotId`` (the execution's unless the task gives its own)."""
    hook = {Phase.PRE_HOOK: task.PreHook, Phase.POST_HOOK: task.PostHook}.get(Phase(phase))
    raw = hook.Parameters if hook else task.run_command.Parameters
    params: dict[str, Any] = windows.substitute(dict(raw), _pseudo(task, execution, task_id))
    if not params.get("SnapshotId"):  # one baseline snapshot for the whole execution
        params["SnapshotId"] = execution.id
    return params


def phase_request(
    task: TaskSpec, execution: ExecutionRecord, task_id: str, action: machine.SendPhase
) -> tuple[PhaseRequest, str]:
    """The command of the phase ``action`` sends, and the snapshot id to pin on it
    afterwards ("" with a BaselineOverride: the command pins per node itself)."""
    params = phase_parameters(task, action.phase, execution, task_id)
    snapshot = "" if params.get("BaselineOverride") else params.pop("SnapshotId")
    request = PhaseRequest(
        document_name=task.TaskArn,
        parameters=params,
        node_ids=action.node_ids,
        max_concurrency=action.max_concurrency,
        max_errors=action.max_errors,
        timeout_seconds=action.timeout_seconds,
        execution_timeout_seconds=EXECUTION_TIMEOUT_SECONDS,
        comment=f"{execution.id[:8]} {task.Name} wave {action.wave + 1}"[:100],
        actor=ACTOR,
    )
    return request, snapshot


def runbook_parameters(
    task: TaskSpec, execution: ExecutionRecord, task_id: str, node: str
) -> dict[str, Any]:
    """The parameters of an AUTOMATION task's runbook execution on ``node`` (TARGET_ID and
    RESOURCE_ID known unless the task is targetless)."""
    values = _pseudo(task, execution, task_id)
    if node != TARGETLESS:
        values |= {"TARGET_ID": node, "RESOURCE_ID": node}
    params: dict[str, Any] = windows.substitute(dict(task.automation.Parameters), values)
    return params


def runbook_actor(task_id: str, node: str) -> str:
    """``created_by`` of the runbook execution of ``node`` in task execution ``task_id``:
    how a runbook execution belongs to its task (no schema change)."""
    return f"window:{task_id}:{node}"
