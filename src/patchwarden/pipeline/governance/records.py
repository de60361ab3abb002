"""Plain values that cross the governance ports: stored documents, latest results,
remediation runs, runbook executions, commands and webhook notifications."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from patchwarden.core.remediation import RemediationState
from patchwarden.core.runbook import Execution, Status
from patchwarden.core.runbook.destinations import WebhookTarget

ACTIVE = (Status.IN_PROGRESS.value, Status.WAITING.value, Status.PENDING.value)
"""Statuses of a runbook execution that still runs."""


@dataclass(frozen=True)
class StoredRule:
    """A stored Rule document (``pack``: the conformance pack owning it, if any)."""

    name: str
    spec: Mapping[str, Any]
    pack: str | None = None
    last_periodic_at: datetime | None = None


@dataclass(frozen=True)
class StoredRunbook:
    """A stored Runbook document (``document``: the whole envelope, kept by executions)."""

    name: str
    document: Mapping[str, Any]
    pack: str | None = None

    @property
    def spec(self) -> Mapping[str, Any]:
        """The runbook's ``spec``."""
        spec: Mapping[str, Any] = self.document["spec"]
        return spec


@dataclass(frozen=True)
class LatestResult:
    """The latest evaluation of a (rule, resource)."""

    compliance: str
    evaluated_at: datetime


@dataclass(frozen=True)
class Tracked:
    """The stored state of one (rule, resource) under remediation."""

    rule: str
    resource_id: str
    state: RemediationState


@dataclass(frozen=True)
class RemediationRun:
    """One remediation run of a (rule, resource)."""

    id: str
    rule: str
    resource_id: str
    execution_id: str | None = None
    ended: bool = False


@dataclass(frozen=True)
class StoredExecution:
    """A runbook execution: the runbook as it was when started and the interpreter state."""

    id: str
    runbook: str
    spec: Mapping[str, Any]
    execution: Execution

    @property
    def active(self) -> bool:
        """Whether the execution still runs (InProgress, Waiting, Pending)."""
        return self.execution.status.value in ACTIVE


@dataclass(frozen=True)
class CommandRequest:
    """A command a runbook step sends to one node."""

    node_id: str
    document: str
    parameters: Mapping[str, object]
    comment: str
    actor: str


@dataclass(frozen=True)
class SentCommand:
    """A command that was created (``target_count`` 0: the node is not an active one)."""

    id: str
    target_count: int


@dataclass(frozen=True)
class CommandOutcome:
    """A command that reached a terminal status, with its (first) invocation's output."""

    id: str
    status: str
    output: str = ""


@dataclass(frozen=True)
class Notification:
    """A webhook a ``notify`` step asked for: sent after the transaction that queued it
    commits, its outcome reported back to the execution."""

    execution_id: str
    step: str
    attempt: int
    target: WebhookTarget
    payload: Mapping[str, object] = field(default_factory=dict)

    @property
    def destination(self) -> str:
        """The destination's name (what executions show; never its URL)."""
        return self.target.name


@dataclass(frozen=True)
class Delivery:
    """How a webhook went: an HTTP status, or the error that kept it from being sent.  For
    the server's log only: a step shows just "delivered" / "not delivered (attempt N)", so
    that what answered (or did not) at the target never reaches the execution's readers."""

    status_code: int | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        """A 1xx or 2xx answer."""
        return self.status_code is not None and self.status_code < 300
