"""What the runner does for each interpreter action (commands to agents, tag edits,
webhooks queued for after the commit, waits) and how it notices that a waited-for thing
happened."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from patchwarden.core.rollout import CommandStatus
from patchwarden.core.runbook import (
    Action,
    AwaitApprovals,
    AwaitCompliance,
    ChangeTags,
    Event,
    Notify,
    RunCommand,
    StepFailed,
    StepSucceeded,
    parse_runbook,
)
from patchwarden.core.runbook.destinations import WebhookTarget, step_refusal
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.governance import catalog, evaluation
from patchwarden.pipeline.governance.context import Governance
from patchwarden.pipeline.governance.records import (
    CommandRequest,
    Delivery,
    Notification,
    StoredExecution,
)

REDELIVER_AFTER = timedelta(seconds=60)
"""A webhook queued this long ago without an outcome is queued again by the tick (its
sender died, or it was queued in a transaction whose owner does not send webhooks)."""
OUTPUT_CHARS = 2000


def actor(stored: StoredExecution) -> str:
    """The audit actor of an execution's effects."""
    return f"runbook:{stored.runbook}/{stored.id}"


def perform(gov: Governance, stored: StoredExecution, action: Action, at: datetime) -> Event | None:
    """Do ``action``; an event when its outcome is known at once."""
    if isinstance(action, RunCommand):
        return _run_command(gov, stored, action, at)
    if isinstance(action, ChangeTags):
        return _change_tags(gov, stored, action, at)
    if isinstance(action, Notify):
        return _notify(gov, stored, action, at)
    if isinstance(action, AwaitApprovals):
        waiting: dict[str, Any] = {
            "approvals": action.required,
            "approvers": list(action.approvers),
            "message": action.message,
            "until": action.until.isoformat(),
        }
        gov.executions.set_waiting(stored.id, action.step, waiting)
    elif isinstance(action, AwaitCompliance):
        waiting = {
            "node_id": action.node_id,
            "rule": action.rule,
            "desired": action.desired,
            "attempt": action.attempt,
        }
        gov.executions.set_waiting(stored.id, action.step, waiting)
    return None


def _run_command(
    gov: Governance, stored: StoredExecution, action: RunCommand, at: datetime
) -> Event | None:
    if action.shell:  # enabled by an admin; the agent has no shell document yet
        detail = {"parameters": dict(action.parameters)}
        gov.audit.record(actor(stored), "runbook.shell", action.node_id, at, detail)
        return StepFailed(
            action.step, "the agent does not run RunShellScript commands", action.attempt
        )
    request = CommandRequest(
        node_id=action.node_id,
        document=action.document,
        parameters=dict(action.parameters),
        comment=f"runbook {stored.runbook}"[:100],
        actor=actor(stored),
    )
    try:
        command = gov.commands.send(request, at)
    except PatchwardenError as exc:
        return StepFailed(action.step, f"command not sent: {exc}", action.attempt)
    if command.target_count == 0:
        return StepFailed(
            action.step, f"node {action.node_id} is not an active managed node", action.attempt
        )
    waiting = {"command_id": command.id, "attempt": action.attempt}
    gov.executions.set_waiting(stored.id, action.step, waiting)
    return None


def _change_tags(
    gov: Governance, stored: StoredExecution, action: ChangeTags, at: datetime
) -> Event | None:
    found = gov.tags.tags(action.node_id)
    if found is None:
        return StepFailed(
            action.step, f"node {action.node_id} is not an active managed node", action.attempt
        )
    tags = {k: v for k, v in found.items() if k not in action.remove}
    tags.update(action.add)
    gov.tags.set_tags(action.node_id, tags)
    detail = {"add": dict(action.add), "remove": list(action.remove)}
    gov.audit.record(actor(stored), "node.tags", action.node_id, at, detail)
    evaluation.changed(gov, action.node_id, at)
    return StepSucceeded(action.step, {"Tags": tags}, action.attempt)


def _notify(gov: Governance, stored: StoredExecution, action: Notify, at: datetime) -> Event | None:
    """A ``notify`` step: only a destination an admin configured is called (checked again
    here: the runbook was stored earlier, the destination may have been removed since)."""
    inputs = parse_runbook(stored.runbook, stored.spec).step(action.step).inputs
    destinations = gov.catalog.destinations()
    refusal = step_refusal(action.step, inputs, destinations.urls)
    target = destinations.target(action.destination)
    if refusal is not None or target is None:
        return StepFailed(action.step, refusal or "no such destination", action.attempt)
    _queue(gov, stored.id, action.step, action.attempt, target, action.payload, at)
    return None


def _queue(
    gov: Governance,
    execution_id: str,
    step: str,
    attempt: int,
    target: WebhookTarget,
    payload: Mapping[str, object],
    at: datetime,
) -> None:
    """Queue a webhook; the step waits for its outcome (it shows the destination's name,
    never its URL).  It is claimed (``queued_at``) only when the outbox's owner sends it,
    else the next tick does."""
    claimed = at.isoformat() if gov.outbox.delivers else None
    waiting = {
        "webhook": target.name,
        "payload": dict(payload),
        "attempt": attempt,
        "queued_at": claimed,
    }
    gov.executions.set_waiting(execution_id, step, waiting)
    if gov.outbox.delivers:
        gov.outbox.queue(Notification(execution_id, step, attempt, target, dict(payload)))


DELIVERED = "delivered"


def delivered(notification: Notification, delivery: Delivery) -> Event:
    """The event a webhook's outcome is for its step: "delivered" or "not delivered
    (attempt N)", nothing of what answered (a status, a body, an error) — readers of an
    execution must not learn what lives at an address (an SSRF / port-scan oracle)."""
    step, attempt = notification.step, notification.attempt
    if not delivery.ok:
        return StepFailed(step, f"not delivered (attempt {attempt})", attempt)
    return StepSucceeded(step, {"Delivered": True}, attempt, message=DELIVERED)


def check(gov: Governance, stored: StoredExecution, at: datetime) -> Event | None:
    """What the current step waited for, if it happened."""
    execution = stored.execution
    if execution.current is None:
        return None
    step = execution.current
    waiting = gov.executions.waiting(stored.id, step)
    attempt = waiting.get("attempt")
    if "command_id" in waiting:
        outcome = gov.command_results.outcome(str(waiting["command_id"]))
        if outcome is None:
            return None
        outputs: dict[str, Any] = {
            "Status": outcome.status,
            "CommandId": outcome.id,
            "Output": outcome.output[-OUTPUT_CHARS:],
        }
        if outcome.status == CommandStatus.SUCCESS:
            return StepSucceeded(step, outputs, attempt)
        return StepFailed(step, f"command {outcome.id} ended {outcome.status}", attempt)
    if "webhook" in waiting:
        queued = waiting.get("queued_at")
        if queued is None or at - datetime.fromisoformat(str(queued)) >= REDELIVER_AFTER:
            name = str(waiting["webhook"])
            target = gov.catalog.destinations().target(name)
            if target is None:  # removed by an admin since the step was queued
                return StepFailed(
                    step, f"step {step}: webhook destination {name!r} is not configured", attempt
                )
            payload = waiting.get("payload") or {}
            _queue(gov, stored.id, step, int(attempt or 0), target, payload, at)
        return None
    if "desired" in waiting:
        return _compliance(gov, stored, step, waiting, at)
    return None


def _compliance(
    gov: Governance, stored: StoredExecution, step: str, waiting: Mapping[str, Any], at: datetime
) -> Event | None:
    """A ``waitForCompliance`` step: rules not evaluated since the step started are
    evaluated now; success once every one of them is at the desired compliance."""
    attempt, node_id, desired = waiting.get("attempt"), str(waiting["node_id"]), waiting["desired"]
    rules = [
        r for r in catalog.rules(gov.catalog) if not waiting["rule"] or r.name == waiting["rule"]
    ]
    if not gov.nodes.exists(node_id):
        return StepFailed(step, f"node {node_id} is gone", attempt)
    started = stored.execution.steps[step].started_at
    latest = [gov.results.latest(r.name, node_id) for r in rules]
    if any(x is None or started is None or x.evaluated_at < started for x in latest):
        evaluation.run(gov, rules, [node_id], "WaitForCompliance", at)
        latest = [gov.results.latest(r.name, node_id) for r in rules]
    if latest and all(x is not None and x.compliance == desired for x in latest):
        return StepSucceeded(step, {"Compliance": desired}, attempt)
    return None
