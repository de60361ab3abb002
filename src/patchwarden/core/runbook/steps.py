"""Entering one step attempt: substitute its inputs and turn the action into an
:class:`Outcome` (done at once) or runner actions (the outcome comes later as an event)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from patchwarden.core.runbook.branch import holds
from patchwarden.core.runbook.inputs import (
    AGENT_DOCUMENTS,
    DEFAULT_APPROVE_TIMEOUT,
    MAX_APPROVE_TIMEOUT,
    SHELL_DOCUMENTS,
    duration,
)
from patchwarden.core.runbook.model import Step
from patchwarden.core.runbook.state import (
    Action,
    AwaitApprovals,
    AwaitCompliance,
    ChangeTags,
    Execution,
    Notify,
    RunCommand,
    Status,
    StepRun,
    WakeAt,
)
from patchwarden.core.runbook.text import Unresolved, substitute
from patchwarden.errors import InputError

DEFAULT_COMPLIANCE_TIMEOUT = 3600


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended: ``final`` failures skip the remaining attempts (a rejection)."""

    ok: bool
    message: str = ""
    outputs: Mapping[str, object] = field(default_factory=dict)
    timed_out: bool = False
    final: bool = False
    next_step: str | None = None


def _text(inputs: Mapping[str, object], key: str) -> str:
    value = inputs.get(key)
    if not isinstance(value, str) or not value:
        raise InputError(f"inputs.{key} must be a non-empty string, got {value!r}")
    return value


def _timestamp(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"inputs.Timestamp: not an ISO 8601 date-time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def perform(
    step: Step, execution: Execution, run: StepRun, now: datetime
) -> tuple[Outcome | None, StepRun, list[Action]]:
    """Enter ``step`` (``run`` is the new attempt): an immediate outcome or actions."""
    try:
        inputs = substitute(step.inputs, execution.variables)
        assert isinstance(inputs, Mapping)
        return _perform(step, execution, run, inputs, now)
    except (Unresolved, InputError) as exc:
        return Outcome(ok=False, message=str(exc)), run, []


def _perform(
    step: Step, execution: Execution, run: StepRun, inputs: Mapping[str, object], now: datetime
) -> tuple[Outcome | None, StepRun, list[Action]]:
    attempt, action = run.attempts, step.action
    if action == "runCommand":
        document = _text(inputs, "DocumentName")
        if document in SHELL_DOCUMENTS and not execution.allow_shell:
            message = f"{document} is disabled (an admin must enable shell execution)"
            return Outcome(ok=False, message=message, final=True), run, []
        if document not in AGENT_DOCUMENTS + SHELL_DOCUMENTS:
            return Outcome(ok=False, message=f"unknown document {document!r}", final=True), run, []
        params = inputs.get("Parameters") or {}
        if not isinstance(params, Mapping):
            raise InputError("inputs.Parameters must be a mapping")
        node = _text(inputs, "NodeId")
        shell = document in SHELL_DOCUMENTS
        return None, run, [RunCommand(step.name, attempt, node, document, dict(params), shell)]
    if action in ("addTags", "removeTags"):
        node = _text(inputs, "NodeId")
        if action == "addTags":
            tags = inputs["Tags"]
            if not isinstance(tags, Mapping):
                raise InputError("inputs.Tags must be a mapping")
            change = ChangeTags(
                step.name, attempt, node, add={str(k): str(v) for k, v in tags.items()}
            )
        else:
            keys = inputs["TagKeys"]
            if not isinstance(keys, list):
                raise InputError("inputs.TagKeys must be a list")
            change = ChangeTags(step.name, attempt, node, remove=tuple(str(k) for k in keys))
        return None, run, [change]
    if action == "notify":
        payload = {
            "runbook": execution.runbook,
            "step": step.name,
            "message": str(inputs.get("Message", "")),
        }
        extra = inputs.get("Payload") or {}
        if isinstance(extra, Mapping):
            payload.update({str(k): v for k, v in extra.items()})
        return None, run, [Notify(step.name, attempt, _text(inputs, "Destination"), payload)]
    if action == "sleep":
        if "Duration" in inputs:
            until = now + duration(inputs["Duration"], "inputs.Duration")
        else:
            until = _timestamp(inputs["Timestamp"])
        if until <= now:
            return Outcome(ok=True), run, []
        return None, replace(run, wake_at=until), [WakeAt(step.name, until)]
    if action == "branch":
        for choice in inputs["Choices"]:  # type: ignore[attr-defined]
            if holds(choice):
                return Outcome(ok=True, next_step=str(choice["NextStep"])), run, []
        default = inputs.get("Default")
        return Outcome(ok=True, next_step=str(default) if default else None), run, []
    if action == "approve":
        seconds = min(step.timeout_seconds or DEFAULT_APPROVE_TIMEOUT, MAX_APPROVE_TIMEOUT)
        until = now + timedelta(seconds=seconds)
        approvers = tuple(str(a) for a in inputs.get("Approvers", []) or [])  # type: ignore[attr-defined]
        required = int(str(inputs.get("MinRequiredApprovals", 1)))
        wait = AwaitApprovals(step.name, required, approvers, str(inputs.get("Message", "")), until)
        return (
            None,
            replace(run, status=Status.WAITING, deadline=until),
            [wait, WakeAt(step.name, until)],
        )
    # waitForCompliance
    seconds = step.timeout_seconds or DEFAULT_COMPLIANCE_TIMEOUT
    until = now + timedelta(seconds=seconds)
    desired = str(inputs.get("DesiredCompliance", "COMPLIANT"))
    rule = str(inputs.get("RuleName", ""))
    wait_c = AwaitCompliance(step.name, attempt, _text(inputs, "NodeId"), rule, desired, until)
    return None, replace(run, deadline=until), [wait_c, WakeAt(step.name, until)]
