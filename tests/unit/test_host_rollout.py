"""Blue/green of mutable hosts (two patch groups behind one router) without I/O: the
document, and the use case over an in-memory fleet, router and probe and a stepped clock
(the real thing: tests/integration/test_host_blue_green.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from deploy_fakes import Clock, Store

from patchwarden.core.deploy.model import Deployment, DeploymentRun, DeploymentStatus, Strategy
from patchwarden.documents import parse_documents
from patchwarden.documents.deployment import DeploymentDocument
from patchwarden.errors import InputError
from patchwarden.pipeline.deploy import Busy, DeployOptions
from patchwarden.pipeline.host_rollout import (
    HostDeps,
    carry_out_hosts,
    prepare_hosts,
    roll_back_hosts,
)
from patchwarden.ports import Probe

DOCUMENT = """
apiVersion: patchwarden/v1
kind: Deployment
metadata: {name: web}
spec:
  deploymentGroup:
    hosts:
      blue: {patchGroup: web-a}
      green: {patchGroup: web-b}
    trafficRouter: {type: nginx, listen: "127.0.0.1:8080"}
  deploymentConfig: {type: BlueGreen}
  healthCheck: {intervalSeconds: 1, healthyThreshold: 2, readyTimeoutSeconds: 10}
"""


def _deployment(text: str = DOCUMENT) -> Deployment:
    (document,) = parse_documents(text, "web.yaml")
    assert isinstance(document, DeploymentDocument)
    return document.deployment


def test_document_reads_the_patch_groups() -> None:
    d = _deployment()
    assert d.group.deployer is None and d.group.hosts is not None
    assert (d.group.hosts.blue, d.group.hosts.green) == ("web-a", "web-b")
    assert d.group.hosts.address_tag == "ServiceAddress"
    assert d.group.hosts.install_timeout == timedelta(minutes=60)
    assert d.strategy is Strategy.BLUE_GREEN and d.group.router.type == "nginx"


def test_the_stored_document_reads_back_the_same() -> None:
    import json

    (document,) = parse_documents(DOCUMENT, "web.yaml")
    assert isinstance(document, DeploymentDocument)
    (again,) = parse_documents(json.dumps(document.to_json()), "web.json")
    assert isinstance(again, DeploymentDocument)
    assert again.deployment == document.deployment


LINEAR = "{type: Linear, timeBasedLinear: {linearPercentage: 10, linearInterval: 1}}"
CANARY = "deploymentConfigName: CodeDeployDefault.ECSCanary10Percent5Minutes"
RUNC = "    deployer: {type: runc, basePort: 1}\n    hosts:\n"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("  deploymentGroup:\n", "  image: web:1\n  deploymentGroup:\n"), "drop imagePipeline"),
        (("    hosts:\n", RUNC), "exactly one"),
        (("{patchGroup: web-b}", "{patchGroup: web-a}"), "two patch groups"),
        (("{type: BlueGreen}", LINEAR), "does not apply to hosts"),
        (("deploymentConfig: {type: BlueGreen}", CANARY), "does not apply to hosts"),
        (("    hosts:\n", "    instances: 2\n    hosts:\n"), "instances"),
        (("{patchGroup: web-a}", "{group: web-a}"), "patchGroup"),
    ],
)
def test_bad_host_documents_are_one_line(change: tuple[str, str], message: str) -> None:
    assert change[0] in DOCUMENT
    with pytest.raises(InputError) as caught:
        _deployment(DOCUMENT.replace(*change))
    assert message in str(caught.value) and "\n" not in str(caught.value)


@dataclass
class Fleet:
    """Two patch groups of hosts; an Install takes ``polls`` looks, then ends ``outcome``;
    a host of a ``sick`` group fails its checks once its group is patched."""

    groups: dict[str, list[tuple[str, str]]] = field(
        default_factory=lambda: {
            "web-a": [("mi-a1", "127.0.0.1:9001"), ("mi-a2", "127.0.0.1:9002")],
            "web-b": [("mi-b1", "127.0.0.1:9011")],
        }
    )
    outcome: dict[str, str] = field(default_factory=dict)
    sick: set[str] = field(default_factory=set)
    polls: int = 2
    patched: list[str] = field(default_factory=list)
    commands: dict[str, tuple[str, int]] = field(default_factory=dict)
    routes: list[list[tuple[str, int]]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def nodes(self, patch_group: str) -> list[tuple[str, str]]:
        return list(self.groups.get(patch_group, []))

    def install(self, patch_group: str, actor: str) -> str:
        command = f"cmd-{len(self.commands) + 1}"
        self.commands[command] = (patch_group, 0)
        self.log.append(f"install {patch_group}")
        return command

    def result(self, command_id: str) -> str | None:
        group, looks = self.commands[command_id]
        self.commands[command_id] = (group, looks + 1)
        if looks < self.polls:
            return None
        status = self.outcome.get(group, "Success")
        if status == "Success" and group not in self.patched:
            self.patched.append(group)
        return status

    def route(self, pairs: object) -> None:
        self.routes.append(list(pairs))  # type: ignore[call-overload]
        self.log.append("route " + " ".join(f"{a}={w}" for a, w in self.routes[-1]))

    def endpoint(self) -> str:
        return "127.0.0.1:8080"

    def probe(self, address: str) -> Probe:
        group = next(g for g, nodes in self.groups.items() if address in dict(nodes).values())
        if group in self.sick and group in self.patched:
            return Probe(False, "HTTP 503")
        return Probe(True)


@dataclass
class World:
    fleet: Fleet = field(default_factory=Fleet)
    store: Store = field(default_factory=Store)
    clock: Clock = field(default_factory=Clock)
    deployment: Deployment = field(default_factory=_deployment)

    def deps(self, owner: str = "me/1", alive: bool = True) -> HostDeps:
        return HostDeps(
            fleet=self.fleet,
            store=self.store,
            router=self.fleet,
            probe=self.fleet.probe,
            clock=self.clock,
            sleep=self.clock.sleep,
            owner=owner,
            alive=lambda _owner: alive,
        )

    def prepare(self) -> DeploymentRun:
        return prepare_hosts(self.deployment, self.deps(), DeployOptions(actor="alice"))

    def run(self) -> DeploymentRun:
        return carry_out_hosts(self.deployment, self.deps(), self.prepare())


def _events(run: DeploymentRun) -> list[str]:
    return [e.event for e in run.events]


BLUE = "route 127.0.0.1:9001=1 127.0.0.1:9002=1"
GREEN = "route 127.0.0.1:9011=1"


def test_green_is_patched_checked_and_switched_to_then_blue() -> None:
    world = World()
    run = world.run()
    assert run.status is DeploymentStatus.SUCCEEDED, run.reason
    assert run.image == "patch groups web-a/web-b" and run.strategy is Strategy.BLUE_GREEN
    assert _events(run) == [
        "Created", "InProgress",
        "TrafficShifted", "InstallStarted", "Installed", "Healthy",  # green
        "TrafficShifted", "InstallStarted", "Installed", "Healthy",  # blue
        "TrafficShifted", "Succeeded",
    ]  # fmt: skip
    assert world.fleet.log == [
        BLUE,
        "install web-b",
        GREEN,
        "install web-a",
        "route 127.0.0.1:9001=1 127.0.0.1:9002=1 127.0.0.1:9011=1",
    ]
    assert [e.green_percent for e in run.events if e.event == "TrafficShifted"] == [0, 100, 33]
    assert world.fleet.patched == ["web-b", "web-a"]
    assert [i.name for i in run.blue] == ["mi-a1", "mi-a2"] and run.green[0].name == "mi-b1"
    live = world.store.group("web")
    assert live.image == "patch groups web-a/web-b" and len(live.instances) == 3
    with pytest.raises(InputError, match="patches are not uninstalled"):
        roll_back_hosts(world.deployment, world.deps())


def test_green_install_failing_leaves_traffic_on_blue() -> None:
    world = World(fleet=Fleet(outcome={"web-b": "Failed"}))
    run = world.run()
    assert run.status is DeploymentStatus.FAILED
    assert "green (web-b): Install command cmd-1 ended Failed" in run.reason
    assert world.fleet.log == [BLUE, "install web-b"]  # traffic never left blue
    assert _events(run)[-3:] == ["Failure", "TrafficKept", "Failed"]
    assert "nothing to roll back" in run.events[-2].detail
    assert run.green_percent == 0


def test_green_unhealthy_after_its_patch_leaves_traffic_on_blue() -> None:
    world = World(fleet=Fleet(sick={"web-b"}))
    run = world.run()
    assert run.status is DeploymentStatus.FAILED
    assert "mi-b1 not healthy within 10s (HTTP 503)" in run.reason
    assert world.fleet.log == [BLUE, "install web-b"]
    assert "Healthy" not in _events(run)


def test_blue_failing_after_the_switch_leaves_traffic_on_green() -> None:
    world = World(fleet=Fleet(outcome={"web-a": "TimedOut"}))
    run = world.run()
    assert run.status is DeploymentStatus.FAILED and "blue (web-a)" in run.reason
    assert world.fleet.log == [BLUE, "install web-b", GREEN, "install web-a"]
    assert run.green_percent == 100
    assert "all traffic stays on green" in run.events[-2].detail
    assert world.store.group("web").image == "patch group web-b"


def test_install_that_never_ends_times_out() -> None:
    world = World(fleet=Fleet(polls=10**6))
    run = world.run()
    assert run.status is DeploymentStatus.FAILED
    assert "not finished within 3600s" in run.reason


def test_a_stop_request_is_honoured_and_a_second_run_waits() -> None:
    world = World()
    created = world.prepare()
    with pytest.raises(Busy):
        world.prepare()
    assert roll_back_hosts(world.deployment, world.deps()).action == "requested"
    run = carry_out_hosts(world.deployment, world.deps(), created)
    assert run.status is DeploymentStatus.STOPPED and run.reason == "stopped on request"
    assert world.fleet.log == [BLUE]


def test_refusals_before_anything_runs() -> None:
    world = World(fleet=Fleet(groups={"web-a": [("mi-a1", "127.0.0.1:9001")]}))
    with pytest.raises(InputError, match="patch group web-b has no active node"):
        world.prepare()
    world = World(
        fleet=Fleet(groups={"web-a": [("mi-a1", "")], "web-b": [("mi-b1", "127.0.0.1:1")]})
    )
    with pytest.raises(InputError, match="mi-a1 has no ServiceAddress tag"):
        world.prepare()
    with pytest.raises(InputError, match="takes no image"):
        prepare_hosts(World().deployment, World().deps(), DeployOptions(image="web:1.x.x"))
    assert World().store.runs() == []
