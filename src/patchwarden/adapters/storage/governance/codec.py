"""JSON forms of the core's governance state as stored: runbook executions (with their step
runs) and remediation states."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from patchwarden.core.remediation import Phase, RemediationState
from patchwarden.core.runbook import Execution, Status, StepRun


def when(value: object) -> datetime | None:
    """A stored timestamp (ISO 8601 text, or already a datetime) back as a datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def step_to_json(run: StepRun) -> dict[str, Any]:
    """A step run as JSON."""
    return {
        "status": run.status.value,
        "attempts": run.attempts,
        "started_at": _iso(run.started_at),
        "ended_at": _iso(run.ended_at),
        "deadline": _iso(run.deadline),
        "wake_at": _iso(run.wake_at),
        "approvals": list(run.approvals),
        "message": run.message,
        "outputs": dict(run.outputs),
    }


def step_from_json(raw: dict[str, Any]) -> StepRun:
    """Back from :func:`step_to_json`."""
    return StepRun(
        status=Status(raw["status"]),
        attempts=int(raw["attempts"]),
        started_at=when(raw.get("started_at")),
        ended_at=when(raw.get("ended_at")),
        deadline=when(raw.get("deadline")),
        wake_at=when(raw.get("wake_at")),
        approvals=tuple(raw.get("approvals", [])),
        message=str(raw.get("message", "")),
        outputs=dict(raw.get("outputs", {})),
    )


def execution_to_json(execution: Execution) -> dict[str, Any]:
    """An execution as JSON."""
    return {
        "runbook": execution.runbook,
        "status": execution.status.value,
        "parameters": dict(execution.parameters),
        "steps": {name: step_to_json(run) for name, run in execution.steps.items()},
        "current": execution.current,
        "variables": dict(execution.variables),
        "started_at": _iso(execution.started_at),
        "ended_at": _iso(execution.ended_at),
        "message": execution.message,
        "allow_shell": execution.allow_shell,
    }


def execution_from_json(raw: dict[str, Any]) -> Execution:
    """Back from :func:`execution_to_json`."""
    return Execution(
        runbook=raw["runbook"],
        status=Status(raw["status"]),
        parameters=dict(raw["parameters"]),
        steps={name: step_from_json(run) for name, run in raw["steps"].items()},
        current=raw.get("current"),
        variables=dict(raw.get("variables", {})),
        started_at=when(raw.get("started_at")),
        ended_at=when(raw.get("ended_at")),
        message=str(raw.get("message", "")),
        allow_shell=bool(raw.get("allow_shell", False)),
    )


def state_to_json(state: RemediationState) -> dict[str, Any]:
    """A remediation state as JSON."""
    out = asdict(state)
    out["phase"] = state.phase.value
    for key in ("due_at", "exception_until"):
        out[key] = _iso(getattr(state, key))
    return out


def state_from_json(raw: dict[str, Any] | None) -> RemediationState:
    """Back from :func:`state_to_json` (an empty state for ``None``)."""
    if not raw:
        return RemediationState()
    known = {f.name for f in fields(RemediationState)}
    values = {k: v for k, v in raw.items() if k in known}
    values["phase"] = Phase(values.get("phase", "IDLE"))
    for key in ("due_at", "exception_until"):
        values[key] = when(values.get(key))
    return RemediationState(**values)
