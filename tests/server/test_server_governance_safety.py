"""Outbound webhooks go only to admin-configured destinations and show nothing of what
answered; applying documents says what they will do on their own, and the remediation
listing shows the automatic starts still to come (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fleet_helpers import Api, error_of
from governance_helpers import TAG_RUNBOOK, apply, remediation, rule, runbook

from patchwarden.server import governance

SETTINGS = "/api/v1/governance/settings"
EXAMPLES = Path(__file__).parents[2] / "examples" / "conformance-packs"


def refusal(response: httpx.Response) -> tuple[int, str]:
    """(status, error message) of a refused request."""
    status, _ = error_of(response)
    return status, str(response.json()["error"]["message"])


@pytest.fixture(autouse=True)
def _no_background_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHWARDEN_GOVERNANCE_INTERVAL", "0")
    monkeypatch.setenv("PATCHWARDEN_SCHEDULER_INTERVAL", "0")


class _Secretive(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"internal-admin-console v1.2 secret-banner"
        self.send_response(500, "Internal Thing Exploded")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def secretive() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Secretive)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def test_destinations_are_an_admin_setting_checked_when_set(api: Api) -> None:
    operator, viewer = api.token("operator"), api.token("viewer")
    body = {"WebhookDestinations": {"ops-chat": "https://hooks.example/T000/secret"}}
    assert api.call("PUT", SETTINGS, operator, json=body).status_code == 403
    for bad, words in (
        ({"ops": "http://hooks.example/x"}, "https://"),
        ({"ops": "https://169.254.169.254/latest"}, "private range"),
        ({"ops": "https://10.0.0.8/x"}, "private range"),
        ({"ops": "https://[::1]/x"}, "private range"),
        ({"no spaces": "https://hooks.example/x"}, "a name is"),
    ):
        status, message = refusal(api.call("PUT", SETTINGS, json={"WebhookDestinations": bad}))
        assert status == 400 and words in message, message
    answer = api.ok("PUT", SETTINGS, json=body)
    assert answer["WebhookDestinations"] == body["WebhookDestinations"]
    assert (answer["AllowHttpDestinations"], answer["AllowPrivateDestinations"]) == (False, False)
    # other roles see where a destination points, not its secret path
    seen = api.ok("GET", SETTINGS, viewer)
    assert seen["WebhookDestinations"] == {"ops-chat": "https://hooks.example/…"}
    # a partial PUT keeps the rest
    api.ok("PUT", SETTINGS, json={"RunShellScriptEnabled": False})
    assert api.ok("GET", SETTINGS)["WebhookDestinations"] == body["WebhookDestinations"]
    loopback = {
        "WebhookDestinations": {"local": "http://127.0.0.1:9/x"},
        "AllowHttpDestinations": True,
        "AllowPrivateDestinations": True,
    }
    assert api.ok("PUT", SETTINGS, json=loopback)["WebhookDestinations"] == {
        "local": "http://127.0.0.1:9/x"
    }
    # switching a switch off again is refused while a destination still needs it
    status, message = refusal(api.call("PUT", SETTINGS, json={"AllowHttpDestinations": False}))
    assert status == 400 and "local" in message


def test_a_runbook_gives_a_destination_never_a_url(api: Api) -> None:
    by_url = runbook(
        "page", [{"name": "tell", "action": "notify", "inputs": {"Url": "http://10.0.0.1:22/"}}]
    )
    status, message = refusal(api.call("POST", "/api/v1/apply", json=[by_url]))
    assert status == 400 and "not a Url" in message and "\n" not in message
    unknown = runbook(
        "page", [{"name": "tell", "action": "notify", "inputs": {"Destination": "ops-chat"}}]
    )
    status, message = refusal(api.call("POST", "/api/v1/apply", json=[unknown]))
    assert (status, message) == (
        400,
        "runbook page: step tell: webhook destination 'ops-chat' is not configured",
    )
    api.ok("PUT", SETTINGS, json={"WebhookDestinations": {"ops-chat": "https://hooks.example/"}})
    api.ok("POST", "/api/v1/apply", json=[unknown])


def test_a_step_shows_nothing_of_what_answered(api: Api, secretive: str) -> None:
    settings = {
        "WebhookDestinations": {"ops-chat": secretive},
        "AllowHttpDestinations": True,
        "AllowPrivateDestinations": True,
    }
    api.ok("PUT", SETTINGS, json=settings)
    page = runbook(
        "page", [{"name": "tell", "action": "notify", "inputs": {"Destination": "ops-chat"}}]
    )
    owned = rule(
        "owned",
        {
            "Type": "required-tags",
            "Parameters": {"TagKeys": ["Owner"]},
            "Remediation": remediation("page"),
        },
    )
    api.register()
    apply(api, page, owned)
    db = api.client.app.state.db
    assert governance.tick(db, api.clock.now())["remediations_started"] == 1  # the real notifier
    (run,) = api.ok("GET", "/api/v1/remediations")["remediations"]
    view = api.ok("GET", f"/api/v1/runbook-executions/{run['execution_id']}")
    (step,) = view["steps"]
    assert (step["status"], step["message"]) == ("Failed", "not delivered (attempt 1)")
    shown = json.dumps(view) + json.dumps(run)
    # ids are hex and may hold "500" by chance: what must not show is what the hook answered
    shown = re.sub(r"\b[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\b|\bmi-[0-9a-f]{17}\b", "", shown)
    for leak in ("500", "Exploded", "secret-banner", "127.0.0.1", "refused"):
        assert leak not in shown, leak


def _pack(automatic: bool) -> dict[str, Any]:
    pack: dict[str, Any] = yaml.safe_load((EXAMPLES / "patching-essentials.yaml").read_text())
    if automatic:
        pack["spec"]["Remediations"][0]["Automatic"] = True
    return pack


def test_apply_says_what_runs_on_its_own_and_the_examples_install_nothing(api: Api) -> None:
    (applied,) = api.ok("POST", "/api/v1/apply", json=[_pack(automatic=False)])["applied"]
    assert applied["automatic_actions"] == [
        "rule essentials-patch-group-tag: automatic remediation 'essentials-tag-patch-group' "
        "(addTags Patch Group=default) after 0 s on NON_COMPLIANT nodes "
        "(up to 5 attempts, 10 % of nodes at a time)"
    ]
    sla = yaml.safe_load((EXAMPLES / "vulnerability-sla.yaml").read_text())
    (applied,) = api.ok("POST", "/api/v1/apply", json=[sla])["applied"]
    (line,) = applied["automatic_actions"]
    assert line.startswith(
        "rule sla-critical-findings: automatic remediation 'sla-approved-install' "
        "(wait for an operator's approval; RunPatchBaseline Install, RebootIfNeeded)"
    )
    (applied,) = api.ok("POST", "/api/v1/apply", json=[_pack(automatic=True)])["applied"]
    assert applied["automatic_actions"][0] == (
        "rule essentials-patch-compliance: automatic remediation 'essentials-install-patches' "
        "(RunPatchBaseline Install, RebootIfNeeded; waitForCompliance) after 300 s on "
        "NON_COMPLIANT nodes (up to 3 attempts, 20 % of nodes at a time)"
    )
    (applied,) = api.ok("POST", "/api/v1/apply", json=[TAG_RUNBOOK])["applied"]
    assert applied["automatic_actions"] == []


def test_remediation_list_shows_pending_automatic_starts(api: Api) -> None:
    node = api.register()
    automatic = rule(
        "owned",
        {
            "Type": "required-tags",
            "Parameters": {"TagKeys": ["Owner"]},
            "Remediation": remediation("tag-default", GracePeriodSeconds=300),
        },
    )
    manual = rule(
        "grouped",
        {
            "Type": "required-tags",
            "Parameters": {"TagKeys": ["Team"]},
            "Remediation": remediation("tag-default", Automatic=False),
        },
    )
    (_, applied, _) = api.ok("POST", "/api/v1/apply", json=[TAG_RUNBOOK, automatic, manual])[
        "applied"
    ]
    assert "after 300 s" in applied["automatic_actions"][0]
    (pending,) = api.ok("GET", "/api/v1/remediations")["pending"]
    due = api.clock.now() + timedelta(seconds=300)
    assert pending == {
        "rule": "owned",
        "resource_id": node.id,
        "runbook": "tag-default",
        "phase": "MARKED",
        "due_at": due.isoformat(),
        "attempt": 1,
    }
    api.clock.advance(301)
    governance.tick(api.client.app.state.db, api.clock.now())
    assert api.ok("GET", "/api/v1/remediations")["pending"] == []
