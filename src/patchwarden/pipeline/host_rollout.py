"""Blue/green for mutable hosts at the group level: two patch groups behind one router.

A ``Deployment`` whose ``deploymentGroup.hosts`` names a blue and a green patch group is
run here (an image deployment is :mod:`patchwarden.pipeline.deploy`); each host's service
address is its ``addressTag`` node tag (``ServiceAddress=127.0.0.1:8081``)::

    blue         all traffic to blue's hosts
    green        AWS-RunPatchBaseline Install to green's patch group (its own baselines),
                 waited for within ``installTimeout``; then every green host passes
                 ``healthyThreshold`` checks in a row within ``readyTimeout``
    switch       all traffic to green
    blue         Install to blue's patch group, waited for; blue's hosts healthy
    both         both patch groups serve (weight 1 each): the run Succeeded

Any failure before the switch leaves the traffic on blue: there is nothing to undo (green
never served, and patches are not uninstalled).  A failure after it (blue's Install or
health) leaves all traffic on green, patched and healthy.  A stop request is honoured
between steps and while waiting (an Install command already sent runs on).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from patchwarden.core.deploy.health import Health, Tally
from patchwarden.core.deploy.model import (
    Deployment,
    DeploymentRun,
    DeploymentStatus,
    HostGroups,
    Instance,
)
from patchwarden.core.deploy.strategy import weights
from patchwarden.errors import InputError, PatchwardenError
from patchwarden.pipeline.deploy import (
    Busy,
    DeploymentStore,
    DeployOptions,
    GroupState,
    RollbackResult,
    RunRecord,
    active_run,
    new_run_id,
)
from patchwarden.ports import HealthProbe, TrafficRouter

INSTALL_DOCUMENT = "AWS-RunPatchBaseline"
SUCCESS = "Success"
"""The only final command status that counts as patched."""


class FleetPort(Protocol):
    """The fleet as a host deployment uses it."""

    def nodes(self, patch_group: str) -> list[tuple[str, str]]:
        """The active nodes of ``patch_group``: ``(node id, service address)``, the address
        read from the node's address tag (empty when the node has none)."""
        ...

    def install(self, patch_group: str, actor: str) -> str:
        """Send AWS-RunPatchBaseline ``Operation=Install`` to ``patch_group``; its id."""
        ...

    def result(self, command_id: str) -> str | None:
        """The command's final status (``Success``, ``Failed``, ``TimedOut`` …); None while
        it runs."""
        ...


@dataclass
class HostDeps:
    """What a host run uses: the fleet, the store of runs, the router and the probe."""

    fleet: FleetPort
    store: DeploymentStore
    router: TrafficRouter
    probe: HealthProbe
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = lambda _seconds: None
    progress: Callable[[str], None] = lambda _line: None
    owner: str = ""
    alive: Callable[[str], bool] = lambda _owner: True
    poll: float = 2.0
    """Seconds between two looks at an Install command."""


class _Halt(Exception):
    """Ends a host run early: why, and whether an operator asked."""

    def __init__(self, reason: str, *, requested: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.requested = requested


def hosts_of(deployment: Deployment) -> HostGroups:
    """The patch groups of a host deployment (InputError for an image deployment)."""
    if deployment.group.hosts is None:
        raise InputError(f"deployment {deployment.name} rolls out images, not patch groups")
    return deployment.group.hosts


def _members(fleet: FleetPort, group: str, tag: str, first_slot: int) -> tuple[Instance, ...]:
    nodes = sorted(fleet.nodes(group))
    if not nodes:
        raise InputError(f"patch group {group} has no active node")
    for node, address in nodes:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            shown = f"{tag}={address!r}" if address else f"no {tag} tag"
            raise InputError(f"patch group {group}: node {node} has {shown} (want HOST:PORT)")
    return tuple(
        Instance(node, group, address, first_slot + i) for i, (node, address) in enumerate(nodes)
    )


def prepare_hosts(deployment: Deployment, deps: HostDeps, options: DeployOptions) -> DeploymentRun:
    """Check that the host deployment may run now and record its run, ``Created``."""
    hosts, group = hosts_of(deployment), deployment.group.name
    if options.image:
        raise InputError(f"deployment {deployment.name} patches hosts: it takes no image")
    running = active_run(deps.store, group)
    if running is not None:
        raise Busy(
            f"deployment {running.id} of group {group} is {running.status.value} "
            f"(POST /api/v1/deployments/{deployment.name}/rollback stops it)"
        )
    blue = _members(deps.fleet, hosts.blue, hosts.address_tag, 0)
    green = _members(deps.fleet, hosts.green, hosts.address_tag, len(blue))
    shared = {i.address for i in blue} & {i.address for i in green}
    if shared:
        raise InputError(f"blue and green share the address {sorted(shared)[0]}")
    now = deps.clock()
    run = RunRecord(
        deps.store,
        deps.clock,
        deps.progress,
        DeploymentRun(
            id=new_run_id(),
            deployment=deployment.name,
            group=group,
            strategy=deployment.strategy,
            image=hosts.describe(),
            status=DeploymentStatus.CREATED,
            created=now,
            updated=now,
            previous_image=deps.store.group(group).image,
            blue=blue,
            green=green,
            trigger=options.trigger,
            actor=options.actor,
            owner=deps.owner,
        ),
    )
    run.note(
        "Created",
        f"patch {hosts.green} (green, {len(green)} hosts) then {hosts.blue} (blue, "
        f"{len(blue)} hosts) of group {group} ({deployment.strategy.value})",
    )
    return run.run


def carry_out_hosts(
    deployment: Deployment, deps: HostDeps, created: DeploymentRun
) -> DeploymentRun:
    """Run a prepared host run to its end: Succeeded, or Failed/Stopped with the traffic
    on the side that is known good."""
    hosts = hosts_of(deployment)
    run = RunRecord(deps.store, deps.clock, deps.progress, created)
    switched = False
    try:
        run.move(DeploymentStatus.IN_PROGRESS)
        blue, green = run.run.blue, run.run.green
        _route(
            run, deps, weights(_addresses(blue), [], 0), 0, f"all traffic to blue ({hosts.blue})"
        )
        _patch(run, deployment, deps, hosts.green, "green", green)
        _watch(run, deps)
        _route(
            run,
            deps,
            weights([], _addresses(green), 100),
            100,
            f"all traffic to green ({hosts.green})",
        )
        switched = True
        deps.store.set_group(
            GroupState(run.run.group, f"patch group {hosts.green}", green, deps.clock())
        )
        _patch(run, deployment, deps, hosts.blue, "blue", blue)
        _watch(run, deps)
        both = [(address, 1) for address in _addresses((*blue, *green))]
        share = round(100 * len(green) / (len(blue) + len(green)))
        _route(run, deps, both, share, f"both patch groups serve ({hosts.blue}, {hosts.green})")
        deps.store.set_group(
            GroupState(run.run.group, hosts.describe(), (*blue, *green), deps.clock())
        )
        run.move(DeploymentStatus.SUCCEEDED)
    except _Halt as halt:
        _end(run, deps, hosts, halt, switched)
    except PatchwardenError as exc:
        _end(run, deps, hosts, _Halt(str(exc)), switched)
    except BaseException as exc:  # interrupted, or a defect: record where traffic is
        why = "interrupted" if isinstance(exc, KeyboardInterrupt) else type(exc).__name__
        _end(run, deps, hosts, _Halt(why, requested=True), switched)
        raise
    return run.run


def _addresses(instances: Sequence[Instance]) -> list[str]:
    return [i.address for i in instances]


def _route(
    run: RunRecord, deps: HostDeps, pairs: list[tuple[str, int]], green: int, detail: str
) -> None:
    deps.router.route(pairs)
    run.update(green_percent=green)
    run.note("TrafficShifted", f"{detail} via {deps.router.endpoint()}")


def _watch(run: RunRecord, deps: HostDeps) -> None:
    if deps.store.stop_requested(run.run.id):
        raise _Halt("stopped on request", requested=True)


def _seconds(seconds: float) -> str:
    return f"{seconds:g}s"


def _patch(
    run: RunRecord,
    deployment: Deployment,
    deps: HostDeps,
    group: str,
    colour: str,
    members: Sequence[Instance],
) -> None:
    """Install on ``group``, wait for the command, then for its hosts to be healthy."""
    _watch(run, deps)
    command = deps.fleet.install(group, run.run.actor or "scheduler")
    run.note(
        "InstallStarted",
        f"{INSTALL_DOCUMENT} Operation=Install to patch group {group} ({colour}): "
        f"command {command}",
    )
    timeout = hosts_of(deployment).install_timeout
    deadline = deps.clock() + timeout
    while (status := deps.fleet.result(command)) is None:
        if deps.clock() >= deadline:
            raise _Halt(
                f"{colour} ({group}): command {command} not finished within "
                f"{_seconds(timeout.total_seconds())}"
            )
        _watch(run, deps)
        deps.sleep(deps.poll)
    if status != SUCCESS:
        raise _Halt(f"{colour} ({group}): Install command {command} ended {status}")
    run.note("Installed", f"patch group {group} ({colour}): command {command} {status}")
    _await_healthy(run, deployment, deps, group, colour, members)


def _await_healthy(
    run: RunRecord,
    deployment: Deployment,
    deps: HostDeps,
    group: str,
    colour: str,
    members: Sequence[Instance],
) -> None:
    check = deployment.health
    deadline = deps.clock() + check.ready_timeout
    tallies: dict[str, Tally] = {}
    while True:
        _watch(run, deps)
        for member in members:
            probe = deps.probe(member.address)
            tallies[member.name] = tallies.get(member.name, Tally()).add(
                probe.healthy, probe.detail
            )
        sick = [n for n, t in tallies.items() if t.state(check) is not Health.HEALTHY]
        if not sick:
            names = ", ".join(f"{m.name} at {m.address}" for m in members)
            run.note(
                "Healthy",
                f"{colour} ({group}): {names} passed {check.healthy_threshold} checks in a row",
            )
            return
        if deps.clock() >= deadline:
            last = tallies[sick[0]].last
            raise _Halt(
                f"{colour} ({group}): {', '.join(sick)} not healthy within "
                f"{_seconds(check.ready_timeout.total_seconds())}" + (f" ({last})" if last else "")
            )
        deps.sleep(check.interval.total_seconds())


def _end(run: RunRecord, deps: HostDeps, hosts: HostGroups, halt: _Halt, switched: bool) -> None:
    run.note("Stop" if halt.requested else "Failure", halt.reason)
    if switched:
        run.note(
            "TrafficKept",
            f"all traffic stays on green ({hosts.green}, patched and healthy); blue "
            f"({hosts.blue}) serves nothing until a run succeeds",
        )
    else:
        run.note(
            "TrafficKept",
            f"all traffic stays on blue ({hosts.blue}); nothing to roll back: green never "
            "served, and patches are not uninstalled",
        )
    status = DeploymentStatus.STOPPED if halt.requested else DeploymentStatus.FAILED
    run.move(status, halt.reason)


def roll_back_hosts(deployment: Deployment, deps: HostDeps, *, actor: str = "") -> RollbackResult:
    """``rollback`` of a host deployment: stop its run in progress (asking its owner, or
    recording the stop when the owner is gone).  A finished run cannot be rolled back."""
    hosts_of(deployment)
    store, group = deps.store, deployment.group.name
    running = active_run(store, group)
    if running is None:
        raise InputError(
            f"group {group}: rollback is not supported for hosts: patches are not uninstalled"
        )
    if running.owner and deps.alive(running.owner):
        store.request_stop(running.id)
        return RollbackResult("requested", running, f"asked {running.owner} to stop")
    run = RunRecord(store, deps.clock, deps.progress, running)
    reason = f"stopped by {actor or 'operator'}: its owner {running.owner or '?'} is gone"
    run.note("Stop", reason)
    run.move(DeploymentStatus.STOPPED, reason)
    return RollbackResult("stopped", run.run)
