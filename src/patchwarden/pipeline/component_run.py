"""Run an Image Builder component's phases on a root filesystem.

The decisions are :mod:`patchwarden.core.component` (which action next, what an outcome
leads to); this use case performs each attempt through an :class:`ActionRunner` (the file
and execution actions on the root) and, for ``UpdateOS``, installs updates through the
root's :class:`~patchwarden.ports.PackageManager` with :func:`patchwarden.pipeline.install.install`
(an approve-all baseline filtered by ``include``/``exclude``, :mod:`core.component.updateos`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from patchwarden.core.baseline import PatchBaseline
from patchwarden.core.component import (
    Attempt,
    Component,
    Outcome,
    StepLog,
    handle,
    next_attempt,
    start,
)
from patchwarden.core.component.updateos import update_os_baseline, with_rejected
from patchwarden.core.model import PatchState
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.install import RebootOption, install
from patchwarden.pipeline.scan import baseline_for
from patchwarden.ports import PackageManager, StateStore


class ActionRunner(Protocol):
    """Performs one attempt of a file or execution action on the root."""

    def run(self, attempt: Attempt) -> Outcome:
        """The outcome (exit code, outputs, error, timeout, duration); never raises for a
        failure of the action itself."""
        ...


@dataclass(frozen=True)
class ComponentResult:
    """A finished run: the per-step log and the overall status."""

    name: str
    root: str
    phases: tuple[str, ...]
    steps: tuple[StepLog, ...]
    succeeded: bool

    @property
    def status(self) -> str:
        """``Success`` or ``Failed``."""
        return "Success" if self.succeeded else "Failed"


def run_component(
    component: Component,
    actions: ActionRunner,
    *,
    root: str,
    now: datetime,
    name: str = "",
    parameters: Mapping[str, str] | None = None,
    phases: Sequence[str] | None = None,
    package_manager: Callable[[], PackageManager] | None = None,
    state: StateStore | None = None,
    on_step: Callable[[StepLog], None] | None = None,
    baseline: PatchBaseline | None = None,
) -> ComponentResult:
    """Run ``phases`` (default: all, in document order) of ``component`` on ``root``.

    ``package_manager`` is asked for the root's adapter the first time an UpdateOS step
    runs (a root without a supported OS fails that step, not the run's start).
    ``on_step`` hears each step's log entry as soon as the step is over.  With a
    ``baseline`` (an image pipeline's ``patchBaseline``), UpdateOS installs what it approves.
    """
    run = start(component, parameters, phases)
    seen = 0
    while True:
        run, attempt = next_attempt(run)
        for entry in run.log[seen:]:
            if on_step is not None:
                on_step(entry)
        seen = len(run.log)
        if attempt is None:
            break
        if attempt.action == "UpdateOS":
            outcome = update_os(attempt, package_manager, now, state, baseline)
        else:
            outcome = actions.run(attempt)
        run = handle(run, outcome)
    return ComponentResult(
        name=name or component.name,
        root=root,
        phases=run.phases,
        steps=run.log,
        succeeded=run.succeeded,
    )


def update_os(
    attempt: Attempt,
    package_manager: Callable[[], PackageManager] | None,
    now: datetime,
    state: StateStore | None = None,
    baseline: PatchBaseline | None = None,
) -> Outcome:
    """``UpdateOS{include, exclude}``: refresh the package indices, then install every
    approved update (no reboot: the image is not running).  Fails when any update that
    should have gone on did not.

    With a ``baseline`` the step installs what that baseline approves (the same rules as a
    host's Install), ``exclude`` adding to its rejected patches (blocked); ``include`` cannot
    narrow a baseline's rules and is refused with one.
    """
    began = time.monotonic()
    if package_manager is None:
        return Outcome(exit_code=None, error="UpdateOS: no package manager for this root")
    inputs = attempt.inputs if isinstance(attempt.inputs, Mapping) else {}
    include = [str(v) for v in inputs.get("include", []) or []]
    exclude = [str(v) for v in inputs.get("exclude", []) or []]
    try:
        pm = package_manager()
        pm.refresh()
        before = pm.collect()
        if baseline is None:
            chosen = update_os_baseline(
                baseline_for(before, None).operating_system, include, exclude
            )
        elif include:
            return Outcome(
                exit_code=None,
                error=f"UpdateOS: include cannot be combined with the patch baseline "
                f"{baseline.name!r} (its approval rules decide what is installed)",
            )
        else:
            chosen = with_rejected(baseline, exclude)
        report = install(pm, chosen, now, state=state, reboot_option=RebootOption.NO_REBOOT)
    except PatchwardenError as exc:
        return Outcome(exit_code=None, error=str(exc), duration=time.monotonic() - began)
    old = {(i.package.name, i.package.arch): i.package.version for i in before.installed}
    after = [i.package for i in (report.inventory.installed if report.inventory else ())]
    installed = [
        f"{p.name}:{p.arch} {p.version}" for p in after if old.get((p.name, p.arch)) != p.version
    ]
    failed = [i for i in report.items if i.state is PatchState.FAILED]
    duration = time.monotonic() - began
    outputs = {"stdout": "\n".join(installed)}
    if failed:
        shown = ", ".join(f"{i.name} ({i.detail})" if i.detail else i.name for i in failed[:5])
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        return Outcome(
            exit_code=1,
            outputs=outputs,
            error=f"{len(failed)} update(s) not installed: {shown}{more}",
            duration=duration,
        )
    return Outcome(exit_code=0, outputs=outputs, duration=duration)
