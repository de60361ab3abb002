"""The console's governance pages over HTTP on SQLite and PostgreSQL: rules and packs with
the API's scores, the trend rebuilt from the evaluation history, the remediation queue
(pending automatic runs with their start time), approvals and exceptions as the API's use
cases do them (audited), roles and CSRF."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from console_helpers import csrf, metric, signed_in
from fleet_helpers import Api
from governance_helpers import apply, remediation, rule, runbook, tick

from patchwarden.server.web.render import when

EXAMPLES = Path(__file__).parents[2] / "examples" / "conformance-packs"
QUEUE = "/governance/remediations"
DAY = 86400


@pytest.fixture(autouse=True)
def _no_background_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHWARDEN_GOVERNANCE_INTERVAL", "0")
    monkeypatch.setenv("PATCHWARDEN_SCHEDULER_INTERVAL", "0")


def score_of(html: str, name: str) -> str:
    found = re.search(rf'data-metric="{re.escape(name)}" data-score="([^"]*)"', html)
    assert found, name
    return found.group(1)


def pairs(api: Api) -> tuple[int, int]:
    """(compliant, non-compliant) (rule, node) pairs of every rule, from the API."""
    verdicts = [
        v
        for r in api.ok("GET", "/api/v1/rule-compliance")["rules"]
        for v in r["resources"].values()
    ]
    return verdicts.count("COMPLIANT"), verdicts.count("NON_COMPLIANT")


def test_without_rules_the_page_says_there_is_no_history(api: Api) -> None:
    html = signed_in(api).get("/governance").text
    assert "No conformance pack is deployed" in html
    assert "No evaluation history yet" in html
    assert 'aria-current="page">Governance' in html


def test_scores_and_trend_are_the_apis(api: Api) -> None:
    untagged = api.register()
    api.register(tags={"Patch Group": "web"})
    pack = yaml.safe_load((EXAMPLES / "patching-essentials.yaml").read_text())
    apply(api, pack)
    client = signed_in(api)
    html = client.get("/governance").text
    (listed,) = api.ok("GET", "/api/v1/conformance-packs")["packs"]
    score = api.ok("GET", "/api/v1/conformance-packs/patching-essentials/score")
    assert listed["score"] == score["score"] and isinstance(score["score"], float)
    assert float(score_of(html, "pack-score-patching-essentials")) == score["score"]
    assert metric(html, "pack-compliant-patching-essentials") == score["compliant_pairs"]
    assert metric(html, "pack-non-compliant-patching-essentials") == score["non_compliant_pairs"]
    for r in api.ok("GET", "/api/v1/rules")["rules"]:
        for kind, n in r["counts"].items():
            assert metric(html, f"rule-{r['name']}-{kind}") == n
        assert (
            f'data-rule-compliance="{r["name"]}">{r["compliance"].replace("_", " ").lower()}'
            in (html)
        )
    # today's trend point is the score now; the days before the first evaluation have none
    first = api.clock.now().date()
    compliant, non_compliant = pairs(api)
    assert metric(html, f"trend-compliant-{first}") == compliant
    assert metric(html, f"trend-non-compliant-{first}") == non_compliant
    assert float(score_of(html, f"trend-score-{first}")) == _overall(api)
    before = first - timedelta(days=1)
    assert metric(html, f"trend-compliant-{before}") == 0
    assert "no evaluations yet" in html
    assert 'role="img" aria-label="Rule evaluations per day' in html

    # the grace period over, the remediation tags the node: the score rises the same day
    api.clock.advance(301)
    tick(api)
    assert api.ok("GET", f"/api/v1/nodes/{untagged.id}")["tags"]["Patch Group"] == "default"
    risen = api.ok("GET", "/api/v1/conformance-packs/patching-essentials/score")
    assert risen["score"] > score["score"]
    html = client.get("/governance").text
    assert float(score_of(html, "pack-score-patching-essentials")) == risen["score"]
    assert float(score_of(html, f"trend-score-{first}")) == _overall(api)
    first_day = pairs(api), _overall(api)

    # two days later the nodes are offline (agent-online fails): today is the API's score
    # now, the first day keeps the results it had at its end
    api.clock.advance(2 * DAY)
    tick(api)
    html = client.get("/governance").text
    after = api.ok("GET", "/api/v1/conformance-packs/patching-essentials/score")
    assert after["score"] != risen["score"]
    today = api.clock.now().date()
    assert float(score_of(html, "pack-score-patching-essentials")) == after["score"]
    assert float(score_of(html, f"trend-score-{today}")) == _overall(api)
    compliant_now, non_compliant_now = pairs(api)
    assert metric(html, f"trend-compliant-{today}") == compliant_now
    assert metric(html, f"trend-non-compliant-{today}") == non_compliant_now
    (compliant, non_compliant), overall = first_day
    assert metric(html, f"trend-compliant-{first}") == compliant
    assert metric(html, f"trend-non-compliant-{first}") == non_compliant
    assert float(score_of(html, f"trend-score-{first}")) == overall
    # the pack's column of the trend: its score at the end of the first day and today
    pack = "patching-essentials"
    assert float(score_of(html, f"trend-pack-{pack}-{today}")) == after["score"]
    assert float(score_of(html, f"trend-pack-{pack}-{first}")) == risen["score"]
    assert score_of(html, f"trend-pack-{pack}-{before}") == "None"


def _overall(api: Api) -> float:
    compliant, non_compliant = pairs(api)
    return round(100.0 * compliant / (compliant + non_compliant), 2)


APPROVED_INSTALL = runbook(
    "approved-install",
    [
        {"name": "ask", "action": "approve", "inputs": {"MinRequiredApprovals": 1}},
        {
            "name": "install",
            "action": "runCommand",
            "inputs": {
                "DocumentName": "RunPatchBaseline",
                "NodeId": "{{NodeId}}",
                "Parameters": {"Operation": "Install"},
            },
        },
    ],
)
OWNED = rule(
    "owned",
    {
        "Type": "required-tags",
        "Parameters": {"TagKeys": ["Owner"]},
        "Remediation": remediation("approved-install", GracePeriodSeconds=300),
    },
)


def _pending_install(api: Api) -> Any:
    node = api.register(name="db7")
    apply(api, APPROVED_INSTALL, OWNED)
    return node


def test_a_pending_automatic_install_shows_its_start_time_and_target(api: Api) -> None:
    node = _pending_install(api)
    (pending,) = api.ok("GET", "/api/v1/remediations")["pending"]
    html = signed_in(api).get(QUEUE).text
    assert metric(html, "pending") == 1
    row = re.search(rf'data-pending="owned/{node.id}".*?</tr>', html, re.S)
    assert row, html
    shown = row.group(0)
    due = api.clock.now() + timedelta(seconds=300)
    assert pending["due_at"] == due.isoformat()
    assert f'data-due="{pending["due_at"]}"' in shown and when(due) in shown
    assert "in 5 min" in shown
    assert f'href="/nodes/{node.id}">db7</a>' in shown
    assert "approved-install" in shown and "RunPatchBaseline Install, RebootIfNeeded" in shown
    assert 'id="queue" data-refresh="5"' in html

    # once due, the server starts it: no longer pending, the run waits for its approval
    api.clock.advance(301)
    tick(api)
    html = signed_in(api).get(QUEUE).text
    assert api.ok("GET", "/api/v1/remediations")["pending"] == []
    assert metric(html, "pending") == 0
    (run,) = api.ok("GET", "/api/v1/remediations")["remediations"]
    assert f'data-awaiting="{run["id"]}"' in html
    assert metric(html, "in-progress") == sum(
        1 for r in api.ok("GET", "/api/v1/remediations")["remediations"]
        if r["status"] in ("QUEUED", "IN_PROGRESS")
    )  # fmt: skip


def _waiting_run(api: Api) -> dict[str, Any]:
    _pending_install(api)
    api.clock.advance(301)
    tick(api)
    (run,) = api.ok("GET", "/api/v1/remediations")["remediations"]
    assert run["execution_status"] == "Waiting"
    return dict(run)


def test_a_viewer_sees_no_approval_button_and_cannot_post(api: Api) -> None:
    run = _waiting_run(api)
    client = signed_in(api, "viewer")
    html = client.get(QUEUE).text
    assert f'data-awaiting="{run["id"]}"' in html
    assert f'action="{QUEUE}/{run["id"]}/approve"' not in html
    assert "Record exception" not in html and ">Lift<" not in html
    r = client.post(f"{QUEUE}/{run['id']}/approve", data={"csrf": csrf(html)})
    assert r.status_code == 403 and "operator role" in r.text
    assert api.ok("GET", "/api/v1/remediations")["remediations"][0]["execution_status"] == (
        "Waiting"
    )


def test_an_operator_approves_from_the_page_as_the_api_does(api: Api) -> None:
    run = _waiting_run(api)
    client = signed_in(api, "operator")
    html = client.get(QUEUE).text
    form = f'action="{QUEUE}/{run["id"]}/approve"'
    assert form in html and 'value="approve"' in html
    # no CSRF token: refused, nothing approved
    r = client.post(f"{QUEUE}/{run['id']}/approve", data={"decision": "approve"})
    assert r.status_code == 403 and "security token" in r.text
    assert api.ok("GET", "/api/v1/remediations")["remediations"][0]["execution_status"] == (
        "Waiting"
    )
    r = client.post(
        f"{QUEUE}/{run['id']}/approve",
        data={"csrf": csrf(html), "decision": "approve", "comment": "go"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith(f"{QUEUE}?done=")
    (after,) = api.ok("GET", "/api/v1/remediations")["remediations"]
    assert after["execution_status"] == "InProgress"
    steps = api.ok("GET", f"/api/v1/runbook-executions/{after['execution_id']}")["steps"]
    assert (steps[0]["name"], steps[0]["status"]) == ("ask", "Success")
    (entry,) = api.ok("GET", "/api/v1/audit", params={"action": "remediation.approve"})
    assert entry["actor"] == "token:t-operator" and entry["target"] == run["id"]
    shown = client.get(r.headers["location"]).text
    assert 'class="notice" role="status"' in shown and "approved" in shown
    assert form not in shown
    # approving again is refused as the API refuses it: the page says why (400)
    again = client.post(
        f"{QUEUE}/{run['id']}/approve", data={"csrf": csrf(html), "decision": "approve"}
    )
    assert again.status_code == 400 and "not waiting for an approval" in again.text
    assert 'role="alert"' in again.text and "Traceback" not in again.text


def test_an_operator_rejects_from_the_page(api: Api) -> None:
    run = _waiting_run(api)
    client = signed_in(api, "operator")
    html = client.get(QUEUE).text
    r = client.post(
        f"{QUEUE}/{run['id']}/approve",
        data={"csrf": csrf(html), "decision": "reject"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    (after,) = api.ok("GET", "/api/v1/remediations")["remediations"]
    assert after["execution_status"] != "Waiting" and after["status"] != "IN_PROGRESS"
    assert api.ok("GET", "/api/v1/audit", params={"action": "remediation.reject"})


def test_exceptions_from_the_page_are_the_apis(api: Api) -> None:
    node = _pending_install(api)
    client = signed_in(api, "operator")
    html = client.get(QUEUE).text
    assert "Record exception" in html
    token = csrf(html)
    # refused inputs are shown on the page, nothing stored
    bad = client.post(
        f"{QUEUE}/exceptions",
        data={"csrf": token, "rule": "owned", "resource_id": "mi-00000000000000000", "reason": "x"},
    )
    assert bad.status_code == 400 and "no such node" in bad.text
    bad = client.post(
        f"{QUEUE}/exceptions",
        data={"csrf": token, "rule": "owned", "resource_id": node.id, "reason": "x",
              "expires_at": "soon"},
    )  # fmt: skip
    assert bad.status_code == 400 and "not a date and time" in bad.text
    assert api.ok("GET", "/api/v1/remediation-exceptions")["exceptions"] == []
    r = client.post(
        f"{QUEUE}/exceptions",
        data={"csrf": token, "rule": "owned", "resource_id": node.id, "reason": "legacy box",
              "expires_at": "2026-03-08T00:00"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    (exc,) = api.ok("GET", "/api/v1/remediation-exceptions")["exceptions"]
    assert exc["manual"] and exc["reason"] == "legacy box"
    assert exc["expires_at"].startswith("2026-03-08T00:00:00")
    assert api.ok("GET", "/api/v1/audit", params={"action": "remediation.exception"})
    html = client.get(QUEUE).text
    assert f'data-exception="owned/{node.id}"' in html
    assert metric(html, "pending") == len(api.ok("GET", "/api/v1/remediations")["pending"]) == 0
    # lifted from the page: automatic remediation resumes
    r = client.post(
        f"{QUEUE}/exceptions/delete",
        data={"csrf": token, "rule": "owned", "resource_id": node.id},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert api.ok("GET", "/api/v1/remediation-exceptions")["exceptions"] == []
    assert api.ok("GET", "/api/v1/audit", params={"action": "remediation.exception.delete"})
    missing = client.post(
        f"{QUEUE}/exceptions/delete", data={"csrf": token, "rule": "owned", "resource_id": node.id}
    )
    assert missing.status_code == 404
    # a viewer cannot record one
    viewer = signed_in(api, "viewer")
    page = viewer.get(QUEUE).text
    r = viewer.post(
        f"{QUEUE}/exceptions",
        data={"csrf": csrf(page), "rule": "owned", "resource_id": node.id, "reason": "x"},
    )
    assert r.status_code == 403
    assert api.ok("GET", "/api/v1/remediation-exceptions")["exceptions"] == []


def test_the_trend_counts_the_nodes_and_rules_the_api_counts(api: Api) -> None:
    gone = api.register()
    api.register(tags={"Patch Group": "web"})
    tag_rule = rule(
        "grouped",
        {"Type": "required-tags", "Parameters": {"TagKeys": ["Patch Group"]}},
    )
    os_rule = rule("supported", {"Type": "os-supported"})
    apply(api, tag_rule, os_rule)
    client = signed_in(api)
    today = api.clock.now().date()
    html = client.get("/governance").text
    assert (
        metric(html, f"trend-compliant-{today}"),
        metric(html, f"trend-non-compliant-{today}"),
    ) == pairs(api)
    # a deregistered node leaves the API's results: the trend too, for every day
    api.ok("DELETE", f"/api/v1/nodes/{gone.id}")
    api.ok("DELETE", "/api/v1/rules/supported")
    html = client.get("/governance").text
    assert pairs(api) == (1, 0)
    assert metric(html, f"trend-compliant-{today}") == 1
    assert metric(html, f"trend-non-compliant-{today}") == 0
    assert float(score_of(html, f"trend-score-{today}")) == 100.0
    # a rule created again under a deleted rule's name starts a new history
    api.clock.advance(DAY)
    apply(api, os_rule)
    html = client.get("/governance").text
    assert metric(html, f"trend-compliant-{today}") == 1  # grouped only, the day before
    tomorrow = api.clock.now().date()
    assert (
        metric(html, f"trend-compliant-{tomorrow}"),
        metric(html, f"trend-non-compliant-{tomorrow}"),
    ) == pairs(api)
