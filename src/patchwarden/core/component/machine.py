"""The component interpreter: a pure state machine over (component, run, outcome).

:func:`start` makes a run of the chosen phases; :func:`next_attempt` says which action to
perform next (inputs rendered) or that the run is over; the runner performs it and hands
the :class:`Outcome` to :func:`handle`.  :func:`decide` is the rule for one outcome:

- exit 0 (and no timeout): the attempt succeeded (a loop goes on with its next iteration);
- exit 194: re-run the same attempt (Image Builder reboots first), at most
  :data:`MAX_RERUNS` times per iteration; a re-run does not use up an attempt;
- anything else (exit code, timeout, an error): retry while attempts < ``maxAttempts``,
  then the step failed and ``onFailure`` decides: Abort ends the run failed (the rest is
  Skipped), Continue records the failure and goes on (the run fails at the end), Ignore
  goes on as if it had succeeded (status Ignored, no outputs).

A reference that cannot be resolved (a step output that does not exist, a loop over a
parameter that is not there) fails the step at once, without retries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from patchwarden.core.component.model import (
    Component,
    OnFailure,
    Step,
    loop_values,
)
from patchwarden.core.component.template import Scope, Unresolved, render, substitute
from patchwarden.errors import InputError

RERUN_EXIT_CODE = 194
MAX_RERUNS = 10
"""Re-runs (exit 194) of one step iteration at most; one more fails the step."""


class StepStatus(StrEnum):
    """The status of a step in the run log."""

    SUCCESS = "Success"
    FAILED = "Failed"
    IGNORED = "Ignored"
    SKIPPED = "Skipped"


class Decision(StrEnum):
    """What one attempt's outcome leads to."""

    SUCCEEDED = "succeeded"
    RETRY = "retry"
    RERUN = "rerun"
    ABORT = "abort"
    CONTINUE = "continue"
    IGNORE = "ignore"


@dataclass(frozen=True)
class Outcome:
    """What performing one attempt gave."""

    exit_code: int | None = 0
    """None: the action did not get to an exit code (an error, see ``error``)."""
    outputs: Mapping[str, str] = field(default_factory=dict)
    error: str = ""
    timed_out: bool = False
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        """Exit 0 and no timeout."""
        return self.exit_code == 0 and not self.timed_out

    def describe(self) -> str:
        """The failure as one line."""
        if self.timed_out:
            return self.error or "timed out"
        if self.exit_code not in (None, 0):
            return f"exit code {self.exit_code}" + (f": {self.error}" if self.error else "")
        return self.error or "failed"


def decide(step: Step, attempt: int, reruns: int, outcome: Outcome) -> Decision:
    """The rule for one outcome of ``step`` at ``attempt`` (1-based) after ``reruns``
    re-runs of this iteration."""
    if outcome.ok:
        return Decision.SUCCEEDED
    if outcome.exit_code == RERUN_EXIT_CODE and not outcome.timed_out:
        if reruns < MAX_RERUNS:
            return Decision.RERUN
        return _final(step)
    if attempt < step.max_attempts:
        return Decision.RETRY
    return _final(step)


def _final(step: Step) -> Decision:
    return {
        OnFailure.ABORT: Decision.ABORT,
        OnFailure.CONTINUE: Decision.CONTINUE,
        OnFailure.IGNORE: Decision.IGNORE,
    }[step.on_failure]


@dataclass(frozen=True)
class Attempt:
    """One action to perform: the step, its rendered inputs, the timeout (None: none)."""

    phase: str
    step: str
    action: str
    inputs: object
    timeout_seconds: int | None
    attempt: int
    iteration: int | None = None
    loop_value: str | None = None


@dataclass(frozen=True)
class StepLog:
    """One step of the run log."""

    phase: str
    step: str
    action: str
    status: StepStatus
    attempts: int = 0
    """How many times the action ran (every iteration, retry and re-run)."""
    duration: float = 0.0
    outputs: Mapping[str, str] = field(default_factory=dict)
    error: str = ""
    reruns: int = 0
    iterations: int = 0


@dataclass(frozen=True)
class Run:
    """A run in progress (or over: ``done``)."""

    component: Component
    phases: tuple[str, ...]
    parameters: Mapping[str, str]
    phase_index: int = 0
    step_index: int = 0
    iterations: tuple[tuple[int, str], ...] | None = None
    """The current step's loop (index, value) pairs, once computed; ((0, ""),) without loop."""
    iteration: int = 0
    attempt: int = 1
    reruns: int = 0
    executions: int = 0
    total_reruns: int = 0
    elapsed: float = 0.0
    last_outputs: Mapping[str, str] = field(default_factory=dict)
    outputs: Mapping[tuple[str, str], Mapping[str, str]] = field(default_factory=dict)
    log: tuple[StepLog, ...] = ()
    failed: bool = False
    done: bool = False

    @property
    def succeeded(self) -> bool:
        """Over, and no step failed (Ignored steps do not fail a run)."""
        return self.done and not self.failed

    def current(self) -> tuple[str, Step]:
        """The (phase name, step) under the cursor."""
        phase = self.component.phase(self.phases[self.phase_index])
        return phase.name, phase.steps[self.step_index]


def start(
    component: Component,
    parameters: Mapping[str, str] | None = None,
    phases: Sequence[str] | None = None,
) -> Run:
    """A run of ``phases`` (default: all; always in document order).  InputError for a
    phase the component does not have or bad parameters."""
    values = component.resolve_parameters(parameters)
    have = [p.name for p in component.phases]
    wanted = list(dict.fromkeys(phases or have))
    for name in wanted:
        if name not in have:
            raise InputError(
                f"phase {name!r}: the component has no such phase (it has {', '.join(have)})"
            )
    chosen = tuple(name for name in have if name in wanted)
    run = Run(component, chosen, values)
    return _settle(run)


def _settle(run: Run) -> Run:
    """Move the cursor past empty phases; mark the run done when nothing is left."""
    while run.phase_index < len(run.phases):
        phase = run.component.phase(run.phases[run.phase_index])
        if run.step_index < len(phase.steps):
            return run
        run = replace(run, phase_index=run.phase_index + 1, step_index=0)
    return replace(run, done=True)


def _scope(run: Run, step: Step, outputs: bool) -> Scope:
    iteration = None
    if step.loop is not None and run.iterations is not None:
        iteration = run.iterations[run.iteration]
    return Scope(
        parameters=run.parameters,
        outputs=run.outputs if outputs else None,
        loop_name=step.loop.name if step.loop else None,
        loop_index=iteration[0] if iteration else None,
        loop_value=iteration[1] if iteration else None,
    )


def _iterations(run: Run, step: Step) -> tuple[tuple[int, str], ...]:
    if step.loop is None:
        return ((0, ""),)
    loop = step.loop
    scope = Scope(parameters=run.parameters)
    rendered = replace(
        loop,
        items=tuple(render(v, scope) for v in loop.items) if loop.items is not None else None,
        text=render(loop.text, scope) if loop.text is not None else None,
    )
    try:
        return tuple(loop_values(rendered))
    except ValueError as exc:
        raise Unresolved(str(exc)) from None


def next_attempt(run: Run) -> tuple[Run, Attempt | None]:
    """The next action to perform, or None when the run is over."""
    while not run.done:
        phase, step = run.current()
        try:
            if run.iterations is None:
                run = replace(run, iterations=_iterations(run, step), iteration=0)
            assert run.iterations is not None
            if not run.iterations:  # an empty loop: nothing to do, and nothing failed
                run = _finish(run, StepStatus.SUCCESS, "")
                continue
            inputs = substitute(step.inputs, _scope(run, step, outputs=True))
        except Unresolved as exc:
            run = _fail(run, step, str(exc))
            continue
        index, value = run.iterations[run.iteration]
        looped = step.loop is not None
        return run, Attempt(
            phase=phase,
            step=step.name,
            action=step.action,
            inputs=inputs,
            timeout_seconds=step.timeout_seconds,
            attempt=run.attempt,
            iteration=index if looped else None,
            loop_value=value if looped else None,
        )
    return run, None


def handle(run: Run, outcome: Outcome) -> Run:
    """The run after the current attempt ended with ``outcome``."""
    iterations = run.iterations
    if run.done or iterations is None:
        return run
    _, step = run.current()
    run = replace(
        run,
        executions=run.executions + 1,
        elapsed=run.elapsed + max(outcome.duration, 0.0),
    )
    decision = decide(step, run.attempt, run.reruns, outcome)
    if decision is Decision.SUCCEEDED:
        run = replace(run, last_outputs=dict(outcome.outputs))
        if run.iteration + 1 < len(iterations):
            return replace(run, iteration=run.iteration + 1, attempt=1, reruns=0)
        return _finish(run, StepStatus.SUCCESS, "")
    if decision is Decision.RERUN:
        return replace(run, reruns=run.reruns + 1, total_reruns=run.total_reruns + 1)
    if decision is Decision.RETRY:
        return replace(run, attempt=run.attempt + 1)
    message = outcome.describe()
    if outcome.exit_code == RERUN_EXIT_CODE and not outcome.timed_out:
        message = f"asked for a re-run (exit code 194) more than {MAX_RERUNS} times"
    elif step.max_attempts > 1:
        message = f"{message} (after {run.attempt} attempts)"
    if step.loop is not None:
        message = f"iteration {iterations[run.iteration][0]}: {message}"
    return _fail(run, step, message)


def _fail(run: Run, step: Step, message: str) -> Run:
    if step.on_failure is OnFailure.IGNORE:
        return _finish(run, StepStatus.IGNORED, message)
    run = _finish(replace(run, failed=True), StepStatus.FAILED, message)
    if step.on_failure is OnFailure.ABORT:
        return _skip_rest(run)
    return run


def _finish(run: Run, status: StepStatus, error: str) -> Run:
    phase, step = run.current()
    outputs = dict(run.last_outputs) if status is StepStatus.SUCCESS else {}
    entry = StepLog(
        phase=phase,
        step=step.name,
        action=step.action,
        status=status,
        attempts=run.executions,
        duration=run.elapsed,
        outputs=outputs,
        error=error,
        reruns=run.total_reruns,
        iterations=len(run.iterations or ()) if step.loop is not None else 0,
    )
    known = dict(run.outputs)
    if status is StepStatus.SUCCESS:
        known[(phase, step.name)] = outputs
    run = replace(
        run,
        log=(*run.log, entry),
        outputs=known,
        step_index=run.step_index + 1,
        iterations=None,
        iteration=0,
        attempt=1,
        reruns=0,
        executions=0,
        total_reruns=0,
        elapsed=0.0,
        last_outputs={},
    )
    return _settle(run)


def _skip_rest(run: Run) -> Run:
    """Abort: every step not run yet is Skipped and the run is over."""
    log = list(run.log)
    for p in range(run.phase_index, len(run.phases)):
        phase = run.component.phase(run.phases[p])
        first = run.step_index if p == run.phase_index else 0
        for step in phase.steps[first:]:
            log.append(StepLog(phase.name, step.name, step.action, StepStatus.SKIPPED))
    return replace(run, log=tuple(log), done=True)
