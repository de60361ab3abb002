"""State, facts and actions of the window-task machine (pure values).

The server loads a task execution into a :class:`TaskState`, reads what it needs of the
world into :class:`Facts`, calls :func:`~patchwarden.core.window_machine.step` and
performs the returned actions; it never decides what comes next.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

from patchwarden.core.rollout import DEFAULT_MAX_CONCURRENCY, InvocationStatus
from patchwarden.core.waves import Concurrency
from patchwarden.core.windows import Status

RUN_COMMAND = "RUN_COMMAND"
AUTOMATION = "AUTOMATION"
CANCEL_TASK = "CANCEL_TASK"
CONTINUE_TASK = "CONTINUE_TASK"
MAX_DETAILS = 250
"""StatusDetails of a task execution are at most this long (as AWS)."""


class Phase(IntEnum):
    """The phases of one wave of a RUN_COMMAND task (an AUTOMATION task has only TASK)."""

    PRE_HOOK = 0
    TASK = 1
    POST_HOOK = 2


@dataclass(frozen=True)
class TaskConfig:
    """What the machine needs of a task's document (``TaskSpec``)."""

    task_type: str = RUN_COMMAND
    task_arn: str = "AWS-RunPatchBaseline"
    concurrency: Concurrency = DEFAULT_MAX_CONCURRENCY
    """MaxConcurrency as run: an SSM limit or a canary list."""
    cutoff_behavior: str = CONTINUE_TASK
    pause_seconds: int = 0
    """PauseBetweenWavesSeconds."""
    timeout_seconds: int | None = None
    """The RunCommand TimeoutSeconds (``None``: until the window closes)."""
    pre_hook: bool = False
    post_hook: bool = False

    @property
    def phases(self) -> tuple[int, ...]:
        """The phases each wave runs, in order (absent hooks skipped), as stored."""
        if self.task_type == AUTOMATION:
            return (Phase.TASK.value,)
        present = (self.pre_hook, True, self.post_hook)
        return tuple(p.value for p, on in zip(Phase, present, strict=True) if on)


@dataclass(frozen=True)
class TaskState:
    """One task execution, as stored (``window_task_executions``)."""

    status: Status
    waves: tuple[tuple[str, ...], ...]
    """Node ids of each wave."""
    error_limit: int
    """MaxErrors of the whole task, as an absolute number."""
    wave: int = 0
    """The wave running (or next to run)."""
    phase: int = 0
    errors: int = 0
    """Errors so far, over every wave."""
    not_before: datetime | None = None
    """The pause between waves ends."""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    details: str = ""

    @property
    def total(self) -> int:
        """Target nodes over every wave."""
        return sum(len(w) for w in self.waves)


@dataclass(frozen=True)
class PhaseCommand:
    """The command of the current wave phase of a RUN_COMMAND task, as last read."""

    command_id: str
    terminal: bool
    cancel_requested: bool = False
    error_count: int = 0
    """Invocations that count toward MaxErrors (the command's rollup)."""
    succeeded: tuple[str, ...] = ()
    """Nodes whose invocation succeeded (the next phase runs on them)."""
    refreshed: bool = False
    """Timeouts, MaxErrors and cancellation were applied to it in this tick."""


@dataclass(frozen=True)
class Facts:
    """What the machine needs of the world in one tick."""

    cutoff_at: datetime
    """No new task, wave or phase starts at or after this instant."""
    end_at: datetime
    """The window closes."""
    cancelling: bool = False
    """The window execution is being cancelled."""
    command: PhaseCommand | None = None
    """RUN_COMMAND: the command of the current (wave, phase), if it was sent."""
    runs: Mapping[str, InvocationStatus] = field(default_factory=dict)
    """AUTOMATION: the runbook executions started, by node: ``InProgress`` while active,
    else ``Success`` or ``Failed`` (Failed, TimedOut, Cancelled…)."""
    runbook_exists: bool = True
    """AUTOMATION: the runbook ``TaskArn`` names exists."""
    start_failure: str | None = None
    """AUTOMATION: why starting a runbook execution was refused (the last StartRuns)."""


@dataclass(frozen=True)
class Refresh:
    """Bring the phase's command up to date (timeouts, MaxErrors), requesting its
    cancellation first when ``cancel``; then step again with it ``refreshed``."""

    command_id: str
    cancel: bool = False


@dataclass(frozen=True)
class SendPhase:
    """Send one phase of one wave as a rate-controlled command and link it to the task."""

    wave: int
    phase: int
    node_ids: tuple[str, ...]
    max_concurrency: str
    max_errors: str
    """What is left of the task's MaxErrors."""
    timeout_seconds: int
    """The delivery timeout (TimeoutSeconds)."""


@dataclass(frozen=True)
class StartRuns:
    """Start one runbook execution per node, in order; stop starting once more than
    ``max_errors`` of them failed at once.  Then step again (with ``start_failure`` when
    the runner refused one)."""

    node_ids: tuple[str, ...]
    max_errors: int


Action = Refresh | SendPhase | StartRuns


@dataclass(frozen=True)
class Transition:
    """The task's next state and what to do for it (none, while it runs: wait for the next
    tick)."""

    state: TaskState
    actions: tuple[Action, ...] = ()

    @property
    def again(self) -> bool:
        """Whether to read the facts again and step once more in this tick."""
        return any(isinstance(a, Refresh | StartRuns) for a in self.actions)
