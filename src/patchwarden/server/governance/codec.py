"""JSON forms of the core's governance state (runbook executions, remediation states) and
the NodeSnapshot the rules see, built from the stored rows."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from patchwarden.adapters.storage.findings import node_findings
from patchwarden.adapters.storage.tables import ComplianceRecord, Node
from patchwarden.core.remediation import Phase, RemediationState
from patchwarden.core.rules import FindingFact, NodeSnapshot, PatchFact
from patchwarden.core.runbook import Execution, Status, StepRun
from patchwarden.errors import PatchwardenError
from patchwarden.server.baselines import resolve


def _when(value: object) -> datetime | None:
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
        started_at=_when(raw.get("started_at")),
        ended_at=_when(raw.get("ended_at")),
        deadline=_when(raw.get("deadline")),
        wake_at=_when(raw.get("wake_at")),
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
        started_at=_when(raw.get("started_at")),
        ended_at=_when(raw.get("ended_at")),
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
        values[key] = _when(values.get(key))
    return RemediationState(**values)


def _fact(item: dict[str, Any]) -> PatchFact:
    released = item.get("release_date")
    try:
        when = _when(released) if released else None
    except ValueError:
        when = None
    return PatchFact(
        name=str(item.get("name", "")),
        state=str(item.get("state", "INSTALLED")),
        severity=str(item.get("severity") or "UNSPECIFIED"),
        classification=str(item.get("classification") or ""),
        release_date=when,
    )


def snapshot(session: Session, node: Node) -> NodeSnapshot:
    """What the rules see of ``node``.  ``findings`` are those the server's assessment of
    its inventory stored (``None`` while it was never assessed: ``no-active-findings``
    answers INSUFFICIENT_DATA); a fix counts as available since the finding was first
    observed (the server does not know when the fix was published)."""
    record = session.get(ComplianceRecord, node.id)
    try:
        document, source = resolve(session, node, None)
    except PatchwardenError:  # an OS without any baseline: the default (none) applies
        document, source = None, "PredefinedDefault"
    baseline_name = str(((document or {}).get("metadata") or {}).get("name", ""))
    return NodeSnapshot(
        node_id=node.id,
        tags=dict(node.tags or {}),
        os_id=node.os_id,
        os_version=node.os_version,
        product=node.product,
        patch_group=node.patch_group or "",
        last_seen=node.last_seen_at,
        compliance=record.compliance if record else None,
        items=tuple(
            _fact(item) for item in (record.items if record else []) if isinstance(item, dict)
        ),
        findings=_findings(session, node.id),
        baseline_name=baseline_name,
        baseline_is_default=not source.startswith("PatchGroup:"),
    )


def _findings(session: Session, node_id: str) -> tuple[FindingFact, ...] | None:
    found = node_findings(session, node_id)
    if found is None:
        return None
    return tuple(
        FindingFact(
            vulnerability_id=f.vulnerability_id,
            severity=f.severity.value,
            status=f.status.value,
            fix_available=f.fix_available.value,
            fix_since=f.first_observed,
        )
        for f in found
    )
