"""Runbooks (``kind: Runbook``, SSM Automation schema 0.3 in spirit, reference §9).

- :func:`parse_runbook` validates a runbook from plain values;
- :func:`start` / :func:`handle` are the pure interpreter: (runbook, execution, event, now)
  → (execution, actions).  The runner (server) performs the actions and reports events.
"""

from __future__ import annotations

from patchwarden.core.runbook.inputs import ACTIONS, AGENT_DOCUMENTS, SHELL_DOCUMENTS
from patchwarden.core.runbook.machine import approval_refusal, handle, is_approver, start
from patchwarden.core.runbook.model import Runbook, Step, StepOutput, parse_runbook
from patchwarden.core.runbook.params import RunbookParameter, resolve
from patchwarden.core.runbook.state import (
    Action,
    ApprovalGiven,
    AwaitApprovals,
    AwaitCompliance,
    Cancel,
    ChangeTags,
    Event,
    Execution,
    Notify,
    RunCommand,
    Status,
    StepFailed,
    StepRun,
    StepSucceeded,
    TimerFired,
    Transition,
    WakeAt,
)

__all__ = [
    "ACTIONS",
    "AGENT_DOCUMENTS",
    "SHELL_DOCUMENTS",
    "Action",
    "ApprovalGiven",
    "AwaitApprovals",
    "AwaitCompliance",
    "Cancel",
    "ChangeTags",
    "Event",
    "Execution",
    "Notify",
    "RunCommand",
    "Runbook",
    "RunbookParameter",
    "Status",
    "Step",
    "StepFailed",
    "StepOutput",
    "StepRun",
    "StepSucceeded",
    "TimerFired",
    "Transition",
    "WakeAt",
    "approval_refusal",
    "handle",
    "is_approver",
    "parse_runbook",
    "resolve",
    "start",
]
