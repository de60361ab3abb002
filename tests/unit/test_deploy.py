"""Deployments without I/O: the strategies' waves and weights, health tallies and alarms, the
Deployment document, and the run use case over in-memory plugins and a stepped clock (the
real runc, nginx and hooks are tested in tests/integration/test_deployers.py and
test_deploy_e2e.py)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest
from deploy_fakes import T0, Clock, Store

from patchwarden.core.deploy.health import Health, Tally, finding_alarm
from patchwarden.core.deploy.model import (
    Alarms,
    Deployment,
    DeploymentRun,
    DeploymentStatus,
    HealthCheck,
    Strategy,
)
from patchwarden.core.deploy.strategy import Wave, slots, termination_wait, waves, weights
from patchwarden.core.imagebuild import ImageRecord, ImageStatus
from patchwarden.core.semver import ImageVersion
from patchwarden.documents import parse_documents
from patchwarden.documents.deployment import DeploymentDocument
from patchwarden.errors import AdapterError, InputError
from patchwarden.pipeline.deploy import (
    AlreadyServing,
    DeployDeps,
    DeployOptions,
    deploy,
    roll_back,
)
from patchwarden.ports import Probe, StartedInstance

DOCUMENT = """
apiVersion: patchwarden/v1
kind: Deployment
metadata: {name: web}
spec:
  imagePipelineArn: web
  deploymentGroup:
    instances: 2
    deployer: {type: runc, basePort: 18080}
    trafficRouter: {type: nginx, listen: "127.0.0.1:8080"}
  deploymentConfig:
    type: Canary
    timeBasedCanary: {canaryPercentage: 10, canaryInterval: 1}
    terminationWaitTimeInMinutes: 2
  healthCheck:
    http: {path: /health, expectBody: ok}
    intervalSeconds: 5
    healthyThreshold: 2
    unhealthyThreshold: 2
    readyTimeoutSeconds: 60
  alarmConfiguration: {maxFindings: {CRITICAL: 0}}
"""


def _deployment(text: str = DOCUMENT) -> Deployment:
    (document,) = parse_documents(text, "web.yaml")
    assert isinstance(document, DeploymentDocument)
    return document.deployment


# -- the document ------------------------------------------------------------------------------


def test_document_reads_codedeploy_fields() -> None:
    d = _deployment()
    assert d.group.name == "web" and d.group.instances == 2
    assert d.group.deployer.type == "runc" and d.group.deployer.options["basePort"] == 18080
    assert d.group.router.options["listen"] == "127.0.0.1:8080"
    assert (d.strategy, d.percentage, d.interval) == (Strategy.CANARY, 10, timedelta(minutes=1))
    assert d.termination_wait == timedelta(minutes=2)
    assert (d.health.path, d.health.expect_body, d.health.http) == ("/health", "ok", True)
    assert d.health.interval == timedelta(seconds=5) and d.health.unhealthy_threshold == 2
    assert d.alarms.max_findings == (("CRITICAL", 0),)
    assert d.rollback.enabled and d.source.pipeline == "web"


def test_predefined_configuration_names() -> None:
    text = DOCUMENT.replace(
        """  deploymentConfig:
    type: Canary
    timeBasedCanary: {canaryPercentage: 10, canaryInterval: 1}
    terminationWaitTimeInMinutes: 2
""",
        "  deploymentConfigName: CodeDeployDefault.ECSLinear10PercentEvery3Minutes\n",
    )
    d = _deployment(text)
    assert (d.strategy, d.percentage, d.interval) == (Strategy.LINEAR, 10, timedelta(minutes=3))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("imagePipelineArn: web", "image: web:1.x.x\n  imagePipelineArn: web"), "exactly one"),
        (("{type: runc, basePort: 18080}", "{type: runc}"), "basePort"),
        (("timeBasedCanary: {canaryPercentage: 10, canaryInterval: 1}", ""), "timeBasedCanary"),
        (("{CRITICAL: 0}", "{SEVERE: 0}"), "not a severity"),
        (('listen: "127.0.0.1:8080"', "listen: nowhere"), "HOST:PORT"),
        (("type: Canary", "type: Rolling"), "deploymentConfig.type"),
        (("instances: 2", "instances: 0"), "instances"),
    ],
)
def test_bad_documents_are_one_line(change: tuple[str, str], message: str) -> None:
    with pytest.raises(InputError) as caught:
        _deployment(DOCUMENT.replace(*change))
    assert message in str(caught.value) and "\n" not in str(caught.value)


# -- strategies ----------------------------------------------------------------------------------


def _with(strategy: Strategy, percentage: int = 0, minutes: float = 0) -> Deployment:
    return replace(
        _deployment(),
        strategy=strategy,
        percentage=percentage,
        interval=timedelta(minutes=minutes),
    )


def test_waves_of_each_strategy() -> None:
    assert waves(_with(Strategy.ALL_AT_ONCE)) == (Wave(100),)
    assert waves(_with(Strategy.BLUE_GREEN)) == (Wave(100),)
    assert waves(_with(Strategy.CANARY, 10, 5)) == (Wave(10, timedelta(minutes=5)), Wave(100))
    linear = waves(_with(Strategy.LINEAR, 30, 1))
    assert [w.percent for w in linear] == [30, 60, 90, 100]
    assert all(w.bake == timedelta(minutes=1) for w in linear[:-1])
    assert termination_wait(_with(Strategy.ALL_AT_ONCE)) == timedelta(0)
    assert termination_wait(_with(Strategy.CANARY, 10, 5)) == timedelta(minutes=2)


@pytest.mark.parametrize(
    ("blue", "green", "percent"),
    [(1, 1, 10), (2, 2, 10), (3, 1, 25), (2, 3, 50), (1, 4, 90), (5, 5, 33)],
)
def test_weights_give_green_its_share(blue: int, green: int, percent: int) -> None:
    b = [f"b{i}" for i in range(blue)]
    g = [f"g{i}" for i in range(green)]
    pairs = weights(b, g, percent)
    total = sum(w for _, w in pairs)
    green_total = sum(w for a, w in pairs if a.startswith("g"))
    assert green_total / total == pytest.approx(percent / 100)
    assert all(w > 0 for _, w in pairs)


def test_weights_at_the_ends_and_slots() -> None:
    assert weights(["b"], ["g"], 0) == [("b", 1)]
    assert weights(["b"], ["g"], 100) == [("g", 1)]
    assert weights([], ["g1", "g2"], 10) == [("g1", 1), ("g2", 1)]
    with pytest.raises(ValueError):
        weights(["b"], ["g"], 101)
    assert slots([0, 1], 2) == [2, 3]
    assert slots([2, 3], 2) == [0, 1]
    assert slots([1], 3) == [0, 2, 3]


def test_tally_thresholds_and_finding_alarm() -> None:
    check = HealthCheck(healthy_threshold=2, unhealthy_threshold=3)
    tally = Tally().add(True)
    assert tally.state(check) is Health.PENDING
    assert tally.add(True).state(check) is Health.HEALTHY
    sick = Tally().add(False, "HTTP 503").add(False).add(False)
    assert sick.state(check) is Health.UNHEALTHY and sick.last == "HTTP 503"
    assert Tally().add(False).add(False).add(True).state(check) is Health.PENDING
    alarms = Alarms(max_findings=(("CRITICAL", 0), ("HIGH", 2)))
    assert finding_alarm(alarms, [("HIGH", 2)]) == ""
    assert finding_alarm(alarms, [("CRITICAL", 1)]) == "1 CRITICAL findings (at most 0)"
    assert finding_alarm(replace(alarms, enabled=False), [("CRITICAL", 1)]) == ""


# -- the use case ---------------------------------------------------------------------------------


def _image(version: str, **changes: object) -> ImageRecord:
    record = ImageRecord(
        name="web",
        version=ImageVersion.parse(version),
        status=ImageStatus.AVAILABLE,
        created=T0,
        updated=T0,
        pipeline="web",
        layout="/images/web",
    )
    return replace(record, **changes)  # type: ignore[arg-type]


@dataclass
class Catalog:
    records: list[ImageRecord] = field(default_factory=list)

    def next_build(self, name: str, version: str) -> int:
        return 1

    def save(self, record: ImageRecord) -> None:
        self.records = [r for r in self.records if r.key != record.key] + [record]

    def get(self, name: str, version: str) -> ImageRecord | None:
        return next((r for r in self.records if r.key == (name, version)), None)

    def images(self, name: str | None = None) -> list[ImageRecord]:
        return [r for r in self.records if name is None or r.name == name]


@dataclass
class Fleet:
    """Deployer, router and probe over a dict of instances; ``sick`` images never pass."""

    running: dict[str, str] = field(default_factory=dict)  # address → image
    routes: list[list[tuple[str, int]]] = field(default_factory=list)
    sick: set[str] = field(default_factory=set)
    fail_start: bool = False
    stopped: list[str] = field(default_factory=list)

    def start(self, image: ImageRecord, instance: str, slot: int) -> StartedInstance:
        if self.fail_start:
            raise AdapterError("runc run: exit 1")
        address = f"127.0.0.1:{18080 + slot}"
        self.running[address] = str(image.version)
        return StartedInstance(instance, address, instance)

    def stop(self, started: StartedInstance) -> None:
        self.running.pop(started.address, None)
        self.stopped.append(started.instance)

    def route(self, pairs: object) -> None:
        self.routes.append(list(pairs))  # type: ignore[call-overload]

    def endpoint(self) -> str:
        return "127.0.0.1:8080"

    def probe(self, address: str) -> Probe:
        version = self.running.get(address)
        if version is None:
            return Probe(False, "connection refused")
        return Probe(False, "HTTP 503") if version in self.sick else Probe(True)


@dataclass
class World:
    deployment: Deployment
    catalog: Catalog
    store: Store
    fleet: Fleet
    clock: Clock
    stale: dict[str, list[str]] = field(default_factory=dict)

    def deps(self, owner: str = "me/1", alive: bool = True) -> DeployDeps:
        return DeployDeps(
            images=self.catalog,
            store=self.store,
            deployer=self.fleet,
            router=self.fleet,
            probe=self.fleet.probe,
            clock=self.clock,
            sleep=self.clock.sleep,
            stale=lambda image: self.stale.get(str(image.version), []),
            owner=owner,
            alive=lambda _owner: alive,
        )

    def run(self, **options: object) -> DeploymentRun:
        return deploy(self.deployment, self.deps(), DeployOptions(**options))  # type: ignore[arg-type]


def _world(deployment: Deployment | None = None, *images: ImageRecord) -> World:
    return World(
        deployment or _deployment(),
        Catalog(list(images) or [_image("1.0.0/1")]),
        Store(),
        Fleet(),
        Clock(),
    )


def _events(run: DeploymentRun) -> list[str]:
    return [e.event for e in run.events]


def test_first_deployment_sends_all_traffic_to_green() -> None:
    world = _world()
    run = world.run()
    assert run.status is DeploymentStatus.SUCCEEDED and run.id.startswith("d-")
    assert world.fleet.routes == [[("127.0.0.1:18080", 1), ("127.0.0.1:18081", 1)]]
    live = world.store.group("web")
    assert live.image == "web 1.0.0/1" and [i.slot for i in live.instances] == [0, 1]
    assert _events(run)[:4] == ["Created", "InProgress", "GreenStarted", "GreenStarted"]
    assert _events(run)[-1] == "Succeeded" and run.reason == ""


def test_canary_shifts_a_share_then_the_rest_and_stops_blue_after_the_wait() -> None:
    world = _world()
    world.run()
    world.catalog.save(_image("1.0.1/1"))
    began = world.clock.now
    run = world.run()
    assert run.status is DeploymentStatus.SUCCEEDED
    assert run.image == "web 1.0.1/1" and run.previous_image == "web 1.0.0/1"
    blue = ["127.0.0.1:18080", "127.0.0.1:18081"]
    green = ["127.0.0.1:18082", "127.0.0.1:18083"]
    assert world.fleet.routes[1:] == [
        [(blue[0], 9), (blue[1], 9), (green[0], 1), (green[1], 1)],
        [(green[0], 1), (green[1], 1)],
    ]
    shifts = [e.green_percent for e in run.events if e.event == "TrafficShifted"]
    assert shifts == [10, 100]
    assert "Baking" in _events(run) and _events(run)[-1] == "Succeeded"
    assert world.fleet.stopped == ["web-0", "web-1"]
    assert world.clock.now - began >= timedelta(minutes=3)  # 1 minute canary + 2 minutes wait
    assert sorted(world.fleet.running) == green
    assert world.store.group("web").image == "web 1.0.1/1"


def test_linear_moves_traffic_in_steps() -> None:
    world = _world(_with(Strategy.LINEAR, 25, 0.5))
    world.run()
    world.catalog.save(_image("1.1.0/1"))
    run = world.run()
    shifts = [e.green_percent for e in run.events if e.event == "TrafficShifted"]
    assert shifts == [25, 50, 75, 100] and run.status is DeploymentStatus.SUCCEEDED


def test_unhealthy_green_fails_and_traffic_never_leaves_blue() -> None:
    world = _world()
    world.run()
    world.fleet.sick.add("1.0.1/1")
    world.catalog.save(_image("1.0.1/1"))
    run = world.run()
    assert run.status is DeploymentStatus.FAILED and run.rolled_back
    assert "not healthy within 60s (HTTP 503)" in run.reason
    assert len(world.fleet.routes) == 1  # only the first deployment's
    assert sorted(world.fleet.running) == ["127.0.0.1:18080", "127.0.0.1:18081"]
    assert world.store.group("web").image == "web 1.0.0/1"
    assert {"RollbackStarted", "GreenStopped", "RolledBack"} <= set(_events(run))


def test_alarm_while_baking_rolls_traffic_back_to_blue() -> None:
    world = _world()
    world.run()
    world.catalog.save(_image("1.0.1/1"))
    fleet, real_route = world.fleet, world.fleet.route

    def route_then_sicken(pairs: object) -> None:
        real_route(pairs)
        if len(fleet.routes) == 2:  # green took its canary share, then starts failing
            fleet.sick.add("1.0.1/1")

    fleet.route = route_then_sicken  # type: ignore[method-assign]
    run = world.run()
    assert run.status is DeploymentStatus.STOPPED and run.rolled_back
    assert run.reason.startswith("health check: web-2, web-3 unhealthy (HTTP 503)")
    assert fleet.routes[-1] == [("127.0.0.1:18080", 1), ("127.0.0.1:18081", 1)]
    assert "Alarm" in _events(run)


def test_findings_alarm_stops_before_anything_starts() -> None:
    world = _world(None, _image("1.0.0/1", findings=(("CRITICAL", 1),)))
    run = world.run()
    assert run.status is DeploymentStatus.STOPPED and not run.rolled_back
    assert run.reason == "image findings: 1 CRITICAL findings (at most 0)"
    assert world.fleet.running == {} and world.fleet.routes == []


def test_stale_image_refused_unless_forced_and_serving_image_is_nothing_to_do() -> None:
    world = _world()
    world.stale["1.0.0/1"] = ["fix for CVE-2099-0002 in zlib"]
    with pytest.raises(InputError, match=r"stale \(fix for CVE-2099-0002 in zlib\).*--force"):
        world.run()
    run = world.run(force=True)
    assert run.status is DeploymentStatus.SUCCEEDED and "Forced" in _events(run)
    world.stale.clear()
    with pytest.raises(AlreadyServing):
        world.run(image="web:1.0.0/1")


def test_start_failure_rolls_back_and_a_second_run_waits_for_the_first() -> None:
    world = _world()
    world.run()
    world.catalog.save(_image("1.0.1/1"))
    world.fleet.fail_start = True
    run = world.run()
    assert run.status is DeploymentStatus.FAILED and "web-2: runc run: exit 1" in run.reason
    assert world.store.group("web").image == "web 1.0.0/1"
    stuck = replace(run, id="d-STUCK0000", status=DeploymentStatus.IN_PROGRESS)
    world.store.save(stuck)
    with pytest.raises(InputError, match="d-STUCK0000 of group web is InProgress"):
        world.run()


def test_rollback_requests_the_owner_or_rolls_back_itself() -> None:
    world = _world()
    world.run()
    world.catalog.save(_image("1.0.1/1"))
    # a run of another process, half-way (10 % on green), whose owner is alive
    world.fleet.fail_start = False
    deps = world.deps(owner="other/2")
    stopped_by_request = []

    def stop_on_second_check(address: str) -> Probe:
        if world.store.saved and len(stopped_by_request) == 0:
            active = [r for r in world.store.runs() if r.status is DeploymentStatus.IN_PROGRESS]
            if active and any(e.event == "TrafficShifted" for e in active[-1].events):
                result = roll_back(world.deployment, world.deps(owner="me/1", alive=True))
                stopped_by_request.append(result.action)
        return world.fleet.probe(address)

    deps.probe = stop_on_second_check
    run = deploy(world.deployment, deps, DeployOptions())
    assert stopped_by_request == ["requested"]
    assert run.status is DeploymentStatus.STOPPED and run.rolled_back
    assert run.reason == "stopped on request"
    assert world.fleet.routes[-1] == [("127.0.0.1:18080", 1), ("127.0.0.1:18081", 1)]
    # an InProgress run whose owner died: rollback does it here
    orphan = replace(
        run,
        id="d-ORPHAN000",
        status=DeploymentStatus.IN_PROGRESS,
        rolled_back=False,
        green=run.blue[:0],
        owner="gone/9",
    )
    world.store.save(orphan)
    result = roll_back(world.deployment, world.deps(alive=False))
    assert result.action == "rolled-back" and result.run.status is DeploymentStatus.STOPPED


def test_rollback_after_success_redeploys_the_previous_image() -> None:
    world = _world()
    world.run()
    world.catalog.save(_image("1.0.1/1"))
    second = world.run()
    result = roll_back(world.deployment, world.deps())
    assert result.action == "redeployed"
    assert result.run.image == "web 1.0.0/1" and result.run.trigger == f"rollback of {second.id}"
    assert result.run.status is DeploymentStatus.SUCCEEDED
    assert world.store.group("web").image == "web 1.0.0/1"
    with pytest.raises(InputError, match="no earlier image"):
        roll_back(world.deployment, replace(world.deps(), store=Store()))


def test_without_auto_rollback_a_failure_leaves_traffic_where_it_is() -> None:
    deployment = _deployment()
    deployment = replace(deployment, rollback=replace(deployment.rollback, enabled=False))
    world = _world(deployment)
    world.run()
    world.catalog.save(_image("1.0.1/1"))
    fleet, real_route = world.fleet, world.fleet.route

    def route_then_sicken(pairs: object) -> None:
        real_route(pairs)
        if len(fleet.routes) == 2:
            fleet.sick.add("1.0.1/1")

    fleet.route = route_then_sicken  # type: ignore[method-assign]
    run = world.run()
    assert run.status is DeploymentStatus.STOPPED and not run.rolled_back
    assert "NotRolledBack" in _events(run)
    assert len(world.store.group("web").instances) == 4
