"""``Deployment`` documents: roll an image pipeline's images out to a deployment group, in
CodeDeploy's vocabulary (docs/deployments.md)::

    apiVersion: patchwarden/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      imagePipelineArn: web                 # or image: web:1.x.x (the newest AVAILABLE match)
      deploymentGroup:
        name: web                           # default: metadata.name
        instances: 2
        deployer: {type: runc, basePort: 18080}
        trafficRouter: {type: nginx, listen: "127.0.0.1:8080"}
      deploymentConfig:                     # or deploymentConfigName: CodeDeployDefault.…
        type: Canary                        # AllAtOnce | BlueGreen | Canary | Linear
        timeBasedCanary: {canaryPercentage: 10, canaryInterval: 5}     # minutes
        terminationWaitTimeInMinutes: 5
      healthCheck:
        http: {path: /, expectStatus: 200, expectBody: hello}
        intervalSeconds: 2
        healthyThreshold: 2
        unhealthyThreshold: 3
        readyTimeoutSeconds: 300
      alarmConfiguration: {enabled: true, maxFindings: {CRITICAL: 0}, healthCheck: true}
      autoRollbackConfiguration:
        enabled: true
        events: [DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM]

Minutes may be fractions (``canaryInterval: 0.5``), which CodeDeploy does not allow.

Mutable hosts get blue/green at the group level: ``deploymentGroup.hosts`` instead of a
deployer (and no image) names two patch groups behind the router; green is patched
(AWS-RunPatchBaseline Install to its patch group), checked and switched to, then blue::

      deploymentGroup:
        name: web
        hosts:
          blue: {patchGroup: web-a}
          green: {patchGroup: web-b}
          addressTag: ServiceAddress        # the node tag holding each host's host:port
          installTimeoutMinutes: 60
        trafficRouter: {type: nginx, listen: "127.0.0.1:8080"}
      deploymentConfig: {type: BlueGreen}   # or AllAtOnce (Canary and Linear do not apply)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from patchwarden.core.deploy.model import (
    Alarms,
    AutoRollback,
    Deployment,
    DeploymentGroup,
    HealthCheck,
    HostGroups,
    ImageSource,
    PluginSpec,
    RollbackEvent,
    Strategy,
)
from patchwarden.core.semver import parse_named
from patchwarden.core.vuln import Severity
from patchwarden.documents.envelope import Metadata, StrictModel, stored, translate
from patchwarden.errors import InputError

KIND = "Deployment"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_ADDRESS = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:(\d{1,5})$")

PREDEFINED: dict[str, tuple[Strategy, int, float, float]] = {
    "CodeDeployDefault.AllAtOnce": (Strategy.ALL_AT_ONCE, 0, 0, 0),
    "CodeDeployDefault.ECSAllAtOnce": (Strategy.BLUE_GREEN, 0, 0, 0),
    "CodeDeployDefault.ECSCanary10Percent5Minutes": (Strategy.CANARY, 10, 5, 0),
    "CodeDeployDefault.ECSCanary10Percent15Minutes": (Strategy.CANARY, 10, 15, 0),
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": (Strategy.LINEAR, 10, 1, 0),
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": (Strategy.LINEAR, 10, 3, 0),
}
"""CodeDeploy's predefined configurations: (strategy, percentage, interval, wait) minutes."""


def _address(value: str) -> str:
    match = _ADDRESS.match(value)
    if not match or not 0 < int(match.group(1)) < 65536:
        raise ValueError(f"must be HOST:PORT (127.0.0.1:8080), got {value!r}")
    return value


def _argv(value: list[str]) -> list[str]:
    if not value or not value[0]:
        raise ValueError("must be a non-empty argv list ([/path/to/hook, arg, …])")
    return value


class DeployerSpec(StrictModel):
    """``deploymentGroup.deployer``: ``runc`` (an OCI bundle per instance) or ``command``
    (operator hooks)."""

    type: Literal["runc", "command"]
    basePort: int | None = Field(default=None, ge=1, le=65535)
    command: list[str] | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    start: list[str] | None = None
    stop: list[str] | None = None
    timeoutSeconds: int = Field(default=300, ge=1, le=86400)
    stopTimeoutSeconds: float = Field(default=10, gt=0, le=3600)

    @model_validator(mode="after")
    def _fits(self) -> DeployerSpec:
        if self.type == "runc":
            if self.basePort is None:
                raise ValueError("a runc deployer needs basePort (instance N serves on basePort+N)")
            if self.start is not None or self.stop is not None:
                raise ValueError("start and stop hooks belong to a command deployer")
            if self.command is not None:
                _argv(self.command)
        else:
            if self.start is None or self.stop is None:
                raise ValueError("a command deployer needs start and stop hooks (argv lists)")
            _argv(self.start), _argv(self.stop)
            if self.basePort is not None or self.command is not None:
                raise ValueError("basePort and command belong to a runc deployer")
        return self


class RouterSpec(StrictModel):
    """``deploymentGroup.trafficRouter``: ``nginx`` or ``command`` (a route hook)."""

    type: Literal["nginx", "command"]
    listen: str | None = None
    route: list[str] | None = None
    endpoint: str | None = None
    timeoutSeconds: int = Field(default=60, ge=1, le=3600)

    @model_validator(mode="after")
    def _fits(self) -> RouterSpec:
        if self.type == "nginx":
            if self.listen is None:
                raise ValueError("an nginx router needs listen (127.0.0.1:8080)")
            _address(self.listen)
            if self.route is not None or self.endpoint is not None:
                raise ValueError("route and endpoint belong to a command router")
        else:
            if self.route is None or self.endpoint is None:
                raise ValueError("a command router needs a route hook and an endpoint")
            _argv(self.route), _address(self.endpoint)
            if self.listen is not None:
                raise ValueError("listen belongs to an nginx router")
        return self


class PatchGroupRef(StrictModel):
    """``hosts.blue`` / ``hosts.green``: a patch group of mutable hosts."""

    patchGroup: str = Field(min_length=1, max_length=256)


class HostsSpec(StrictModel):
    """``deploymentGroup.hosts``: two patch groups behind the router (blue/green of hosts)."""

    blue: PatchGroupRef
    green: PatchGroupRef
    addressTag: str = Field(default="ServiceAddress", min_length=1, max_length=128)
    installTimeoutMinutes: float = Field(default=60, gt=0, le=2880)

    @model_validator(mode="after")
    def _fits(self) -> HostsSpec:
        if self.blue.patchGroup == self.green.patchGroup:
            raise ValueError(
                f"blue and green must be two patch groups, both are {self.blue.patchGroup!r}"
            )
        return self


class GroupSpec(StrictModel):
    """``deploymentGroup``: instances started by a deployer, or two patch groups of hosts."""

    name: str | None = None
    instances: int = Field(default=1, ge=1, le=100)
    deployer: DeployerSpec | None = None
    hosts: HostsSpec | None = None
    trafficRouter: RouterSpec

    @model_validator(mode="after")
    def _fits(self) -> GroupSpec:
        if (self.deployer is None) == (self.hosts is None):
            raise ValueError(
                "give exactly one of deployer (image instances) and hosts (patch groups)"
            )
        if self.hosts is not None and self.instances != 1:  # 1: the default, as stored
            raise ValueError("instances belongs to a deployer: hosts are their patch groups' nodes")
        return self


class CanarySpec(StrictModel):
    canaryPercentage: int = Field(ge=1, le=99)
    canaryInterval: float = Field(ge=0, le=2880)


class LinearSpec(StrictModel):
    linearPercentage: int = Field(ge=1, le=99)
    linearInterval: float = Field(ge=0, le=2880)


class ConfigSpec(StrictModel):
    """``deploymentConfig``."""

    type: Literal["AllAtOnce", "BlueGreen", "Canary", "Linear"] = "BlueGreen"
    timeBasedCanary: CanarySpec | None = None
    timeBasedLinear: LinearSpec | None = None
    terminationWaitTimeInMinutes: float = Field(default=0, ge=0, le=2880)

    @model_validator(mode="after")
    def _fits(self) -> ConfigSpec:
        if self.type == "Canary" and self.timeBasedCanary is None:
            raise ValueError("type Canary needs timeBasedCanary {canaryPercentage, canaryInterval}")
        if self.type == "Linear" and self.timeBasedLinear is None:
            raise ValueError("type Linear needs timeBasedLinear {linearPercentage, linearInterval}")
        if self.type != "Canary" and self.timeBasedCanary is not None:
            raise ValueError(f"timeBasedCanary does not apply to type {self.type}")
        if self.type != "Linear" and self.timeBasedLinear is not None:
            raise ValueError(f"timeBasedLinear does not apply to type {self.type}")
        return self


class HttpCheckSpec(StrictModel):
    path: str = "/"
    expectStatus: int = Field(default=200, ge=100, le=599)
    expectBody: str = ""

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() for c in value):
            raise ValueError(f"must be a URL path starting with / (no spaces), got {value!r}")
        return value


class HealthSpec(StrictModel):
    """``healthCheck``: an HTTP request (by default ``GET /``), a command, or both."""

    http: HttpCheckSpec | None = None
    command: list[str] | None = None
    intervalSeconds: float = Field(default=2, gt=0, le=300)
    timeoutSeconds: float = Field(default=2, gt=0, le=120)
    healthyThreshold: int = Field(default=2, ge=1, le=10)
    unhealthyThreshold: int = Field(default=3, ge=1, le=10)
    readyTimeoutSeconds: float = Field(default=300, gt=0, le=86400)

    @field_validator("command")
    @classmethod
    def _command(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _argv(value)


class AlarmSpec(StrictModel):
    enabled: bool = True
    maxFindings: dict[str, int] = Field(default_factory=dict)
    healthCheck: bool = True

    @field_validator("maxFindings")
    @classmethod
    def _severities(cls, value: dict[str, int]) -> dict[str, int]:
        for key, count in value.items():
            if key not in Severity.__members__:
                raise ValueError(f"{key!r} is not a severity ({', '.join(Severity)})")
            if count < 0:
                raise ValueError(f"{key}: must be 0 or more, got {count}")
        return value


_Event = Literal["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST"]

_DEFAULT_EVENTS: tuple[_Event, ...] = ("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM")


class RollbackSpec(StrictModel):
    enabled: bool = True
    events: list[_Event] = Field(default_factory=lambda: list(_DEFAULT_EVENTS))


class DeploymentSpec(StrictModel):
    """``spec`` of a ``Deployment``."""

    description: str | None = None
    imagePipelineArn: str | None = None
    image: str | None = None
    deploymentGroup: GroupSpec
    deploymentConfig: ConfigSpec | None = None
    deploymentConfigName: str | None = None
    healthCheck: HealthSpec = Field(default_factory=HealthSpec)
    alarmConfiguration: AlarmSpec = Field(default_factory=AlarmSpec)
    autoRollbackConfiguration: RollbackSpec = Field(default_factory=RollbackSpec)

    @model_validator(mode="after")
    def _fits(self) -> DeploymentSpec:
        if self.deploymentGroup.hosts is not None:
            self._fits_hosts()
        elif (self.imagePipelineArn is None) == (self.image is None):
            raise ValueError("give exactly one of imagePipelineArn and image (web:1.x.x)")
        if self.deploymentConfig is not None and self.deploymentConfigName is not None:
            raise ValueError("give deploymentConfig or deploymentConfigName, not both")
        if self.deploymentConfigName is not None and self.deploymentConfigName not in PREDEFINED:
            raise ValueError(
                f"deploymentConfigName {self.deploymentConfigName!r} is not one of "
                + ", ".join(PREDEFINED)
            )
        return self

    def _fits_hosts(self) -> None:
        if self.imagePipelineArn is not None or self.image is not None:
            raise ValueError(
                "a deployment to hosts (deploymentGroup.hosts) patches them: "
                "drop imagePipelineArn and image"
            )
        kind = self.deploymentConfig.type if self.deploymentConfig else None
        if self.deploymentConfigName in PREDEFINED:
            kind = PREDEFINED[self.deploymentConfigName][0].value
        if kind in ("Canary", "Linear"):
            raise ValueError(
                f"deploymentConfig type {kind} does not apply to hosts: "
                "patch groups switch whole (BlueGreen or AllAtOnce)"
            )


def _minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


def _source(spec: DeploymentSpec) -> ImageSource:
    if spec.deploymentGroup.hosts is not None:
        return ImageSource()
    if spec.imagePipelineArn is not None:
        name = (
            spec.imagePipelineArn.rsplit("/", 1)[-1]
            if ":" in spec.imagePipelineArn
            else (spec.imagePipelineArn)
        )
        if not _NAME.match(name):
            raise InputError(f"spec.imagePipelineArn: {spec.imagePipelineArn!r} is not a pipeline")
        return ImageSource(pipeline=name)
    assert spec.image is not None
    try:
        name, selector = parse_named(spec.image, "image")
    except ValueError as exc:
        raise InputError(f"spec.image: {exc}") from None
    return ImageSource(image=name, version=selector)


def _plugin(model: DeployerSpec | RouterSpec) -> PluginSpec:
    options = model.model_dump(mode="json", exclude_none=True, exclude={"type"})
    return PluginSpec(model.type, options)


def _hosts(spec: HostsSpec | None) -> HostGroups | None:
    if spec is None:
        return None
    return HostGroups(
        blue=spec.blue.patchGroup,
        green=spec.green.patchGroup,
        address_tag=spec.addressTag,
        install_timeout=_minutes(spec.installTimeoutMinutes),
    )


def deployment_of(name: str, spec: DeploymentSpec, description: str = "") -> Deployment:
    """The core value of a validated spec."""
    group = spec.deploymentGroup
    strategy, percentage, interval, wait = Strategy.BLUE_GREEN, 0, 0.0, 0.0
    if spec.deploymentConfigName is not None:
        strategy, percentage, interval, wait = PREDEFINED[spec.deploymentConfigName]
    elif spec.deploymentConfig is not None:
        config = spec.deploymentConfig
        strategy, wait = Strategy(config.type), config.terminationWaitTimeInMinutes
        if config.timeBasedCanary is not None:
            percentage = config.timeBasedCanary.canaryPercentage
            interval = config.timeBasedCanary.canaryInterval
        if config.timeBasedLinear is not None:
            percentage = config.timeBasedLinear.linearPercentage
            interval = config.timeBasedLinear.linearInterval
    health = spec.healthCheck
    http = health.http or (HttpCheckSpec() if health.command is None else None)
    alarms = spec.alarmConfiguration
    rollback = spec.autoRollbackConfiguration
    return Deployment(
        name=name,
        group=DeploymentGroup(
            name=group.name or name,
            instances=group.instances,
            deployer=_plugin(group.deployer) if group.deployer else None,
            router=_plugin(group.trafficRouter),
            hosts=_hosts(group.hosts),
        ),
        source=_source(spec),
        strategy=strategy,
        percentage=percentage,
        interval=_minutes(interval),
        termination_wait=_minutes(wait),
        health=HealthCheck(
            path=http.path if http else "/",
            expect_status=http.expectStatus if http else 200,
            expect_body=http.expectBody if http else "",
            command=tuple(health.command or ()),
            http=http is not None,
            interval=timedelta(seconds=health.intervalSeconds),
            timeout=timedelta(seconds=health.timeoutSeconds),
            healthy_threshold=health.healthyThreshold,
            unhealthy_threshold=health.unhealthyThreshold,
            ready_timeout=timedelta(seconds=health.readyTimeoutSeconds),
        ),
        alarms=Alarms(
            enabled=alarms.enabled,
            max_findings=tuple(sorted(alarms.maxFindings.items())),
            health=alarms.healthCheck,
        ),
        rollback=AutoRollback(
            enabled=rollback.enabled, events=frozenset(RollbackEvent(e) for e in rollback.events)
        ),
        description=description,
    )


@dataclass(frozen=True)
class DeploymentDocument:
    """A loaded ``Deployment``."""

    name: str
    spec: DeploymentSpec
    deployment: Deployment
    source: str
    description: str | None = None
    kind: str = KIND

    def to_json(self) -> dict[str, Any]:
        """The document as stored."""
        spec = self.spec.model_dump(mode="json", exclude_none=True)
        return stored(KIND, self.name, spec, self.description)


def load_deployment_document(metadata: Metadata, spec: object, source: str) -> DeploymentDocument:
    """Validate a ``Deployment``."""
    if not _NAME.match(metadata.name):
        raise InputError(
            "metadata.name: must be 1-100 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    try:
        model = DeploymentSpec.model_validate(spec)
    except ValidationError as exc:
        raise translate(exc, "spec") from None
    description = model.description or metadata.description or ""
    value = deployment_of(metadata.name, model, description)
    return DeploymentDocument(metadata.name, model, value, source, metadata.description)
