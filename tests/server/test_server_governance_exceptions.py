"""PutRemediationExceptions refuses what does not exist: an unknown rule or a rule without
a remediation configuration (404), an unknown node (400 naming it); nothing is stored."""

from __future__ import annotations

import pytest
from fleet_helpers import Api, error_of
from governance_helpers import TAG_RULE, TAG_RUNBOOK, apply, rule

EXCEPTIONS = "/api/v1/remediation-exceptions"


@pytest.fixture(autouse=True)
def _no_background_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHWARDEN_GOVERNANCE_INTERVAL", "0")
    monkeypatch.setenv("PATCHWARDEN_SCHEDULER_INTERVAL", "0")


def _body(rule_name: str, resource_id: str) -> dict[str, str]:
    return {"rule": rule_name, "resource_id": resource_id, "reason": "legacy box"}


def test_exceptions_for_unknown_rules_or_nodes_are_refused(api: Api) -> None:
    node = api.register()
    bare = rule("bare-rule", {"Type": "required-tags", "Parameters": {"TagKeys": ["Owner"]}})
    apply(api, TAG_RUNBOOK, TAG_RULE, bare)
    unknown_rule = api.call("POST", EXCEPTIONS, json=_body("no-such-rule", node.id))
    assert error_of(unknown_rule) == (404, "not_found")
    assert "no-such-rule" in unknown_rule.json()["error"]["message"]
    no_remediation = api.call("POST", EXCEPTIONS, json=_body("bare-rule", node.id))
    assert error_of(no_remediation) == (404, "not_found")
    assert "bare-rule" in no_remediation.json()["error"]["message"]
    unknown_node = api.call("POST", EXCEPTIONS, json=_body("patch-group-tag", "mi-0000nope"))
    assert error_of(unknown_node) == (400, "invalid_request")
    message = unknown_node.json()["error"]["message"]
    assert "mi-0000nope" in message and "\n" not in message
    assert api.ok("GET", EXCEPTIONS)["exceptions"] == []
    listing = api.ok("GET", "/api/v1/remediations")
    assert all(s["resource_id"] != "mi-0000nope" for s in listing["states"])
    audit = api.ok("GET", "/api/v1/audit", params={"action": "remediation.exception"})
    assert audit == []
    # a known node on a rule with a remediation is still accepted
    api.ok("POST", EXCEPTIONS, json=_body("patch-group-tag", node.id))
    (accepted,) = api.ok("GET", EXCEPTIONS)["exceptions"]
    assert accepted["resource_id"] == node.id and accepted["manual"]
