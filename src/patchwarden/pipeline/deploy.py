"""Roll an image out to a deployment group, and back (CodeDeploy's blue/green for images).

One run, for every strategy::

    resolve      the image: the run's own, or the newest AVAILABLE one of the deployment's
                 pipeline (or image name + version selector); a stale image is refused
                 unless forced; findings above the alarm's thresholds stop it at once
    start        one green instance per blue one (the group's ``instances`` on a first
                 deployment), on slots blue does not use
    ready        every green instance passes ``healthyThreshold`` checks in a row within
                 ``readyTimeout`` — or the run fails (traffic never left blue)
    waves        the router sends green its share of each wave (weights over the
                 instances), which bakes for the wave's interval while the checks go on
    bake         with all traffic on green, blue waits ``terminationWait`` (status
                 Baking; a rollback now is instant), then is stopped
    done         green is the group's live set; the run Succeeded

A failure (an instance that does not start or become healthy) is DEPLOYMENT_FAILURE; an
alarm (green unhealthy after it served, findings of the image) is DEPLOYMENT_STOP_ON_ALARM;
a stop asked for by an operator is DEPLOYMENT_STOP_ON_REQUEST.  When the deployment's
``autoRollbackConfiguration`` covers the event — a requested rollback always does — traffic
goes back to blue and green is stopped; the history keeps every step.

The process that runs a deployment owns it (``owner``); ``deploy rollback`` from another
process asks the owner to stop, or, when the owner is gone, rolls back itself.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from patchwarden.core.deploy.health import Health, Tally, finding_alarm
from patchwarden.core.deploy.model import (
    ACTIVE,
    Deployment,
    DeploymentRun,
    DeploymentStatus,
    Instance,
    RollbackEvent,
)
from patchwarden.core.deploy.strategy import Wave, slots, termination_wait, waves, weights
from patchwarden.core.imagebuild import ImageRecord, ImageStatus
from patchwarden.core.semver import VersionSelector, newest
from patchwarden.errors import InputError, PatchwardenError
from patchwarden.ports import Deployer, HealthProbe, StartedInstance, TrafficRouter


@dataclass(frozen=True)
class GroupState:
    """What serves a group now: its live instances (blue, for the next run)."""

    group: str
    image: str = ""
    instances: tuple[Instance, ...] = ()
    updated: datetime | None = None


class ImageReader(Protocol):
    """The image catalog as a deployment reads it."""

    def get(self, name: str, version: str) -> ImageRecord | None:
        """The image ``name`` ``version`` (``x.y.z/build``)."""
        ...

    def images(self, name: str | None = None) -> list[ImageRecord]:
        """Every image (of ``name``)."""
        ...


class DeploymentStore(Protocol):
    """Where runs and each group's live set are kept (the local catalog or the server's)."""

    def save(self, run: DeploymentRun) -> None:
        """Create or replace the run ``run.id``."""
        ...

    def get(self, run_id: str) -> DeploymentRun | None:
        """The run ``run_id``."""
        ...

    def runs(self, group: str | None = None) -> list[DeploymentRun]:
        """Every run (of ``group``), oldest first."""
        ...

    def group(self, name: str) -> GroupState:
        """The live set of group ``name`` (empty before its first deployment)."""
        ...

    def set_group(self, state: GroupState) -> None:
        """Replace the live set of ``state.group``."""
        ...

    def request_stop(self, run_id: str) -> None:
        """Ask the owner of ``run_id`` to stop and roll back."""
        ...

    def stop_requested(self, run_id: str) -> bool:
        """Whether someone asked ``run_id`` to stop."""
        ...


@dataclass
class DeployDeps:
    """What a run uses: the catalog of images, the store of runs, the group's plugins."""

    images: ImageReader
    store: DeploymentStore
    deployer: Deployer
    router: TrafficRouter
    probe: HealthProbe
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = lambda _seconds: None
    progress: Callable[[str], None] = lambda _line: None
    stale: Callable[[ImageRecord], Sequence[str]] = lambda _image: ()
    """Why an image is stale (empty: it is not)."""
    owner: str = ""
    """Who runs deployments here (``host/pid``, a server replica)."""
    alive: Callable[[str], bool] = lambda _owner: True
    """Whether an owner still runs."""


@dataclass(frozen=True)
class DeployOptions:
    """Choices of one run."""

    image: str = ""
    """``name x.y.z/build`` or ``name:selector`` to roll out instead of the source's newest."""
    force: bool = False
    """Roll out a stale image, or the image that already serves."""
    trigger: str = "manual"
    actor: str = ""


class AlreadyServing(PatchwardenError):
    """The image asked for already serves the group: nothing to do."""


class Busy(InputError):
    """Another run owns the group."""


class _Stop(Exception):
    """Ends a run early: the rollback event and why."""

    def __init__(self, event: RollbackEvent, reason: str) -> None:
        super().__init__(reason)
        self.event = event
        self.reason = reason


def new_run_id() -> str:
    """``d-`` and nine characters, like CodeDeploy's deployment ids."""
    alphabet = string.ascii_uppercase + string.digits
    return "d-" + "".join(secrets.choice(alphabet) for _ in range(9))


def image_key(record: ImageRecord) -> str:
    """``name x.y.z/build``."""
    return f"{record.name} {record.version}"


def resolve_image(catalog: ImageReader, deployment: Deployment, wanted: str = "") -> ImageRecord:
    """The image a run rolls out: ``wanted`` (``name x.y.z/build``, ``name:1.x.x``), else
    the newest AVAILABLE image of the deployment's source."""
    source = deployment.source
    if wanted:
        name, _, version = wanted.replace(":", " ", 1).partition(" ")
        try:
            selector = VersionSelector.parse(version.strip() or "x.x.x")
        except ValueError as exc:
            raise InputError(f"--image {wanted!r}: {exc}") from None
        candidates = catalog.images(name.strip())
        what = f"image {wanted}"
    elif source.pipeline:
        candidates = [r for r in catalog.images() if r.pipeline == source.pipeline]
        selector = VersionSelector.parse("x.x.x")
        what = f"pipeline {source.pipeline}"
    else:
        candidates = catalog.images(source.image)
        selector = source.version or VersionSelector.parse("x.x.x")
        what = source.describe()
    available = [r for r in candidates if r.status is ImageStatus.AVAILABLE]
    chosen = newest(selector, [r.version for r in available])
    if chosen is None:
        known = ", ".join(f"{r.name} {r.version} {r.status.value}" for r in candidates[-5:])
        raise InputError(
            f"{what}: no AVAILABLE image to deploy"
            + (f" (latest: {known})" if known else " (build one first: patchwarden image build)")
        )
    return next(r for r in available if r.version == chosen)


def active_run(store: DeploymentStore, group: str) -> DeploymentRun | None:
    """The run that owns ``group`` now, if any."""
    active = [r for r in store.runs(group) if r.status in ACTIVE]
    return active[-1] if active else None


class RunRecord:
    """A run in progress as its record: saved in ``store`` at every change (the image use
    case's and the hosts' one, :mod:`patchwarden.pipeline.host_rollout`)."""

    def __init__(
        self,
        store: DeploymentStore,
        clock: Callable[[], datetime],
        progress: Callable[[str], None],
        run: DeploymentRun,
    ) -> None:
        self.store = store
        self.clock = clock
        self.progress = progress
        self.run = run
        store.save(run)

    def note(self, event: str, detail: str = "") -> None:
        """Add ``event`` to the history."""
        self.run = self.run.noted(self.clock(), event, detail)
        self.store.save(self.run)
        self.progress(f"{event}{': ' + detail if detail else ''}")

    def update(self, **changes: object) -> None:
        """Change fields of the run."""
        self.run = replace(self.run, updated=self.clock(), **changes)  # type: ignore[arg-type]
        self.store.save(self.run)

    def move(self, status: DeploymentStatus, reason: str = "") -> None:
        """Move the run to ``status`` (an event of its own)."""
        self.run = self.run.moved(status, self.clock(), reason)
        self.note(status.value, reason)


class _Run(RunRecord):
    """One run of an image in progress."""

    def __init__(self, deployment: Deployment, deps: DeployDeps, run: DeploymentRun) -> None:
        self.deployment = deployment
        self.deps = deps
        super().__init__(deps.store, deps.clock, deps.progress, run)


def deploy(deployment: Deployment, deps: DeployDeps, options: DeployOptions) -> DeploymentRun:
    """Run ``deployment`` once; the finished run (Succeeded, Failed or Stopped)."""
    return carry_out(deployment, deps, prepare(deployment, deps, options))


def prepare(deployment: Deployment, deps: DeployDeps, options: DeployOptions) -> DeploymentRun:
    """Check that ``deployment`` may run now and record its run, ``Created`` (what the API
    answers before :func:`carry_out` runs it in the background)."""
    store, group = deps.store, deployment.group.name
    image = resolve_image(deps.images, deployment, options.image)
    running = active_run(store, group)
    if running is not None:
        raise Busy(
            f"deployment {running.id} of group {group} is {running.status.value} "
            f"(patchwarden deploy rollback {group} stops it)"
        )
    live = store.group(group)
    if live.image == image_key(image) and live.instances and not options.force:
        raise AlreadyServing(f"{image_key(image)} already serves group {group}")
    reasons = list(deps.stale(image))
    if reasons and not options.force:
        raise InputError(
            f"{image_key(image)} is stale ({reasons[0]}"
            + (f"; {len(reasons) - 1} more" if len(reasons) > 1 else "")
            + "): deploy its rebuild, or --force to roll it out anyway"
        )
    now = deps.clock()
    run = _Run(
        deployment,
        deps,
        DeploymentRun(
            id=new_run_id(),
            deployment=deployment.name,
            group=group,
            strategy=deployment.strategy,
            image=image_key(image),
            status=DeploymentStatus.CREATED,
            created=now,
            updated=now,
            previous_image=live.image,
            blue=live.instances,
            trigger=options.trigger,
            actor=options.actor,
            owner=deps.owner,
        ),
    )
    run.note("Created", f"{image_key(image)} to group {group} ({deployment.strategy.value})")
    if reasons:
        run.note("Forced", "stale: " + "; ".join(reasons))
    return run.run


def carry_out(deployment: Deployment, deps: DeployDeps, created: DeploymentRun) -> DeploymentRun:
    """Run a prepared run to its end: Succeeded, or Failed/Stopped (rolled back when the
    configuration says so)."""
    run = _Run(deployment, deps, created)
    try:
        name, version = created.image.split(" ", 1)
        image = deps.images.get(name, version)
        if image is None or image.status is not ImageStatus.AVAILABLE:
            state = image.status.value if image else "gone from the catalog"
            raise _Stop(RollbackEvent.DEPLOYMENT_FAILURE, f"{created.image} is {state}")
        alarm = finding_alarm(deployment.alarms, image.findings)
        if alarm:
            raise _Stop(RollbackEvent.DEPLOYMENT_STOP_ON_ALARM, f"image findings: {alarm}")
        run.move(DeploymentStatus.IN_PROGRESS)
        _start_green(run, image)
        _await_ready(run)
        _shift(run, image)
        _finish(run, image)
    except _Stop as stop:
        _stop(run, stop)
    except PatchwardenError as exc:
        _stop(run, _Stop(RollbackEvent.DEPLOYMENT_FAILURE, str(exc)))
    except BaseException as exc:  # interrupted, or a defect: never leave traffic half-moved
        why = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}"
        _stop(run, _Stop(RollbackEvent.DEPLOYMENT_STOP_ON_REQUEST, why), force_rollback=True)
        raise
    return run.run


def _start_green(run: _Run, image: ImageRecord) -> None:
    deps, deployment = run.deps, run.deployment
    blue = run.run.blue
    count = len(blue) or deployment.group.instances
    taken = [i.slot for i in blue]
    started: list[Instance] = []
    for slot in slots(taken, count):
        name = f"{deployment.group.name}-{slot}"
        try:
            instance = deps.deployer.start(image, name, slot)
        except PatchwardenError as exc:
            raise _Stop(RollbackEvent.DEPLOYMENT_FAILURE, f"{name}: {exc}") from None
        started.append(_instance(instance, image, slot, deps.clock()))
        run.update(green=tuple(started))
        run.note("GreenStarted", f"{name} at {instance.address}")


def _instance(started: StartedInstance, image: ImageRecord, slot: int, at: datetime) -> Instance:
    return Instance(started.instance, image_key(image), started.address, slot, started.handle, at)


def _check(run: _Run, tallies: dict[str, Tally]) -> dict[str, Health]:
    """One round of health checks of green; the state of each instance."""
    states: dict[str, Health] = {}
    for instance in run.run.green:
        probe = run.deps.probe(instance.address)
        tally = tallies.get(instance.name, Tally()).add(probe.healthy, probe.detail)
        tallies[instance.name] = tally
        states[instance.name] = tally.state(run.deployment.health)
    return states


def _await_ready(run: _Run) -> None:
    deps, check = run.deps, run.deployment.health
    deadline = deps.clock() + check.ready_timeout
    tallies: dict[str, Tally] = {}
    while True:
        _watch_request(run)
        states = _check(run, tallies)
        if all(state is Health.HEALTHY for state in states.values()):
            names = ", ".join(states)
            run.note("Healthy", f"{names} passed {check.healthy_threshold} checks in a row")
            return
        if deps.clock() >= deadline:
            sick = [n for n, s in states.items() if s is not Health.HEALTHY]
            last = tallies[sick[0]].last if sick else ""
            raise _Stop(
                RollbackEvent.DEPLOYMENT_FAILURE,
                f"{', '.join(sick)} not healthy within {_seconds(check.ready_timeout)}"
                + (f" ({last})" if last else ""),
            )
        deps.sleep(check.interval.total_seconds())


def _seconds(span: timedelta) -> str:
    return f"{span.total_seconds():g}s"


def _route(run: _Run, percent: int) -> None:
    blue = [i.address for i in run.run.blue]
    green = [i.address for i in run.run.green]
    run.deps.router.route(weights(blue, green, percent))
    run.update(green_percent=percent)
    run.note("TrafficShifted", f"{percent}% to green via {run.deps.router.endpoint()}")


def _shift(run: _Run, image: ImageRecord) -> None:
    plan = waves(run.deployment) if run.run.blue else (Wave(100),)  # nothing to shift from
    tallies: dict[str, Tally] = {}
    for wave in plan:
        _route(run, wave.percent)
        if wave.bake > timedelta(0):
            _bake(run, image, wave.bake, tallies)


def _bake(run: _Run, image: ImageRecord, span: timedelta, tallies: dict[str, Tally]) -> None:
    """Keep checking green for ``span``: an alarm or a stop request ends the run."""
    deps, deployment = run.deps, run.deployment
    until = deps.clock() + span
    while True:
        _watch_request(run)
        states = _check(run, tallies)
        sick = [name for name, state in states.items() if state is Health.UNHEALTHY]
        if sick and deployment.alarms.enabled and deployment.alarms.health:
            raise _Stop(
                RollbackEvent.DEPLOYMENT_STOP_ON_ALARM,
                f"health check: {', '.join(sick)} unhealthy ({tallies[sick[0]].last})",
            )
        current = deps.images.get(image.name, str(image.version))
        alarm = finding_alarm(deployment.alarms, current.findings if current else ())
        if alarm:
            raise _Stop(RollbackEvent.DEPLOYMENT_STOP_ON_ALARM, f"image findings: {alarm}")
        left = (until - deps.clock()).total_seconds()
        if left <= 0:
            return
        deps.sleep(min(left, deployment.health.interval.total_seconds()))


def _watch_request(run: _Run) -> None:
    if run.deps.store.stop_requested(run.run.id):
        raise _Stop(RollbackEvent.DEPLOYMENT_STOP_ON_REQUEST, "stopped on request")


def _finish(run: _Run, image: ImageRecord) -> None:
    deps = run.deps
    wait = termination_wait(run.deployment)
    if run.run.blue and wait > timedelta(0):
        run.move(DeploymentStatus.BAKING, f"blue kept for {_seconds(wait)}")
        _bake(run, image, wait, {})
    for instance in run.run.blue:
        _stop_instance(run, instance, "BlueStopped")
    deps.store.set_group(
        GroupState(run.deployment.group.name, run.run.image, run.run.green, deps.clock())
    )
    run.move(DeploymentStatus.SUCCEEDED)


def _stop_instance(run: _Run, instance: Instance, event: str) -> None:
    try:
        run.deps.deployer.stop(StartedInstance(instance.name, instance.address, instance.handle))
        run.note(event, instance.name)
    except PatchwardenError as exc:
        run.note(event + "Failed", f"{instance.name}: {exc}")


def _stop(run: _Run, stop: _Stop, *, force_rollback: bool = False) -> None:
    """End the run on ``stop``: roll back when the configuration (or the caller) says so."""
    deps, deployment = run.deps, run.deployment
    alarm = stop.event is RollbackEvent.DEPLOYMENT_STOP_ON_ALARM
    run.note("Alarm" if alarm else "Stop" if stop.event.name.endswith("REQUEST") else "Failure",
             stop.reason)  # fmt: skip
    status = DeploymentStatus.FAILED
    if stop.event is not RollbackEvent.DEPLOYMENT_FAILURE:
        status = DeploymentStatus.STOPPED
    if not run.run.green:
        run.move(status, stop.reason)
        return
    requested = stop.event is RollbackEvent.DEPLOYMENT_STOP_ON_REQUEST
    if force_rollback or requested or deployment.rollback.covers(stop.event) or not run.run.blue:
        rollback(run, stop.reason)
    else:
        serving = (*run.run.blue, *run.run.green)
        deps.store.set_group(
            GroupState(deployment.group.name, run.run.image, serving, deps.clock())
        )
        run.note(
            "NotRolledBack",
            f"{run.run.green_percent}% of traffic stays on green (autoRollbackConfiguration); "
            f"patchwarden deploy rollback {deployment.group.name} returns it to blue",
        )
    run.move(status, stop.reason)


def rollback(run: _Run, reason: str) -> None:
    """Traffic back to blue (when green had any), green stopped; blue stays the live set."""
    deps, group = run.deps, run.deployment.group.name
    run.note("RollbackStarted", reason)
    if run.run.blue and run.run.green_percent > 0:
        blue = [i.address for i in run.run.blue]
        deps.router.route(weights(blue, [], 0))
        run.update(green_percent=0)
        run.note("TrafficShifted", f"0% to green via {deps.router.endpoint()}")
    for instance in run.run.green:
        _stop_instance(run, instance, "GreenStopped")
    previous = run.run.previous_image if run.run.blue else ""
    deps.store.set_group(GroupState(group, previous, run.run.blue, deps.clock()))
    run.update(rolled_back=True, green=())
    run.note("RolledBack", f"group {group} serves {previous or 'nothing'}")


@dataclass(frozen=True)
class RollbackResult:
    """What ``deploy rollback`` did."""

    action: str
    """``requested`` (the owner will roll back), ``rolled-back`` (done here), ``redeployed``."""
    run: DeploymentRun
    detail: str = ""


def roll_back(
    deployment: Deployment, deps: DeployDeps, *, actor: str = "", force: bool = False
) -> RollbackResult:
    """``deploy rollback``: stop the group's active run with a rollback (asking its owner,
    or doing it here when the owner is gone); with no active run, redeploy the image the
    last successful run replaced."""
    store, group = deps.store, deployment.group.name
    running = active_run(store, group)
    if running is not None:
        if running.owner and running.owner != deps.owner and deps.alive(running.owner):
            store.request_stop(running.id)
            return RollbackResult("requested", running, f"asked {running.owner} to roll back")
        run = _Run(deployment, deps, running)
        _stop(
            run,
            _Stop(
                RollbackEvent.DEPLOYMENT_STOP_ON_REQUEST, f"rolled back by {actor or 'operator'}"
            ),
            force_rollback=True,
        )
        return RollbackResult("rolled-back", run.run)
    done = [r for r in store.runs(group) if r.status is DeploymentStatus.SUCCEEDED]
    if not done or not done[-1].previous_image:
        raise InputError(f"group {group}: no earlier image to roll back to")
    last = done[-1]
    name, version = last.previous_image.split(" ", 1)
    previous = deps.images.get(name, version)
    if previous is None or previous.status is not ImageStatus.AVAILABLE:
        state = previous.status.value if previous else "gone from the catalog"
        raise InputError(f"group {group}: the previous image {last.previous_image} is {state}")
    redeployed = deploy(
        deployment,
        deps,
        DeployOptions(
            image=f"{name} {version}", force=True, trigger=f"rollback of {last.id}", actor=actor
        ),
    )
    return RollbackResult("redeployed", redeployed, f"{last.previous_image} replaces {last.image}")
