"""Runbook approvals as docs/governance.md shows them: ``Approvers: [alice]`` names tokens;
an approval that would not count (not an approver, nothing waiting, twice) is refused with a
4xx and is not audited as an approval."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fleet_helpers import Api, error_of
from governance_helpers import apply, remediation, rule, runbook


@pytest.fixture(autouse=True)
def _no_background_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHWARDEN_GOVERNANCE_INTERVAL", "0")
    monkeypatch.setenv("PATCHWARDEN_SCHEDULER_INTERVAL", "0")


def _waiting(api: Api, approvers: list[str], required: int = 1) -> dict[str, Any]:
    node = api.register()
    book = runbook(
        "approved-tag",
        [
            {
                "name": "ask",
                "action": "approve",
                "inputs": {"MinRequiredApprovals": required, "Approvers": approvers},
            },
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
    apply(api, book, manual)
    run: dict[str, Any] = api.ok(
        "POST", "/api/v1/remediations", json={"rule": "owned", "resource_id": node.id}
    )
    assert run["execution_status"] == "Waiting"
    return run


def _refusal(response: httpx.Response) -> tuple[int, str]:
    """(status, message) of an error, checking its shape."""
    error_of(response)
    return response.status_code, str(response.json()["error"]["message"])


def _named(api: Api, name: str) -> str:
    made = api.ok("POST", "/api/v1/tokens", json={"name": name, "role": "operator"})
    return str(made["token"])


def _approvals(api: Api) -> list[tuple[str, str]]:
    audit = api.ok("GET", "/api/v1/audit")
    return [
        (e["action"], e["actor"])
        for e in audit
        if e["action"] in ("remediation.approve", "remediation.reject")
    ]


@pytest.mark.parametrize("entry", ["alice", "token:alice"])
def test_documented_approver_names_count(api: Api, entry: str) -> None:
    alice = _named(api, "alice")
    run = _waiting(api, [entry, "bob"])
    done = api.ok("POST", f"/api/v1/remediations/{run['id']}/approve", alice, json={})
    assert (done["status"], done["execution_status"]) == ("SUCCEEDED", "Success")
    assert _approvals(api) == [("remediation.approve", "token:alice")]


def test_an_approval_that_does_not_count_is_refused_and_not_audited(api: Api) -> None:
    alice, carol = _named(api, "alice"), _named(api, "carol")
    run = _waiting(api, ["alice", "bob"], required=2)
    url = f"/api/v1/remediations/{run['id']}/approve"
    status, message = _refusal(api.call("POST", url, carol, json={}))
    assert status == 403 and "alice" in message and "token:carol" in message
    assert "\n" not in message
    rejected = api.call("POST", url, carol, json={"approve": False})
    assert error_of(rejected)[0] == 403
    assert api.ok("POST", url, alice, json={})["execution_status"] == "Waiting"
    twice = api.call("POST", url, alice, json={})
    status, message = _refusal(twice)
    assert status == 400 and "already approved" in message
    assert _approvals(api) == [("remediation.approve", "token:alice")]


def test_approving_a_finished_execution_is_refused(api: Api) -> None:
    alice = _named(api, "alice")
    run = _waiting(api, ["alice"])
    url = f"/api/v1/remediations/{run['id']}/approve"
    api.ok("POST", url, alice, json={})
    again = api.call("POST", url, alice, json={})
    status, message = _refusal(again)
    assert status == 400 and "not waiting for an approval" in message
    assert len(_approvals(api)) == 1
