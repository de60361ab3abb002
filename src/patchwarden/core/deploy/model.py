"""A ``Deployment`` and its runs, as values.

A **deployment group** is a set of instances of one service behind one traffic router; a
``Deployment`` document binds it to an image pipeline (its newest AVAILABLE image) or an
image version, with a **strategy** in CodeDeploy's vocabulary:

``AllAtOnce``  start the new (green) instances, send them all traffic as soon as they are
               healthy, stop the old (blue) ones at once;
``BlueGreen``  the same, but blue is kept for ``terminationWait`` (traffic can go back to it
               in an instant) before it is stopped;
``Canary``     ``percentage`` of the traffic to green for ``interval``, then the rest;
``Linear``     ``percentage`` more every ``interval`` until all of it.

A run of a deployment is a :class:`DeploymentRun`: its status (CodeDeploy's ``Created``,
``InProgress``, ``Baking``, ``Succeeded``, ``Failed``, ``Stopped``), the instances it
started, and an event history that is never rewritten (a rollback is more history).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from patchwarden.core.semver import VersionSelector


class Strategy(StrEnum):
    """How traffic moves from blue to green."""

    ALL_AT_ONCE = "AllAtOnce"
    BLUE_GREEN = "BlueGreen"
    CANARY = "Canary"
    LINEAR = "Linear"


class RollbackEvent(StrEnum):
    """``autoRollbackConfiguration.events``: what rolls a deployment back."""

    DEPLOYMENT_FAILURE = "DEPLOYMENT_FAILURE"
    DEPLOYMENT_STOP_ON_ALARM = "DEPLOYMENT_STOP_ON_ALARM"
    DEPLOYMENT_STOP_ON_REQUEST = "DEPLOYMENT_STOP_ON_REQUEST"


class DeploymentStatus(StrEnum):
    """A run's status (CodeDeploy's ``DeploymentStatus`` that apply)."""

    CREATED = "Created"
    IN_PROGRESS = "InProgress"
    BAKING = "Baking"
    """All traffic is on green; blue waits out ``terminationWait``."""
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    STOPPED = "Stopped"


ACTIVE = frozenset(
    {DeploymentStatus.CREATED, DeploymentStatus.IN_PROGRESS, DeploymentStatus.BAKING}
)
"""A run with one of these statuses still owns its group."""


@dataclass(frozen=True)
class PluginSpec:
    """A deployer or a traffic router: its ``type`` and its options, as the document gave
    them (the shell that builds the adapter validates them)."""

    type: str
    options: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class HostGroups:
    """Mutable hosts in blue/green at the group level: two patch groups behind one router.

    Green is patched (AWS-RunPatchBaseline Install to its patch group) and checked, takes
    all the traffic, then blue is patched and checked and both serve."""

    blue: str
    """Blue's patch group (serves while green is patched)."""
    green: str
    """Green's patch group (patched first)."""
    address_tag: str = "ServiceAddress"
    """The node tag holding each host's service ``host:port``."""
    install_timeout: timedelta = timedelta(minutes=60)
    """How long one patch group's Install command may take."""

    def describe(self) -> str:
        """``patch groups web-a/web-b`` (blue/green)."""
        return f"patch groups {self.blue}/{self.green}"


@dataclass(frozen=True)
class DeploymentGroup:
    """The instances of one service: how many, started how (a deployer), reached how; or
    two patch groups of mutable hosts (``hosts``, no deployer)."""

    name: str
    instances: int
    deployer: PluginSpec | None
    router: PluginSpec
    hosts: HostGroups | None = None


@dataclass(frozen=True)
class HealthCheck:
    """How an instance is judged healthy (an HTTP request and/or a command)."""

    path: str = "/"
    expect_status: int = 200
    expect_body: str = ""
    command: tuple[str, ...] = ()
    http: bool = True
    interval: timedelta = timedelta(seconds=2)
    timeout: timedelta = timedelta(seconds=2)
    """One check's time limit."""
    healthy_threshold: int = 2
    """Consecutive successes that make a new instance healthy."""
    unhealthy_threshold: int = 3
    """Consecutive failures that make an instance unhealthy (an alarm once it served)."""
    ready_timeout: timedelta = timedelta(minutes=5)
    """How long new instances have to become healthy (``deploymentReadyOption``)."""


@dataclass(frozen=True)
class Alarms:
    """What stops a deployment: findings of the new image above a threshold; an instance
    failing its health check after it was healthy."""

    enabled: bool = True
    max_findings: tuple[tuple[str, int], ...] = ()
    """``(severity, most allowed)``: more ACTIVE findings of that severity is an alarm."""
    health: bool = True


@dataclass(frozen=True)
class AutoRollback:
    """``autoRollbackConfiguration``."""

    enabled: bool = True
    events: frozenset[RollbackEvent] = frozenset(
        {RollbackEvent.DEPLOYMENT_FAILURE, RollbackEvent.DEPLOYMENT_STOP_ON_ALARM}
    )

    def covers(self, event: RollbackEvent) -> bool:
        """Whether ``event`` rolls back."""
        return self.enabled and event in self.events


@dataclass(frozen=True)
class ImageSource:
    """What a deployment rolls out: the newest AVAILABLE image of a pipeline, or of an image
    name matching a version selector (``web:1.x.x``, ``web:1.0.0/3``)."""

    pipeline: str = ""
    image: str = ""
    version: VersionSelector | None = None

    def describe(self) -> str:
        """``pipeline web`` / ``image web:1.x.x``."""
        if self.pipeline:
            return f"pipeline {self.pipeline}"
        return f"image {self.image}:{self.version.text if self.version else 'x.x.x'}"


@dataclass(frozen=True)
class Deployment:
    """A ``Deployment`` document."""

    name: str
    group: DeploymentGroup
    source: ImageSource
    strategy: Strategy = Strategy.BLUE_GREEN
    percentage: int = 0
    """Canary: the first share; Linear: the share added each step (1-99)."""
    interval: timedelta = timedelta(0)
    """Canary and Linear: how long each share bakes."""
    termination_wait: timedelta = timedelta(0)
    """How long blue is kept once green has all traffic (not for AllAtOnce)."""
    health: HealthCheck = HealthCheck()
    alarms: Alarms = Alarms()
    rollback: AutoRollback = AutoRollback()
    description: str = ""


@dataclass(frozen=True)
class Instance:
    """One running instance of a group."""

    name: str
    image: str
    """``name x.y.z/build`` of the image it runs."""
    address: str
    slot: int
    handle: str = ""
    started: datetime | None = None


@dataclass(frozen=True)
class DeploymentEvent:
    """One entry of a run's history."""

    at: datetime
    event: str
    """``Start``, ``GreenStarted``, ``Healthy``, ``Unhealthy``, ``TrafficShifted``,
    ``Alarm``, ``BlueStopped``, ``RollbackStarted``, ``RolledBack``, ``Succeeded`` …"""
    detail: str = ""
    green_percent: int = 0


@dataclass(frozen=True)
class DeploymentRun:
    """One run of a deployment: ``d-`` followed by nine characters, like CodeDeploy's."""

    id: str
    deployment: str
    group: str
    strategy: Strategy
    image: str
    """``name x.y.z/build`` being rolled out."""
    status: DeploymentStatus
    created: datetime
    updated: datetime
    previous_image: str = ""
    """What the group ran before (blue); empty on a group's first deployment."""
    blue: tuple[Instance, ...] = ()
    green: tuple[Instance, ...] = ()
    green_percent: int = 0
    """The share of traffic green has now."""
    reason: str = ""
    """Why it failed or stopped (one line)."""
    rolled_back: bool = False
    trigger: str = "manual"
    """Why it ran: ``manual``, ``promotion of web 1.0.0/3``, ``rollback of d-…``."""
    actor: str = ""
    owner: str = ""
    """Who runs it (``host/pid`` of a CLI, a server replica)."""
    events: tuple[DeploymentEvent, ...] = ()

    def moved(self, status: DeploymentStatus, at: datetime, reason: str = "") -> DeploymentRun:
        """The run in ``status`` from ``at`` on (``reason`` is kept when it failed or
        stopped)."""
        ended = status in (DeploymentStatus.FAILED, DeploymentStatus.STOPPED)
        return replace(self, status=status, updated=at, reason=reason if ended else self.reason)

    def noted(self, at: datetime, event: str, detail: str = "") -> DeploymentRun:
        """The run with ``event`` added to its history."""
        entry = DeploymentEvent(at, event, detail, self.green_percent)
        return replace(self, updated=at, events=(*self.events, entry))
