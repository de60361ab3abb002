"""Refused requests are audited (one entry per client address and kind a minute, with a
count) and wrong secrets are budgeted per client address (429 ``too_many_requests``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fleet_helpers import Api, error_of, scan_report
from test_server_polling import quiet, statements

BUDGET = 20
"""``patchwarden.server.refusals.BUDGET`` (checked below)."""


def refusals_of(api: Api) -> Any:
    return api.client.app.state.polling.nodes.refusals


def test_the_budget_is_the_documented_one() -> None:
    from patchwarden.server import refusals

    assert refusals.BUDGET == BUDGET


def audited(api: Api, action: str) -> list[dict[str, Any]]:
    """The entries of ``action``, after the refusals' due entries are written."""
    api.clock.advance(2)  # past the settle time of a key's first entry
    refusals_of(api).flush()
    found: list[dict[str, Any]] = api.ok("GET", "/api/v1/audit", params={"action": action})
    return found


@contextmanager
def client_at(api: Api, address: str) -> Iterator[Any]:
    """A client of the same app calling from ``address``."""
    from fastapi.testclient import TestClient

    yield TestClient(api.client.app, raise_server_exceptions=False, client=(address, 4321))


def wrong(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token[:-4]}nope"}


def test_wrong_operator_tokens_are_audited_once_a_minute_with_a_count(api: Api) -> None:
    token_id = api.admin.partition(".")[0].removeprefix("pwt_")
    for _ in range(5):
        refused = api.client.get("/api/v1/nodes", headers=wrong(api.admin))
        assert error_of(refused) == (401, "unauthenticated")
    (entry,) = audited(api, "auth.refused")
    assert entry["actor"] == f"token-id:{token_id}"
    assert entry["target"] == "testclient"
    assert entry["detail"]["count"] == 5 and entry["detail"]["client"] == "testclient"
    assert entry["detail"]["code"] == "unauthenticated"
    assert api.admin.partition(".")[2] not in str(entry)  # never the secret
    for _ in range(3):
        api.client.get("/api/v1/nodes", headers=wrong(api.admin))
    assert len(audited(api, "auth.refused")) == 1  # coalesced within the minute
    api.clock.advance(60)
    later = audited(api, "auth.refused")
    assert [e["detail"]["count"] for e in later] == [3, 5]


def test_node_credential_refusals_are_audited_on_polls_and_bodies(api: Api) -> None:
    node = api.register()
    poll = api.client.get("/api/v1/agent/commands", headers=wrong(node.credential))
    assert error_of(poll) == (401, "unauthenticated")
    body = api.client.post(
        "/api/v1/agent/invocations/x", headers=wrong(node.credential), json={"status": "Success"}
    )
    assert error_of(body) == (401, "unauthenticated")
    (entry,) = audited(api, "auth.refused")
    assert entry["actor"] == f"node:{node.id}" and entry["detail"]["count"] == 2
    # a node credential on an operator endpoint is refused and audited too
    assert error_of(node.call("GET", "/api/v1/nodes")) == (403, "forbidden")
    api.clock.advance(60)
    newest = audited(api, "auth.refused")[0]
    assert newest["detail"]["code"] == "forbidden" and newest["actor"] == f"node:{node.id}"


def test_a_node_touching_another_nodes_invocation_is_audited(api: Api) -> None:
    a, b = api.register(), api.register()
    api.send(InstanceIds=[a.id])
    (inv,) = a.poll()
    assert error_of(b.report(inv["invocation_id"], report=scan_report())) == (403, "forbidden")
    (entry,) = audited(api, "access.refused")
    assert entry["actor"] == f"node:{b.id}" and entry["detail"]["count"] == 1


def test_failed_registrations_are_audited_with_the_activation_id(api: Api) -> None:
    act = api.activation(registration_limit=1)
    body = {"activation_id": act["activation_id"], "activation_code": "wrong-code"}
    assert error_of(api.client.post("/api/v1/register", json=body)) == (401, "invalid_activation")
    (entry,) = audited(api, "register.refused")
    assert entry["actor"] == f"activation:{act['activation_id']}"
    assert entry["detail"]["code"] == "invalid_activation"
    assert "wrong-code" not in str(entry)


def test_a_flood_of_refusals_writes_one_entry_and_nothing_on_good_polls(api: Api) -> None:
    node = api.register()
    quiet(api)
    assert node.poll() == []
    with client_at(api, "10.0.0.5") as attacker:
        for _ in range(BUDGET + 30):  # the last 30 are 429s, audited with the same key
            attacker.get("/api/v1/agent/commands", headers=wrong(node.credential))
    entries = audited(api, "auth.refused")
    assert len(entries) == 1 and entries[0]["detail"]["count"] == BUDGET + 30
    assert entries[0]["detail"]["code"] == "too_many_requests"
    with statements() as sent:
        refusals_of(api).flush()  # nothing new refused: no SQL
    assert sent == []


def test_wrong_secrets_past_the_budget_are_429_for_that_address_only(api: Api) -> None:
    node = api.register()
    with client_at(api, "10.0.0.66") as attacker, client_at(api, "10.0.0.7") as other:
        for _ in range(BUDGET):
            refused = attacker.get("/api/v1/agent/commands", headers=wrong(node.credential))
            assert error_of(refused) == (401, "unauthenticated")
        good = {"Authorization": f"Bearer {api.admin}"}
        throttled = attacker.get("/api/v1/nodes", headers=good)
        assert error_of(throttled) == (429, "too_many_requests")
        assert 1 <= int(throttled.headers["Retry-After"]) <= 60
        posted = attacker.post("/api/v1/commands", headers=good, json={})
        assert error_of(posted) == (429, "too_many_requests")
        registering = attacker.post("/api/v1/register", json={"activation_id": "a"})
        assert error_of(registering) == (429, "too_many_requests")
        assert attacker.get("/healthz").status_code == 200  # no credential: not throttled
        assert other.get("/api/v1/nodes", headers=good).status_code == 200
        assert node.poll() == []  # the node itself, from its own address
        api.clock.advance(61)
        assert attacker.get("/api/v1/nodes", headers=good).status_code == 200
    entry = audited(api, "auth.refused")[0]
    assert entry["target"] == "10.0.0.66"


def test_wrong_activation_codes_count_against_the_budget(api: Api) -> None:
    act = api.activation(registration_limit=5)
    body = {"activation_id": act["activation_id"], "activation_code": "guess"}
    with client_at(api, "10.0.0.99") as attacker:
        for _ in range(BUDGET):
            assert attacker.post("/api/v1/register", json=body).status_code == 401
        good = {**body, "activation_code": act["activation_code"]}
        assert error_of(attacker.post("/api/v1/register", json=good)) == (
            429,
            "too_many_requests",
        )
    api.register(act)  # from another address
