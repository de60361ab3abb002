"""The fleet's command use cases on in-memory ports: target selection, baseline resolution
(override → patch group → default → predefined), sending with rate control and pinned
baselines, cancelling, and a node's report of its result."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fleet_fakes import (
    AT,
    FakeAudit,
    FakeBaselines,
    FakeCommands,
    FakeNodes,
    FakeReports,
    World,
    fleet,
    node,
)
from test_render_sarif import sample_report

from patchwarden.core.baseline import default_baseline
from patchwarden.documents import to_document
from patchwarden.pipeline.fleet import commands, reports
from patchwarden.pipeline.fleet.baseline_resolution import (
    override_documents,
    predefined,
    resolve_baseline,
)
from patchwarden.pipeline.fleet.command_records import InvocationState, ReportedResult
from patchwarden.pipeline.fleet.commands import CommandRequest
from patchwarden.pipeline.fleet.errors import Forbidden, Invalid, NotFound
from patchwarden.pipeline.fleet.records import TargetSelection
from patchwarden.pipeline.fleet.targets import selection


def _document(name: str, os_name: str = "UBUNTU") -> dict[str, Any]:
    document = to_document(default_baseline(os_name))
    document["metadata"]["name"] = name
    return document


def _request(**changes: Any) -> CommandRequest:
    base = CommandRequest(
        document_name="AWS-RunPatchBaseline",
        parameters={"Operation": "Scan", "RebootOption": "RebootIfNeeded", "SnapshotId": ""},
        baseline_override=None,
        snapshot_id="",
        instance_ids=(),
        targets=(("InstanceIds", ("*",)),),
        max_concurrency="50%",
        max_errors="10%",
        timeout_seconds=600,
        execution_timeout_seconds=7200,
        comment="",
    )
    return replace(base, **changes)


# --- targets


def test_instance_ids_select_exactly_those_nodes() -> None:
    assert selection(["mi-1", "mi-2"], [("tag:Env", ["prod"])]) == TargetSelection(
        ids=("mi-1", "mi-2")
    )


def test_targets_and_keys_or_values() -> None:
    found = selection(
        [],
        [
            ("InstanceIds", ["*"]),
            ("tag:Env", ["prod", "stage"]),
            ("Role", ["web"]),
            ("tag-key", ["Owner"]),
            ("PatchGroup", ["canary"]),
        ],
    )
    assert found == TargetSelection(
        ids=(),
        tag_keys=("Owner",),
        tags={"Env": ("prod", "stage"), "Role": ("web",)},
        patch_groups=("canary",),
    )
    assert selection([], [("InstanceIds", ["mi-1", "*"])]).ids == ("mi-1", "*")
    assert selection([], []) == TargetSelection()  # no criterion: every active node


# --- baseline resolution


@pytest.fixture
def world() -> World:
    w = World()
    store = FakeBaselines(w)
    w.groups[("web", "UBUNTU")] = store.add(_document("web-ubuntu")).id
    w.defaults["UBUNTU"] = store.add(_document("ubuntu-default")).id
    store.add(_document("debian-strict", "DEBIAN"))
    return w


def test_the_patch_group_wins_over_the_default(world: World) -> None:
    source = FakeBaselines(world)
    doc, where = resolve_baseline(source, "UBUNTU", "web", None)
    assert (doc or {})["metadata"]["name"] == "web-ubuntu"
    assert where == "PatchGroup:web"
    doc, where = resolve_baseline(source, "UBUNTU", "db", None)
    assert ((doc or {})["metadata"]["name"], where) == ("ubuntu-default", "DefaultBaseline")


def test_an_override_wins_and_without_the_os_skips_the_patch_group(world: World) -> None:
    source = FakeBaselines(world)
    override = [_document("mine")]
    doc, where = resolve_baseline(source, "UBUNTU", "web", override)
    assert ((doc or {})["metadata"]["name"], where) == ("mine", "BaselineOverride")
    doc, where = resolve_baseline(source, "UBUNTU", "web", [_document("deb", "DEBIAN")])
    assert ((doc or {})["metadata"]["name"], where) == ("ubuntu-default", "DefaultBaseline")


def test_the_predefined_default_last(world: World) -> None:
    doc, where = resolve_baseline(FakeBaselines(world), "DEBIAN", None, None)
    assert where == "PredefinedDefault"
    assert doc == predefined("DEBIAN")
    assert resolve_baseline(FakeBaselines(world), "PLAN9", None, None) == (
        None,
        "PredefinedDefault",
    )


def test_override_documents_by_name_document_or_aws_json(world: World) -> None:
    source = FakeBaselines(world)
    found = override_documents(["debian-strict", _document("inline")], source)
    assert [d["metadata"]["name"] for d in found] == ["debian-strict", "inline"]
    with pytest.raises(NotFound, match="baseline 'nope' not found"):
        override_documents(["nope"], source)
    with pytest.raises(Invalid, match=r"\[1\]: a second baseline for UBUNTU"):
        override_documents([_document("one"), _document("two")], source)
    with pytest.raises(Invalid, match="expected a baseline name or document"):
        override_documents([3], source)
    with pytest.raises(Invalid):
        override_documents([{"apiVersion": "patchwarden/v1", "kind": "Nonsense"}], source)


# --- sending and cancelling


def test_a_command_resolves_targets_and_limits_now(world: World) -> None:
    for ident in ("mi-1", "mi-2", "mi-3", "mi-4"):
        world.nodes[ident] = node(ident)
    ports = fleet(world)
    cmd = commands.create_command(ports, _request(), "token:ops", AT)
    assert cmd.target_count == 4
    assert isinstance(ports.commands, FakeCommands)
    assert ports.commands.limits == (2, 0)  # 50 % of 4; 10 % of 4 floors to 0
    assert cmd.targets == {"InstanceIds": [], "Targets": [{"Key": "InstanceIds", "Values": ["*"]}]}
    specs = world.invocations[cmd.id]
    assert [s.node_id for s in specs] == ["mi-1", "mi-2", "mi-3", "mi-4"]
    assert not any(s.pinned for s in specs)  # resolved at delivery
    assert world.audit == []  # only SendCommand itself is audited


def test_a_snapshot_pins_every_baseline_at_send_time(world: World) -> None:
    world.nodes["mi-1"] = node("mi-1", tags={"Patch Group": "web"})
    world.nodes["mi-2"] = node("mi-2", "DEBIAN")
    cmd = commands.create_command(
        fleet(world), _request(snapshot_id="0" * 8 + "-0000-0000-0000-" + "0" * 12), "x", AT
    )
    pinned = [(s.node_id, s.pinned, s.baseline_source) for s in world.invocations[cmd.id]]
    assert pinned == [("mi-1", True, "PatchGroup:web"), ("mi-2", True, "PredefinedDefault")]


def test_a_baseline_override_is_stored_as_documents_and_shown_by_name(world: World) -> None:
    world.nodes["mi-1"] = node("mi-1")
    request = _request(
        instance_ids=("mi-1",),
        targets=(),
        baseline_override=["debian-strict", _document("inline")],
    )
    nodes = FakeNodes(world)
    ports = replace(fleet(world), nodes=nodes)
    cmd = commands.send_command(ports, FakeAudit(world), request, "token:ops", AT)
    assert nodes.selections == [TargetSelection(ids=("mi-1",))]
    override = cmd.parameters["BaselineOverride"]
    assert [d["spec"]["OperatingSystem"] for d in override] == ["DEBIAN", "UBUNTU"]
    ((actor, action, target, detail),) = world.audit
    assert (actor, action, target) == ("token:ops", "command.send", cmd.id)
    assert detail["parameters"]["BaselineOverride"] == ["debian-strict", "inline"]
    assert detail["targets"] == {"InstanceIds": ["mi-1"], "Targets": []}


def test_cancel_is_audited_once_and_not_for_a_finished_command(world: World) -> None:
    world.nodes["mi-1"] = node("mi-1")
    cmd = commands.create_command(fleet(world), _request(), "x", AT)
    store, audit = FakeCommands(world), FakeAudit(world)
    with pytest.raises(NotFound, match="command nope not found"):
        commands.cancel_command(store, audit, "nope", "token:ops", AT)
    assert commands.cancel_command(store, audit, cmd.id, "token:ops", AT).status == "Cancelled"
    commands.cancel_command(store, audit, cmd.id, "token:ops", AT)
    assert [a[1] for a in world.audit] == ["command.cancel"]
    done = commands.create_command(fleet(world), _request(), "x", AT)
    world.commands[done.id] = replace(world.commands[done.id], status="Success")
    commands.cancel_command(store, audit, done.id, "token:ops", AT)
    assert [a[1] for a in world.audit] == ["command.cancel"]


# --- reports


def _invocation(world: World, status: str = "InProgress") -> None:
    world.states["inv-1"] = InvocationState("inv-1", "mi-1", "cmd-9", status, None)


def _report(world: World, result: ReportedResult, node_id: str = "mi-1") -> Any:
    changed: list[str] = []
    outcome = reports.report_result(
        FakeReports(world), node_id, "inv-1", result, AT, lambda: changed.append(node_id)
    )
    return outcome, changed


def test_a_result_finishes_the_invocation_once() -> None:
    world = World()
    _invocation(world)
    outcome, changed = _report(world, ReportedResult("TimedOut", 124, "x" * 30_000))
    assert (outcome.accepted, outcome.status, outcome.command_status) == (
        True,
        "TimedOut",
        "InProgress",
    )
    finished = world.finished["inv-1"]
    assert finished.status_details == "Execution Timed Out"
    assert len(finished.output) == reports.MAX_OUTPUT
    assert finished.started_at == finished.finished_at == AT  # never seen starting
    assert changed == []
    again, _ = _report(world, ReportedResult("Success", 0, ""))
    assert (again.accepted, again.status) == (False, "TimedOut")
    assert world.rolled_up == ["cmd-9", "cmd-9"]


def test_only_its_node_reports_an_invocation() -> None:
    world = World()
    with pytest.raises(NotFound):
        _report(world, ReportedResult("Success", 0, ""))
    _invocation(world)
    with pytest.raises(Forbidden, match="belongs to another node"):
        _report(world, ReportedResult("Success", 0, ""), node_id="mi-2")
    assert world.finished == {}


def test_a_scan_report_becomes_the_nodes_compliance() -> None:
    world = World()
    _invocation(world)
    report = sample_report()
    _, changed = _report(world, ReportedResult("Success", 0, "", report))
    saved = world.compliance["mi-1"]
    assert (saved.report, saved.command_id) == (report, "cmd-9")
    assert changed == ["mi-1"]
    _, changed = _report(world, ReportedResult("Failed", 1, "no report"))
    assert changed == []  # a result without a report leaves the compliance alone
