"""Image Builder components (``kind: Component``, AWSTOE documents, reference §11).

- :func:`parse_component` validates a component document from plain values;
- :mod:`~patchwarden.core.component.template` renders ``{{ … }}`` references;
- :func:`start` / :func:`next_attempt` / :func:`handle` are the pure interpreter: which
  action runs next, and what each outcome (exit code, timeout, error) leads to.
"""

from __future__ import annotations

from patchwarden.core.component.machine import (
    MAX_RERUNS,
    RERUN_EXIT_CODE,
    Attempt,
    Decision,
    Outcome,
    Run,
    StepLog,
    StepStatus,
    decide,
    handle,
    next_attempt,
    start,
)
from patchwarden.core.component.model import (
    ACTIONS,
    PHASES,
    Component,
    Loop,
    OnFailure,
    Parameter,
    Phase,
    Step,
    parse_component,
    permissions_mode,
)
from patchwarden.core.component.template import Scope, Unresolved, render, substitute

__all__ = [
    "ACTIONS",
    "MAX_RERUNS",
    "PHASES",
    "RERUN_EXIT_CODE",
    "Attempt",
    "Component",
    "Decision",
    "Loop",
    "OnFailure",
    "Outcome",
    "Parameter",
    "Phase",
    "Run",
    "Scope",
    "Step",
    "StepLog",
    "StepStatus",
    "Unresolved",
    "decide",
    "handle",
    "next_attempt",
    "parse_component",
    "permissions_mode",
    "render",
    "start",
    "substitute",
]
