"""Governance triggers and controls over the API (SQLite and PostgreSQL): periodic rules,
execution controls across nodes, runbook timers, and what viewers may read."""

from __future__ import annotations

import pytest
from fleet_helpers import Api
from governance_helpers import TAG_RUNBOOK, apply, remediation, rule, runbook, tick


@pytest.fixture(autouse=True)
def _no_background_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHWARDEN_GOVERNANCE_INTERVAL", "0")
    monkeypatch.setenv("PATCHWARDEN_SCHEDULER_INTERVAL", "0")


def triggers(api: Api, name: str) -> list[str]:
    found = api.ok("GET", "/api/v1/evaluations", params={"rule": name})["evaluations"]
    return [e["trigger"] for e in found]


def test_periodic_rule_runs_at_its_frequency(api: Api) -> None:
    api.register()
    periodic = rule(
        "online",
        {
            "Type": "managed-node-online",
            "Trigger": {"Periodic": True, "MaximumExecutionFrequency": "One_Hour"},
        },
    )
    apply(api, periodic)
    assert triggers(api, "online") == ["Created"]
    tick(api)  # first periodic run
    api.clock.advance(1800)
    tick(api)  # not yet due again
    assert triggers(api, "online") == ["ScheduledNotification", "Created"]
    api.clock.advance(1800)
    tick(api)
    assert triggers(api, "online")[0] == "ScheduledNotification"
    assert len(triggers(api, "online")) == 3
    # periodic only: a new node is not evaluated on registration
    api.register()
    assert len(triggers(api, "online")) == 3


def test_concurrency_percentage_limits_runs_across_nodes(api: Api) -> None:
    nodes = [api.register() for _ in range(4)]
    slow = runbook(
        "slow-tag",
        [
            {"name": "wait", "action": "sleep", "inputs": {"Duration": "PT10M"}},
            {
                "name": "tag",
                "action": "addTags",
                "inputs": {"NodeId": "{{NodeId}}", "Tags": {"Patch Group": "default"}},
            },
        ],
    )
    controls = {"SsmControls": {"ConcurrentExecutionRatePercentage": 50}}
    doc = rule(
        "group",
        {
            "Type": "required-tags",
            "Parameters": {"TagKeys": ["Patch Group"]},
            "Remediation": remediation("slow-tag", ExecutionControls=controls),
        },
    )
    apply(api, slow, doc)
    assert tick(api)["remediations_started"] == 2  # 50 % of 4 nodes
    assert tick(api)["remediations_started"] == 0
    api.clock.advance(600)
    counts = tick(api)  # the two sleeping runs end (tags added), the next two start
    assert counts["remediations_started"] == 2
    api.clock.advance(600)
    tick(api)
    tagged = [api.ok("GET", f"/api/v1/nodes/{n.id}")["tags"].get("Patch Group") for n in nodes]
    assert tagged == ["default"] * 4


def test_execution_view_shows_steps_and_a_timeout(api: Api) -> None:
    node = api.register()
    book = runbook(
        "wait-forever",
        [
            {
                "name": "confirm",
                "action": "waitForCompliance",
                "timeoutSeconds": 60,
                "inputs": {"NodeId": "{{NodeId}}", "RuleName": "group"},
            },
            {"name": "never", "action": "sleep", "inputs": {"Duration": 1}},
        ],
    )
    doc = rule(
        "group",
        {
            "Type": "required-tags",
            "Parameters": {"TagKeys": ["Patch Group"]},
            "Remediation": remediation("wait-forever", Automatic=False),
        },
    )
    apply(api, book, doc, TAG_RUNBOOK)
    viewer = api.token("viewer")
    run = api.ok("POST", "/api/v1/remediations", json={"rule": "group", "resource_id": node.id})
    tick(api)
    view = api.ok("GET", f"/api/v1/runbook-executions/{run['execution_id']}", viewer)
    assert view["status"] == "InProgress" and view["steps"][0]["waiting"]["desired"] == "COMPLIANT"
    api.clock.advance(60)
    tick(api)
    view = api.ok("GET", f"/api/v1/runbook-executions/{run['execution_id']}", viewer)
    assert view["status"] == "TimedOut"
    assert [s["status"] for s in view["steps"]] == ["TimedOut", "Pending"]
    (done,) = api.ok("GET", "/api/v1/remediations", viewer)["remediations"]
    assert done["status"] == "FAILED"


def test_a_broken_custom_rule_never_fails_the_agent(api: Api) -> None:
    from datetime import datetime

    from patchwarden import rule_plugins
    from patchwarden.core.rules import Evaluation, NodeSnapshot, RuleType

    def boom(node: NodeSnapshot, params: object, now: datetime) -> Evaluation:
        raise RuntimeError("plugin bug")

    custom = RuleType("boom", "always raises", (), boom)
    try:
        rule_plugins.load_custom_rule_types([("boom", custom)])
        apply(api, rule("broken", {"Type": "boom"}))
        node = api.register()  # the change trigger runs the broken rule
        (latest,) = api.ok("GET", "/api/v1/evaluations", params={"resource_id": node.id})[
            "evaluations"
        ]
        assert latest["compliance"] == "INSUFFICIENT_DATA"
        assert "plugin bug" in latest["annotation"]
    finally:
        rule_plugins.load_custom_rule_types()
