"""Governance over the API on SQLite and PostgreSQL: rules evaluated on change, automatic
remediation (tags, RunPatchBaseline through the agent), attempts and exceptions, approvals,
roles, conformance packs and their score."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fleet_helpers import Api, error_of, scan_report
from governance_helpers import (
    INSTALL_RUNBOOK,
    PATCH_RULE,
    TAG_RULE,
    TAG_RUNBOOK,
    apply,
    latest,
    remediation,
    rule,
    runbook,
    tick,
)

EXAMPLES = Path(__file__).parents[2] / "examples" / "conformance-packs"


@pytest.fixture(autouse=True)
def _no_background_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHWARDEN_GOVERNANCE_INTERVAL", "0")
    monkeypatch.setenv("PATCHWARDEN_SCHEDULER_INTERVAL", "0")


def test_missing_tag_is_remediated_automatically(api: Api) -> None:
    node = api.register(tags={"Env": "prod"})
    tagged = api.register(tags={"Patch Group": "web"})
    result = apply(api, TAG_RUNBOOK, TAG_RULE)
    assert [r["result"] for r in result["applied"]] == ["created", "created"]
    # evaluated once on creation
    assert latest(api, "patch-group-tag", node.id) == "NON_COMPLIANT"
    assert latest(api, "patch-group-tag", tagged.id) == "COMPLIANT"
    counts = tick(api)
    assert counts["remediations_started"] == 1
    got = api.ok("GET", f"/api/v1/nodes/{node.id}")
    assert got["tags"]["Patch Group"] == "default"
    # the tag change re-evaluated the change-triggered rule
    assert latest(api, "patch-group-tag", node.id) == "COMPLIANT"
    runs = api.ok("GET", "/api/v1/remediations")["remediations"]
    assert [(r["resource_id"], r["status"], r["execution_status"]) for r in runs] == [
        (node.id, "SUCCEEDED", "Success")
    ]
    history = api.ok("GET", "/api/v1/evaluations", params={"resource_id": node.id})
    assert [e["compliance"] for e in history["evaluations"]] == ["COMPLIANT", "NON_COMPLIANT"]
    audit = api.ok("GET", "/api/v1/audit")
    assert any(e["action"] == "node.tags" for e in audit)


def test_patch_compliance_remediated_through_the_agent(api: Api) -> None:
    node = api.register(tags={"Patch Group": "web"})
    apply(api, INSTALL_RUNBOOK, PATCH_RULE)
    assert latest(api, "patched", node.id) == "INSUFFICIENT_DATA"
    api.send(InstanceIds=[node.id])
    (scan,) = node.poll()
    assert (
        node.report(scan["invocation_id"], report=scan_report("NON_COMPLIANT")).status_code == 200
    )
    assert latest(api, "patched", node.id) == "NON_COMPLIANT"
    tick(api)
    (install,) = node.poll()
    assert install["parameters"]["Operation"] == "Install"
    report = scan_report("COMPLIANT", missing=0)
    assert node.report(install["invocation_id"], report=report).status_code == 200
    assert latest(api, "patched", node.id) == "COMPLIANT"
    tick(api)
    (run,) = api.ok("GET", "/api/v1/remediations")["remediations"]
    assert (run["status"], run["execution_status"]) == ("SUCCEEDED", "Success")
    steps = api.ok("GET", f"/api/v1/runbook-executions/{run['execution_id']}")["steps"]
    assert steps[0]["status"] == "Success" and steps[0]["outputs"]["Status"] == "Success"


def test_always_failing_runbook_stops_and_records_an_exception(api: Api) -> None:
    node = api.register()
    failing = runbook(
        "notify-nowhere",
        [{"name": "tell", "action": "notify", "inputs": {"Destination": "nowhere"}}],
    )
    settings = {
        "WebhookDestinations": {"nowhere": "http://127.0.0.1:9/hook"},
        "AllowHttpDestinations": True,
        "AllowPrivateDestinations": True,
    }
    api.ok("PUT", "/api/v1/governance/settings", json=settings)
    doc = rule(
        "tagged",
        {
            "Type": "required-tags",
            "Parameters": {"TagKeys": ["Owner"]},
            "Remediation": remediation(
                "notify-nowhere", MaximumAutomaticAttempts=2, RetryAttemptSeconds=20
            ),
        },
    )
    apply(api, failing, doc)
    started = 0
    for _ in range(6):
        started += tick(api)["remediations_started"]
        api.clock.advance(30)
    assert started == 2
    listing = api.ok("GET", "/api/v1/remediations")
    assert [r["status"] for r in listing["remediations"]] == ["FAILED", "FAILED"]
    (exc,) = listing["exceptions"]
    assert exc["resource_id"] == node.id and not exc["manual"]
    assert listing["states"][0]["phase"] == "EXCEPTION"
    # lifting it gives fresh attempts
    api.ok("DELETE", f"/api/v1/remediation-exceptions/tagged/{node.id}")
    assert tick(api)["remediations_started"] == 1


def test_manual_start_with_approval_and_roles(api: Api) -> None:
    node = api.register()
    approval = runbook(
        "approved-tag",
        [
            {"name": "ask", "action": "approve", "inputs": {"MinRequiredApprovals": 1}},
            {
                "name": "tag",
                "action": "addTags",
                "inputs": {"NodeId": "{{NodeId}}", "Tags": {"Owner": "ops"}},
            },
        ],
    )
    manual = rule(
        "owned",
        {
            "Type": "required-tags",
            "Parameters": {"TagKeys": ["Owner"]},
            "Remediation": remediation("approved-tag", Automatic=False),
        },
    )
    viewer, operator = api.token("viewer"), api.token("operator")
    assert error_of(api.call("POST", "/api/v1/apply", viewer, json=[approval]))[0] == 403
    apply(api, approval, manual, token=operator)
    assert tick(api)["remediations_started"] == 0  # manual configuration
    body = {"rule": "owned", "resource_id": node.id}
    assert api.call("POST", "/api/v1/remediations", viewer, json=body).status_code == 403
    run = api.ok("POST", "/api/v1/remediations", operator, json=body)
    assert run["execution_status"] == "Waiting"
    assert api.ok("GET", "/api/v1/remediations", viewer)["remediations"][0]["manual"]
    done = api.ok("POST", f"/api/v1/remediations/{run['id']}/approve", operator, json={})
    assert (done["status"], done["execution_status"]) == ("SUCCEEDED", "Success")
    assert latest(api, "owned", node.id) == "COMPLIANT"
    again = api.call("POST", f"/api/v1/remediations/{run['id']}/approve", operator, json={})
    assert error_of(again)[0] == 400


def test_shell_needs_an_admin_switch(api: Api) -> None:
    operator = api.token("operator")
    body = {"RunShellScriptEnabled": True}
    assert api.call("PUT", "/api/v1/governance/settings", operator, json=body).status_code == 403
    assert api.ok("PUT", "/api/v1/governance/settings", json=body).items() >= body.items()
    assert api.ok("GET", "/api/v1/governance/settings", operator).items() >= body.items()


def test_bad_documents_are_400_naming_the_field(api: Api) -> None:
    bad = rule("x", {"Type": "required-tags", "Parameters": {"TagKeys": 5}})
    r = api.call("POST", "/api/v1/apply", json=[bad])
    assert r.status_code == 400 and "spec.Parameters.TagKeys" in r.json()["error"]["message"]
    bad_book = runbook("b", [{"name": "s", "action": "reboot"}])
    r = api.call("POST", "/api/v1/apply", json=[bad_book])
    assert r.status_code == 400 and "mainSteps[0].action" in r.json()["error"]["message"]
    assert api.call("GET", "/api/v1/rules/nope").status_code == 404


def test_risk_acceptance_blocks_automatic_runs(api: Api) -> None:
    node = api.register()
    apply(api, TAG_RUNBOOK, TAG_RULE)
    body = {
        "rule": "patch-group-tag",
        "resource_id": node.id,
        "reason": "legacy box",
        "expires_at": "2026-03-08T00:00:00Z",
    }
    api.ok("POST", "/api/v1/remediation-exceptions", json=body)
    assert tick(api)["remediations_started"] == 0
    (exc,) = api.ok("GET", "/api/v1/remediation-exceptions")["exceptions"]
    assert exc["manual"] and exc["reason"] == "legacy box"
    api.clock.advance(8 * 86400)
    tick(api)  # expired: marked again
    assert tick(api)["remediations_started"] == 1


def test_conformance_pack_score_rises(api: Api) -> None:
    untagged = api.register()
    api.register(tags={"Patch Group": "web"})
    pack = yaml.safe_load((EXAMPLES / "patching-essentials.yaml").read_text())
    apply(api, pack)
    score = api.ok("GET", "/api/v1/conformance-packs/patching-essentials/score")
    assert score["rules"]["essentials-patch-compliance"] == "INSUFFICIENT_DATA"
    assert score["rules"]["essentials-patch-group-tag"] == "NON_COMPLIANT"
    before = score["score"]
    api.clock.advance(301)  # the grace period of the pack's remediations is 300 s (tags: 0)
    tick(api)
    assert api.ok("GET", f"/api/v1/nodes/{untagged.id}")["tags"]["Patch Group"] == "default"
    after = api.ok("GET", "/api/v1/conformance-packs/patching-essentials/score")
    assert after["score"] > before and after["score"] == 100.0
    assert after["compliance"] == "COMPLIANT"
    # pack rules cannot be changed one by one
    lone = rule("essentials-os-supported", {"Type": "os-supported"})
    assert error_of(api.call("POST", "/api/v1/apply", json=[lone]))[0] == 400
    api.ok("DELETE", "/api/v1/conformance-packs/patching-essentials")
    assert api.ok("GET", "/api/v1/rules")["rules"] == []
