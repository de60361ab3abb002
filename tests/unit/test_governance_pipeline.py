"""The governance use cases on in-memory fakes of their ports (no database): evaluations
recorded and change-triggered, remediation started on NON_COMPLIANT with attempts and
retries, runbook effects, and webhooks only queued — sent after the commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from governance_fakes import (
    FakeNotifier,
    FakeUnitOfWork,
    World,
    finish_commands,
    governance,
)

from patchwarden.core.remediation import Phase
from patchwarden.errors import InputError
from patchwarden.pipeline.governance import (
    documents,
    evaluation,
    operations,
    remediation_runs,
    runbooks,
)
from patchwarden.pipeline.governance.context import Governance, Outbox
from patchwarden.pipeline.governance.delivery import committed
from patchwarden.pipeline.governance.records import Delivery
from patchwarden.pipeline.governance.tick import tick

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOOK = "ops-chat"
"""The webhook destination the fakes' world has configured."""
NODE = {"NodeId": "mi-1"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def remediated(runbook: str, **extra: Any) -> dict[str, Any]:
    return {
        "TargetId": runbook,
        "Parameters": {"NodeId": {"ResourceValue": {"Value": "RESOURCE_ID"}}},
        "Automatic": True,
        **extra,
    }


def tag_rule(world: World, name: str = "owned", **spec: Any) -> None:
    body = {"Type": "required-tags", "Parameters": {"TagKeys": ["Owner"]}, **spec}
    documents.put_rule(governance(world).documents, name, body, T0)


def book(world: World, name: str, *steps: dict[str, Any]) -> None:
    spec = {"parameters": {"NodeId": {"type": "String"}}, "mainSteps": list(steps)}
    documents.put_runbook(governance(world).documents, name, spec, T0)


INSTALL = {
    "name": "install",
    "action": "runCommand",
    "inputs": {"DocumentName": "RunPatchBaseline", "NodeId": "{{NodeId}}"},
}
NOTIFY = {"name": "tell", "action": "notify", "inputs": {"Destination": HOOK, "Message": "hi"}}
TAG = {
    "name": "tag",
    "action": "addTags",
    "inputs": {"NodeId": "{{NodeId}}", "Tags": {"Owner": "ops"}},
}


def test_the_change_trigger_records_every_evaluation() -> None:
    world = World(nodes={"mi-1": {}, "mi-2": {"Owner": "me"}, "mi-3": {}}, gone={"mi-3"})
    tag_rule(world)
    gov = governance(world)
    evaluation.changed(gov, "mi-1", at(1))
    evaluation.changed(gov, "mi-2", at(2))
    evaluation.changed(gov, "mi-3", at(3))  # deregistered: not evaluated
    assert world.evaluations == [
        ("owned", "mi-1", "NON_COMPLIANT", "ConfigurationChange", at(1)),
        ("owned", "mi-2", "COMPLIANT", "ConfigurationChange", at(2)),
    ]
    world.nodes["mi-1"] = {"Owner": "you"}
    evaluation.changed(gov, "mi-1", at(4))
    assert gov.results.latest("owned", "mi-1") is not None
    assert world.latest[("owned", "mi-1")].compliance == "COMPLIANT"
    assert len(world.evaluations) == 3  # history kept


def test_periodic_rules_run_at_their_frequency_only() -> None:
    world = World(nodes={"mi-1": {}})
    trigger = {"Periodic": True, "MaximumExecutionFrequency": "One_Hour"}
    tag_rule(world, Trigger=trigger)
    gov = governance(world)
    evaluation.changed(gov, "mi-1", at(0))  # periodic only: no change trigger
    assert evaluation.periodic(gov, at(0)) == {"NON_COMPLIANT": 1}
    assert evaluation.periodic(gov, at(1800)) == {}
    assert evaluation.periodic(gov, at(3600)) == {"NON_COMPLIANT": 1}
    assert [e[3] for e in world.evaluations] == ["ScheduledNotification"] * 2


def test_non_compliant_starts_a_remediation_with_attempts_and_retries() -> None:
    world = World(nodes={"mi-1": {}})
    book(world, "install", INSTALL)
    config = remediated("install", MaximumAutomaticAttempts=2, RetryAttemptSeconds=20)
    tag_rule(world, Remediation=config)
    gov = governance(world)
    evaluation.changed(gov, "mi-1", at(0))
    state = gov.remediations.state("owned", "mi-1")
    assert state is not None and state.phase is Phase.MARKED
    assert remediation_runs.tick(gov, at(0)) == 1
    (sent,) = world.sent
    assert (sent.node_id, sent.document) == ("mi-1", "RunPatchBaseline")
    assert remediation_runs.tick(gov, at(1)) == 0  # in progress
    finish_commands(world, "Failed")
    runbooks.advance(gov, at(2))
    state = gov.remediations.state("owned", "mi-1")
    assert state is not None and (state.phase, state.attempts) == (Phase.MARKED, 1)
    assert state.due_at == at(12)  # RetryAttemptSeconds / MaximumAutomaticAttempts later
    assert remediation_runs.tick(gov, at(5)) == 0
    assert remediation_runs.tick(gov, at(12)) == 1
    finish_commands(world, "Failed")
    runbooks.advance(gov, at(13))
    state = gov.remediations.state("owned", "mi-1")
    assert state is not None and state.phase is Phase.EXCEPTION
    assert gov.remediations.has_exception("owned", "mi-1")
    assert [r["status"] for r in world.runs.values()] == ["FAILED", "FAILED"]
    assert remediation_runs.tick(gov, at(100)) == 0


def test_a_tag_edit_reevaluates_and_the_run_succeeds() -> None:
    world = World(nodes={"mi-1": {}})
    book(world, "tag", TAG)
    tag_rule(world, Remediation=remediated("tag"))
    gov = governance(world)
    evaluation.changed(gov, "mi-1", at(0))
    assert remediation_runs.tick(gov, at(0)) == 1
    assert world.nodes["mi-1"] == {"Owner": "ops"}
    assert world.latest[("owned", "mi-1")].compliance == "COMPLIANT"
    (run,) = world.runs.values()
    assert run["status"] == "SUCCEEDED"
    assert ("runbook:tag/exec-2", "node.tags", "mi-1") in world.audit


def test_execution_controls_limit_runs_across_nodes() -> None:
    world = World(nodes={f"mi-{i}": {} for i in range(4)})
    book(world, "install", INSTALL)
    controls = {"SsmControls": {"ConcurrentExecutionRatePercentage": 50}}
    tag_rule(world, Remediation=remediated("install", ExecutionControls=controls))
    gov = governance(world)
    for node in world.nodes:
        evaluation.changed(gov, node, at(0))
    assert remediation_runs.tick(gov, at(0)) == 2
    assert remediation_runs.tick(gov, at(1)) == 0


def test_a_notify_step_only_queues_its_webhook() -> None:
    world = World(nodes={"mi-1": {}})
    book(world, "page", NOTIFY)
    outbox = Outbox()
    gov = governance(world, outbox)
    stored = runbooks.start(gov, "page", NODE, at(0), "alice")
    assert stored.execution.status.value == "InProgress"
    (queued,) = outbox.drain()
    assert (queued.execution_id, queued.step, queued.attempt, queued.destination) == (
        stored.id,
        "tell",
        1,
        HOOK,
    )
    assert queued.payload == {"runbook": "page", "step": "tell", "message": "hi"}
    waiting = gov.executions.waiting(stored.id, "tell")
    assert waiting["webhook"] == HOOK and waiting["queued_at"] == at(0).isoformat()


def test_tick_sends_webhooks_after_the_commit_and_reports_their_outcome() -> None:
    world = World(nodes={"mi-1": {}})
    book(world, "page", NOTIFY, TAG)
    tag_rule(world, Remediation=remediated("page"))
    evaluation.changed(governance(world), "mi-1", at(0))
    uow = FakeUnitOfWork(world)
    notifier = FakeNotifier(uow.log)
    counts = tick(uow, notifier, at(0))
    assert counts["remediations_started"] == 1
    # periodic, runbooks, remediation (queues the webhook); then the outcome's transaction
    assert uow.log == ["begin", "commit"] * 3 + [f"send {HOOK}", "begin", "commit"]
    (execution,) = world.executions.values()
    assert execution["execution"].status.value == "Success"
    assert execution["execution"].steps["tell"].outputs == {"Delivered": True}
    assert execution["execution"].steps["tell"].message == "delivered"
    assert world.nodes["mi-1"] == {"Owner": "ops"}
    (run,) = world.runs.values()
    assert run["status"] == "SUCCEEDED"


def test_a_failed_webhook_fails_its_step() -> None:
    world = World(nodes={"mi-1": {}})
    book(world, "page", NOTIFY)
    uow = FakeUnitOfWork(world)
    notifier = FakeNotifier(uow.log, Delivery(error="connection refused"))
    start = lambda gov: runbooks.start(gov, "page", NODE, at(0), "alice")  # noqa: E731
    stored = committed(uow, notifier, start, at(0))
    (execution,) = world.executions.values()
    assert execution["execution"].status.value == "Failed"
    assert execution["execution"].steps["tell"].message == "not delivered (attempt 1)"
    notifier.answer = Delivery(status_code=500)
    stored = committed(uow, notifier, start, at(1))
    assert world.executions[stored.id]["execution"].steps["tell"].message == (
        "not delivered (attempt 1)"
    )


def test_nothing_is_sent_when_the_transaction_rolls_back() -> None:
    world = World(nodes={"mi-1": {}})
    book(world, "page", NOTIFY)
    uow = FakeUnitOfWork(world)
    notifier = FakeNotifier(uow.log)

    class Refused(Exception):
        pass

    def start_then_fail(gov: Governance) -> None:
        runbooks.start(gov, "page", NODE, at(0), "alice")
        raise Refused  # the webhook was queued, then the request fails

    with pytest.raises(Refused):
        committed(uow, notifier, start_then_fail, at(0))
    assert uow.log == ["begin", "rollback"]
    assert notifier.sent == [] and world.executions == {}


def test_webhooks_left_unclaimed_are_sent_by_the_next_tick() -> None:
    world = World(nodes={"mi-1": {}})
    book(world, "page", NOTIFY)
    detached = governance(world, Outbox(delivers=False))  # e.g. a maintenance window's run
    stored = runbooks.start(detached, "page", NODE, at(0), "window:1:mi-1")
    assert detached.executions.waiting(stored.id, "tell")["queued_at"] is None
    uow = FakeUnitOfWork(world)
    notifier = FakeNotifier(uow.log)
    tick(uow, notifier, at(1))
    assert [d for d, _ in notifier.sent] == [HOOK]
    assert world.executions[stored.id]["execution"].status.value == "Success"


def test_a_claimed_webhook_is_queued_again_only_when_overdue() -> None:
    world = World(nodes={"mi-1": {}})
    book(world, "page", NOTIFY)
    gov = governance(world)
    stored = runbooks.start(gov, "page", NODE, at(0), "alice")
    gov.outbox.drain()  # its sender died before reporting
    runbooks.advance(gov, at(30))
    assert gov.outbox.drain() == ()
    runbooks.advance(gov, at(60))
    (again,) = gov.outbox.drain()
    assert again.execution_id == stored.id


def test_manual_start_waits_for_an_approval() -> None:
    world = World(nodes={"mi-1": {}})
    approve_step = {"name": "ask", "action": "approve", "inputs": {"MinRequiredApprovals": 1}}
    book(world, "approved", approve_step, TAG)
    tag_rule(world, Remediation=remediated("approved", Automatic=False))
    gov = governance(world)
    evaluation.changed(gov, "mi-1", at(0))
    assert remediation_runs.tick(gov, at(0)) == 0  # not automatic
    run = operations.start_remediation(gov, "bob", "owned", "mi-1", at(1))
    with pytest.raises(Exception, match="already running"):
        operations.start_remediation(gov, "bob", "owned", "mi-1", at(2))
    execution_id = operations.approve(gov, "carol", run.id, True, "", at(3))
    assert world.executions[execution_id]["execution"].status.value == "Success"
    assert world.runs[run.id]["status"] == "SUCCEEDED"
    with pytest.raises(InputError, match="not waiting for an approval"):
        operations.approve(gov, "carol", run.id, True, "", at(4))
    with pytest.raises(LookupError):
        operations.approve(gov, "carol", "nope", True, "", at(4))


def test_risk_acceptance_and_lifting_it() -> None:
    world = World(nodes={"mi-1": {}})
    book(world, "tag", TAG)
    tag_rule(world, Remediation=remediated("tag"))
    gov = governance(world)
    operations.accept_risk(gov, "bob", "owned", "mi-1", "legacy", at(100), at(0))
    evaluation.changed(gov, "mi-1", at(1))
    assert remediation_runs.tick(gov, at(1)) == 0
    operations.lift_exception(gov, "bob", "owned", "mi-1", at(2))
    with pytest.raises(LookupError):
        operations.lift_exception(gov, "bob", "owned", "mi-1", at(3))
    assert remediation_runs.tick(gov, at(3)) == 1


def test_exceptions_refuse_unknown_rules_and_resources() -> None:
    world = World(nodes={"mi-1": {}})
    book(world, "tag", TAG)
    tag_rule(world, Remediation=remediated("tag"))
    tag_rule(world, "bare")
    gov = governance(world)
    with pytest.raises(LookupError, match="rule nope"):
        operations.accept_risk(gov, "bob", "nope", "mi-1", "legacy", None, at(0))
    with pytest.raises(LookupError, match="remediation configuration of rule bare"):
        operations.accept_risk(gov, "bob", "bare", "mi-1", "legacy", None, at(0))
    with pytest.raises(InputError) as unknown:
        operations.accept_risk(gov, "bob", "owned", "mi-404", "legacy", None, at(0))
    assert "mi-404" in str(unknown.value) and "\n" not in str(unknown.value)
    assert world.exceptions == {} and world.states == {}
    assert not [entry for entry in world.audit if "exception" in entry[1]]


def test_pack_documents_belong_to_their_pack() -> None:
    world = World()
    store = governance(world).documents
    tag_rule(world)
    documents.put_rule(
        store, "packed", {"Type": "required-tags", "Parameters": {"TagKeys": ["A"]}}, T0, "p"
    )
    with pytest.raises(InputError, match="belongs to conformance pack 'p'"):
        documents.put_rule(store, "packed", {"Type": "os-supported"}, T0)
    with pytest.raises(InputError, match="belongs to a standalone document"):
        documents.delete_rule(store, "owned", "p")
    assert documents.delete_rule(store, "owned") and not documents.delete_rule(store, "owned")


def _first_locks(world: World) -> list[tuple[str, str]]:
    """The states locked, each at its first lock, as (resource, rule)."""
    seen: list[tuple[str, str]] = []
    for rule, resource in world.locked:
        if (resource, rule) not in seen:
            seen.append((resource, rule))
    return seen


def test_evaluations_lock_remediation_states_by_resource_then_rule() -> None:
    """One lock order for every transaction (PostgreSQL ends one of two transactions that
    wait for each other): a report's evaluation of its node locks the node's states rule
    by rule, so an evaluation of many nodes goes node by node, not rule by rule."""
    world = World(nodes={"mi-2": {}, "mi-1": {}})
    book(world, "install", INSTALL)
    for name in ("b-owned", "a-owned"):
        tag_rule(world, name, Remediation=remediated("install"))
    gov = governance(world)
    evaluation.on_demand(gov, at(0))
    assert _first_locks(world) == [
        ("mi-1", "a-owned"),
        ("mi-1", "b-owned"),
        ("mi-2", "a-owned"),
        ("mi-2", "b-owned"),
    ]


def test_ended_executions_lock_their_states_by_resource_then_rule() -> None:
    """Runbook executions that end in one tick feed their remediation states in that same
    order, whatever order they were started in."""
    world = World(nodes={"mi-1": {}})
    book(world, "install", INSTALL)
    for name in ("b-owned", "a-owned"):
        tag_rule(world, name, Remediation=remediated("install"))
    gov = governance(world)
    evaluation.on_demand(gov, at(0), "b-owned")
    assert remediation_runs.tick(gov, at(0)) == 1  # b's run starts first
    evaluation.on_demand(gov, at(1), "a-owned")
    assert remediation_runs.tick(gov, at(1)) == 1
    finish_commands(world, "Success")
    world.locked.clear()
    assert runbooks.advance(gov, at(2)) == 2
    assert _first_locks(world) == [("mi-1", "a-owned"), ("mi-1", "b-owned")]


def test_webhook_outcomes_lock_their_states_by_resource_then_rule() -> None:
    world = World(nodes={"mi-1": {}})
    book(world, "page", NOTIFY)
    for name in ("b-owned", "a-owned"):
        tag_rule(world, name, Remediation=remediated("page"))
    uow = FakeUnitOfWork(world)
    notifier = FakeNotifier(uow.log, Delivery(error="connection refused"))

    def start(gov: Governance) -> None:  # b's webhook is queued first
        remediation_runs.start_manual(gov, "b-owned", "mi-1", at(0), "alice")
        remediation_runs.start_manual(gov, "a-owned", "mi-1", at(0), "alice")
        world.locked.clear()

    committed(uow, notifier, start, at(0))
    assert len(notifier.sent) == 2
    assert [r["status"] for r in world.runs.values()] == ["FAILED", "FAILED"]
    assert _first_locks(world) == [("mi-1", "a-owned"), ("mi-1", "b-owned")]
