"""What the runner does for each interpreter action (commands to agents, tag edits, webhooks
via httpx, waits) and how it notices that a waited-for thing happened."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage import nodes as node_store
from patchwarden.adapters.storage.governance_tables import (
    ResourceComplianceRow,
    RunbookExecutionRow,
    StepExecutionRow,
)
from patchwarden.adapters.storage.tables import Command, Invocation, Node
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
)
from patchwarden.errors import PatchwardenError
from patchwarden.server import audit, commands
from patchwarden.server.command_schema import SendCommand
from patchwarden.server.governance import store
from patchwarden.server.governance.codec import execution_from_json

NOTIFY_TIMEOUT = 5.0


def step_row(session: Session, row: RunbookExecutionRow, name: str) -> StepExecutionRow:
    step = session.get(StepExecutionRow, (row.id, name))
    assert step is not None
    return step


def perform(
    session: Session, row: RunbookExecutionRow, action: Action, at: datetime
) -> Event | None:
    """Do ``action``; an event when its outcome is known at once."""
    actor = f"runbook:{row.runbook}/{row.id}"
    if isinstance(action, RunCommand):
        if action.shell:  # enabled by an admin; the agent has no shell document yet
            audit.record(
                session,
                actor,
                "runbook.shell",
                action.node_id,
                at,
                {"parameters": dict(action.parameters)},
            )
            return StepFailed(
                action.step, "the agent does not run RunShellScript commands", action.attempt
            )
        try:
            body = SendCommand.model_validate(
                {
                    "DocumentName": action.document,
                    "InstanceIds": [action.node_id],
                    "Parameters": dict(action.parameters),
                    "MaxConcurrency": "1",
                    "MaxErrors": "0",
                    "Comment": f"runbook {row.runbook}"[:100],
                }
            )
            command = commands.send(session, body, actor, at)
        except (ValueError, PatchwardenError) as exc:
            return StepFailed(action.step, f"command not sent: {exc}", action.attempt)
        if command.target_count == 0:
            return StepFailed(
                action.step, f"node {action.node_id} is not an active managed node", action.attempt
            )
        step_row(session, row, action.step).waiting = {
            "command_id": command.id,
            "attempt": action.attempt,
        }
        return None
    if isinstance(action, ChangeTags):
        node = session.get(Node, action.node_id)
        if node is None or node.deregistered_at is not None:
            return StepFailed(
                action.step, f"node {action.node_id} is not an active managed node", action.attempt
            )
        tags = {k: v for k, v in dict(node.tags or {}).items() if k not in action.remove}
        tags.update(action.add)
        node_store.set_tags(session, node, tags)
        audit.record(
            session,
            actor,
            "node.tags",
            node.id,
            at,
            {"add": dict(action.add), "remove": list(action.remove)},
        )
        session.flush()
        from patchwarden.server.governance import evaluate

        evaluate.changed(session, node.id, at)
        return StepSucceeded(action.step, {"Tags": tags}, action.attempt)
    if isinstance(action, Notify):
        try:
            response = httpx.post(action.url, json=dict(action.payload), timeout=NOTIFY_TIMEOUT)
        except httpx.HTTPError as exc:
            return StepFailed(action.step, f"webhook failed: {exc}", action.attempt)
        if response.status_code >= 300:
            return StepFailed(
                action.step, f"webhook answered {response.status_code}", action.attempt
            )
        return StepSucceeded(action.step, {"StatusCode": response.status_code}, action.attempt)
    if isinstance(action, AwaitApprovals):
        step_row(session, row, action.step).waiting = {
            "approvals": action.required,
            "approvers": list(action.approvers),
            "message": action.message,
            "until": action.until.isoformat(),
        }
    elif isinstance(action, AwaitCompliance):
        step_row(session, row, action.step).waiting = {
            "node_id": action.node_id,
            "rule": action.rule,
            "desired": action.desired,
            "attempt": action.attempt,
        }
    return None


def check(session: Session, row: RunbookExecutionRow, at: datetime) -> Event | None:
    """What the current step waited for, if it happened."""
    execution = execution_from_json(row.state)
    if execution.current is None:
        return None
    step, run = step_row(session, row, execution.current), execution.steps[execution.current]
    waiting = step.waiting or {}
    if "command_id" in waiting:
        command = session.get(Command, waiting["command_id"])
        if command is None or not CommandStatus(command.status).terminal:
            return None
        output = (
            session.scalar(select(Invocation.output).where(Invocation.command_id == command.id))
            or ""
        )
        outputs: dict[str, Any] = {
            "Status": command.status,
            "CommandId": command.id,
            "Output": output[-2000:],
        }
        if command.status == CommandStatus.SUCCESS:
            return StepSucceeded(step.step, outputs, waiting.get("attempt"))
        return StepFailed(
            step.step, f"command {command.id} ended {command.status}", waiting.get("attempt")
        )
    if "desired" in waiting:
        from patchwarden.server.governance import evaluate

        rules = [
            r for r in store.rules(session) if not waiting["rule"] or r.name == waiting["rule"]
        ]
        node = session.get(Node, waiting["node_id"])
        if node is None:
            return StepFailed(
                step.step, f"node {waiting['node_id']} is gone", waiting.get("attempt")
            )
        latest = [session.get(ResourceComplianceRow, (r.name, node.id)) for r in rules]
        if any(
            x is None or run.started_at is None or x.evaluated_at < run.started_at for x in latest
        ):
            evaluate.run(session, rules, [node], "WaitForCompliance", at)
            latest = [session.get(ResourceComplianceRow, (r.name, node.id)) for r in rules]
        if latest and all(x is not None and x.compliance == waiting["desired"] for x in latest):
            return StepSucceeded(
                step.step, {"Compliance": waiting["desired"]}, waiting.get("attempt")
            )
    return None
