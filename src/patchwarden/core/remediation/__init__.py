"""Remediation (reference §8.2): configurations, the per (rule, resource) state machine with
attempts, retry spacing, grace period (mark-for-op) and exceptions, and execution controls.
All pure; ``now`` is a parameter."""

from __future__ import annotations

from patchwarden.core.remediation.config import (
    RESOURCE_ID,
    RemediationConfig,
    admit,
    concurrency_limit,
    errors_exceeded,
    parse_remediation,
)
from patchwarden.core.remediation.machine import (
    Decision,
    Phase,
    RecordException,
    RemediationState,
    StartRun,
    accept_risk,
    clear_exception,
    finished,
    observe,
    retry_delay,
    start_manual,
    started,
    tick,
)

__all__ = [
    "RESOURCE_ID",
    "Decision",
    "Phase",
    "RecordException",
    "RemediationConfig",
    "RemediationState",
    "StartRun",
    "accept_risk",
    "admit",
    "clear_exception",
    "concurrency_limit",
    "errors_exceeded",
    "finished",
    "observe",
    "parse_remediation",
    "retry_delay",
    "start_manual",
    "started",
    "tick",
]
