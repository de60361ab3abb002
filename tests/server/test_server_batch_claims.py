"""Batch claims (issue 18): nodes waiting on long-polls are handed a command by one
transaction per command and rebuild, not one claim each; rate control (MaxConcurrency,
MaxErrors, SSM's ramp-up) decides exactly as for single claims; nothing is delivered twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fleet_helpers import Api, Node

from patchwarden.server.fleet import claims as claim_module

WAIT = 20.0


def counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Count single claims and batch claims (and what each batch handed out)."""
    seen: dict[str, list[Any]] = {"one": [], "batch": []}
    one, batch = claim_module.claim_one, claim_module.claim_waiting

    def claim_one(db: Any, conf: Any, node_id: str) -> list[dict[str, Any]]:
        seen["one"].append(node_id)
        return one(db, conf, node_id)

    def claim_waiting(db: Any, conf: Any, wanted: dict[str, tuple[str, ...]]) -> Any:
        handed = batch(db, conf, wanted)
        seen["batch"].append(sorted(handed))
        return handed

    monkeypatch.setattr(claim_module, "claim_one", claim_one)
    monkeypatch.setattr(claim_module, "claim_waiting", claim_waiting)
    return seen


def fleet(api: Api, count: int, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Node], Any]:
    nodes = [api.register() for _ in range(count)]
    for node in nodes:
        assert node.poll() == []  # known to the node cache; nothing to do yet
    seen = counting(monkeypatch)
    polls = api.client.app.state.polling
    polls.board.batch = lambda wanted: claim_module.claim_waiting(
        api.client.app.state.db, api.client.app.state.settings, wanted
    )
    return nodes, seen


def run_nodes(
    nodes: list[Node],
    answer: Callable[[Node, dict[str, Any]], None],
    wait: float = WAIT,
    stop: threading.Event | None = None,
) -> tuple[list[threading.Thread], dict[str, list[dict[str, Any]]]]:
    """Each node long-polls until it is handed one invocation, then ``answer``s it (or
    until ``stop`` is set)."""
    got: dict[str, list[dict[str, Any]]] = {}
    stop = stop or threading.Event()

    def node_loop(node: Node) -> None:
        while not stop.is_set():
            found = node.poll(wait=wait)
            if found:
                got[node.id] = found
                for inv in found:
                    answer(node, inv)
                return

    threads = [threading.Thread(target=node_loop, args=(n,)) for n in nodes]
    for thread in threads:
        thread.start()
    return threads, got


def invocations(api: Api, command_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.ok("GET", f"/api/v1/commands/{command_id}")["invocations"]
    return found


def test_waiting_nodes_are_handed_a_command_in_batches(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes, seen = fleet(api, 12, monkeypatch)

    def success(node: Node, inv: dict[str, Any]) -> None:
        assert node.report(inv["invocation_id"]).status_code == 200

    threads, got = run_nodes(nodes, success)
    while len(api.client.app.state.polling.board._events) < len(nodes):
        threading.Event().wait(0.01)  # every node is waiting on its long-poll
    sent = api.send(InstanceIds=[n.id for n in nodes], MaxConcurrency="100%").json()
    for thread in threads:
        thread.join(60)
    assert sorted(got) == sorted(n.id for n in nodes)
    assert all(len(found) == 1 for found in got.values())
    invs = invocations(api, sent["command_id"])
    assert {i["status"] for i in invs} == {"Success"}
    assert {i["deliveries"] for i in invs} == {1}  # nobody was handed it twice
    assert seen["one"] == []  # no node claimed alone
    handed = [n for batch in seen["batch"] for n in batch]
    assert sorted(handed) == sorted(got)  # each node in exactly one batch
    assert seen["batch"][0] and len(seen["batch"][0]) == 1  # SSM's slow start: one first
    assert len([b for b in seen["batch"] if b]) < len(nodes)  # batches, not one by one


def test_rate_control_is_exact_for_batches(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """MaxConcurrency 2 and MaxErrors 1 over waiting nodes that fail: never more than 2
    running, and the command stops after the second error, as for single claims."""
    nodes, seen = fleet(api, 8, monkeypatch)
    running: list[int] = []
    lock = threading.Lock()
    command: dict[str, str] = {}

    def fail(node: Node, inv: dict[str, Any]) -> None:
        with lock:
            states = [i["status"] for i in invocations(api, command["id"])]
            running.append(states.count("InProgress"))
            assert node.report(inv["invocation_id"], status="Failed").status_code == 200

    stop = threading.Event()
    threads, got = run_nodes(nodes, fail, wait=1.0, stop=stop)
    while len(api.client.app.state.polling.board._events) < len(nodes):
        threading.Event().wait(0.01)
    with lock:
        sent = api.send(InstanceIds=[n.id for n in nodes], MaxConcurrency="2", MaxErrors="1")
        command["id"] = sent.json()["command_id"]

    def finished() -> bool:
        status = api.ok("GET", f"/api/v1/commands/{command['id']}")["status"]
        return status not in ("Pending", "InProgress", "Cancelling")

    for _ in range(1200):
        if finished():
            break
        threading.Event().wait(0.1)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert running and max(running) <= 2
    final = api.ok("GET", f"/api/v1/commands/{command['id']}")
    assert final["status"] == "Failed"
    statuses = [i["status"] for i in invocations(api, command["id"])]
    assert statuses.count("Failed") in (2, 3)  # the MaxErrors stop, with one in flight
    assert statuses.count("Cancelled") == len(nodes) - len(got)
    assert seen["batch"]  # (a node between two 1 s polls may also claim alone: allowed)
