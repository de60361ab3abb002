"""The agents' long-poll fast path and the report's cheap roll-up (issue 18).

A well-formed poll of a known node is answered by the fast path
(:mod:`patchwarden.server.fleet.fastpoll`) exactly as the route answers it; anything else
goes on to the route, which answers and refuses as always.  A report rolls its command up
without tallying every invocation while others still run: the command row must read as a
full refresh would write it after every report."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from fleet_helpers import Api, Node, bearer, error_of

from patchwarden.adapters.storage.tables import Command
from patchwarden.core import rollout
from patchwarden.core.rollout import Details, InvocationStatus
from patchwarden.server.errors import unavailable
from patchwarden.server.fleet import claims, fastpoll

POLL = "/api/v1/agent/commands"


def spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The nodes whose polls the fast path answered."""
    seen: list[str] = []
    real = fastpoll.next_work

    async def next_work(board: Any, node_id: str, *args: Any) -> list[dict[str, Any]]:
        seen.append(node_id)
        return await real(board, node_id, *args)

    monkeypatch.setattr(fastpoll, "next_work", next_work)
    return seen


def test_a_poll_gets_the_same_answer_from_the_fast_path_and_the_route(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = spy(monkeypatch)
    node = api.register()
    assert node.poll() == []
    assert seen == [node.id]
    sent = api.send(InstanceIds=[node.id]).json()
    first = node.poll()
    assert [i["command_id"] for i in first] == [sent["command_id"]]
    assert seen == [node.id, node.id]
    # handed again while InProgress: once by the fast path, once by the route (another
    # query parameter is the route's), the same bytes
    fast = node.call("GET", POLL, params={"wait": 0})
    routed = node.call("GET", POLL, params={"wait": 0, "other": 1})
    assert seen == [node.id] * 3
    assert fast.status_code == routed.status_code == 200
    assert fast.content == routed.content
    assert fast.headers["content-type"] == routed.headers["content-type"]
    assert fast.json()["invocations"] == first


@pytest.mark.parametrize(
    ("params", "status"),
    [({"wait": 61}, 400), ({"wait": "soon"}, 400), ({"wait": -1}, 400), ({"wait": "1e-1"}, 200)],
)
def test_a_wait_the_fast_path_does_not_read_goes_to_the_route(
    api: Api, monkeypatch: pytest.MonkeyPatch, params: dict[str, Any], status: int
) -> None:
    node = api.register()
    seen = spy(monkeypatch)
    r = node.call("GET", POLL, params=params)
    assert r.status_code == status, r.text
    assert seen == []


def test_credentials_the_fast_path_does_not_accept_are_refused_by_the_route(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = api.register()
    seen = spy(monkeypatch)
    assert error_of(api.client.get(POLL)) == (401, "unauthenticated")
    wrong = bearer(node.id + ".not-the-secret")
    assert error_of(api.client.get(POLL, headers=wrong)) == (401, "unauthenticated")
    assert error_of(api.client.get(POLL, headers=bearer(api.admin)))[0] == 403
    basic = {"Authorization": "Basic " + node.credential}
    assert error_of(api.client.get(POLL, headers=basic)) == (401, "unauthenticated")
    assert seen == []


def test_an_error_while_polling_is_answered_by_the_apps_handlers(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = api.register()
    assert node.poll() == []
    api.send(InstanceIds=[node.id])

    def down(*_: Any) -> list[dict[str, Any]]:
        raise unavailable()

    monkeypatch.setattr(claims, "claim_one", down)
    r = node.call("GET", POLL, params={"wait": 0})
    assert error_of(r) == (503, "unavailable")
    assert r.headers["retry-after"] == "1"


def stored(api: Api, command_id: str, fields: list[str]) -> dict[str, Any]:
    """The command row as the last transaction left it (``GET`` refreshes it first)."""
    with api.client.app.state.db.read() as session:
        row = session.get(Command, command_id)
        return {f: getattr(row, f) for f in fields}


def test_a_node_the_cache_cannot_look_up_is_answered_by_the_route(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database unavailable while a node's credential is loaded: 503 from the route's
    handlers, never an error escaping the middleware."""
    node = api.register()
    seen = spy(monkeypatch)

    async def known(*_: Any) -> None:
        raise unavailable()

    monkeypatch.setattr(api.client.app.state.polling.nodes, "known", known)
    r = node.call("GET", POLL, params={"wait": 0})
    assert error_of(r) == (503, "unavailable")
    assert seen == []


def rolled_up(api: Api, command_id: str) -> dict[str, Any]:
    """What a full refresh writes for the command, from its invocations as they are."""
    invs = api.ok("GET", f"/api/v1/commands/{command_id}")["invocations"]
    values: Counter[rollout.Invocation] = Counter(
        rollout.Invocation(InvocationStatus(i["status"]), i["status_details"]) for i in invs
    )
    status, details = rollout.rollup(values, 2)
    counts = rollout.counts(values)
    return {
        "status": status.value,
        "status_details": details.value,
        "completed_count": sum(n for v, n in values.items() if v.status.terminal),
        "error_count": counts["errors"],
        "delivery_timed_out_count": counts["delivery_timed_out"],
    }


def test_reports_leave_the_command_as_a_full_refresh_would(api: Api) -> None:
    """Successes, failures and a timeout, one report at a time under SSM's ramp-up, up to
    the MaxErrors stop: after every report the command row equals its full roll-up."""
    nodes = [api.register() for _ in range(9)]
    answers = {n.id: "Success" for n in nodes}
    answers[nodes[1].id] = answers[nodes[4].id] = "Failed"
    answers[nodes[6].id] = "TimedOut"  # the third error: over MaxErrors 2
    sent = api.send(InstanceIds=[n.id for n in nodes], MaxConcurrency="100%", MaxErrors="2")
    command_id = sent.json()["command_id"]
    fields = list(rolled_up(api, command_id))
    reported = 0
    while True:
        handed = [(n, inv) for n in nodes for inv in n.poll()]
        if not handed:
            break
        for node, inv in handed:
            assert node.report(inv["invocation_id"], answers[node.id]).status_code == 200
            reported += 1
            left = stored(api, command_id, fields)
            assert left == rolled_up(api, command_id), reported
    final = api.ok("GET", f"/api/v1/commands/{command_id}")
    assert final["status"] == "Failed" and final["error_count"] == 3
    assert reported < len(nodes)  # the stop cancelled the rest
    statuses = Counter(i["status"] for i in final["invocations"])
    assert statuses[InvocationStatus.CANCELLED.value] == len(nodes) - reported
    assert all(
        i["status_details"] == Details.TERMINATED.value
        for i in final["invocations"]
        if i["status"] == InvocationStatus.CANCELLED.value
    )


def test_a_report_of_the_last_invocation_finishes_the_command(api: Api) -> None:
    nodes: list[Node] = [api.register() for _ in range(3)]
    sent = api.send(InstanceIds=[n.id for n in nodes], MaxConcurrency="100%").json()
    while found := [(n, inv) for n in nodes for inv in n.poll()]:
        for node, inv in found:
            node.report(inv["invocation_id"])
    shown = api.ok("GET", f"/api/v1/commands/{sent['command_id']}")
    assert (shown["status"], shown["completed_count"], shown["error_count"]) == ("Success", 3, 0)
