"""The poll path: an idle poll reads no database; the in-memory board and node cache follow
this replica's commits at once and other replicas' within their intervals; check-ins are
written in batches; rate control decides how many nodes go on to claim."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fleet_helpers import Api, FakeClock, Node, bearer, error_of
from sqlalchemy import Engine, event, select

from patchwarden.adapters.storage.tables import Node as NodeRow
from patchwarden.server.fleet import claims as claim_module
from patchwarden.server.fleet.polling import Polling


def polling_of(api: Api) -> Polling:
    found: Polling = api.client.app.state.polling
    return found


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine of this process sends meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


@contextmanager
def replica(db_url: str, clock: FakeClock) -> Iterator[Any]:
    """A second server process's app on the same database (its own caches and pools)."""
    from fastapi.testclient import TestClient

    from patchwarden.server.app import create_app
    from patchwarden.server.settings import ServerSettings

    settings = ServerSettings(
        database_url=db_url,
        clock=clock,
        migrate=False,
        replica_id="replica-b",
        poll_check_interval=0.05,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def quiet(api: Api) -> None:
    """No periodic rebuild or credential look during the test (only commits trigger)."""
    polls = polling_of(api)
    polls.board.interval = 3600
    polls.nodes.follow_seconds = 3600


def last_seen(api: Api, node: Node) -> Any:
    with api.client.app.state.db.read() as session:
        return session.scalar(select(NodeRow.last_seen_at).where(NodeRow.id == node.id))


def test_an_idle_poll_reads_no_database(api: Api) -> None:
    node = api.register()
    quiet(api)
    assert node.poll() == []  # loads the credential and builds the board once
    with statements() as sent:
        for _ in range(5):
            assert node.poll() == []
    assert sent == []


def test_a_command_sent_here_reaches_the_next_poll_at_once(api: Api) -> None:
    node = api.register()
    quiet(api)
    assert node.poll() == []
    sent = api.send(InstanceIds=[node.id]).json()
    assert [i["command_id"] for i in node.poll()] == [sent["command_id"]]


def test_rate_control_sends_only_startable_nodes_to_claim(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes = [api.register() for _ in range(6)]
    quiet(api)
    claims: list[str] = []
    real = claim_module.claim_one

    def counted(db: Any, conf: Any, node_id: str) -> list[dict[str, Any]]:
        claims.append(node_id)
        return real(db, conf, node_id)

    monkeypatch.setattr(claim_module, "claim_one", counted)
    api.send(InstanceIds=[n.id for n in nodes], MaxConcurrency="2", MaxErrors="0")
    done: set[str] = set()
    rounds = []
    while len(done) < len(nodes):
        claims.clear()
        got = [(n, inv) for n in nodes if n.id not in done for inv in n.poll()]
        assert got, "nothing delivered while invocations are pending"
        rounds.append(len(got))
        assert len(claims) == len(got) <= 2  # no node went to the database for nothing
        for n, inv in got:
            assert n.report(inv["invocation_id"]).status_code == 200
            done.add(n.id)
    assert rounds[0] == 1  # SSM's slow start: one node first
    assert sum(rounds) == 6


def test_an_invocation_in_progress_is_handed_again(api: Api) -> None:
    node = api.register()
    quiet(api)
    api.send(InstanceIds=[node.id])
    first = node.poll()
    assert len(first) == 1
    assert [i["invocation_id"] for i in node.poll()] == [first[0]["invocation_id"]]


def test_check_ins_are_batched_and_written_once_a_minute(api: Api) -> None:
    nodes = [api.register() for _ in range(4)]
    quiet(api)
    registered = last_seen(api, nodes[0])
    for n in nodes:
        n.poll()
    assert polling_of(api).nodes.flush_checkins() == 0  # registration just wrote it
    api.clock.advance(61)
    for n in nodes:
        n.poll()
        n.poll()
    assert last_seen(api, nodes[0]) == registered  # not yet: recorded in memory
    with statements() as sent:
        assert polling_of(api).nodes.flush_checkins() == 4
    assert len([s for s in sent if s.lstrip().upper().startswith("UPDATE")]) == 1
    assert {last_seen(api, n) for n in nodes} == {api.clock.now()}
    api.clock.advance(30)
    nodes[0].poll()
    assert polling_of(api).nodes.flush_checkins() == 0


def test_a_node_coming_back_is_written_at_once(api: Api) -> None:
    node = api.register()
    quiet(api)
    api.clock.advance(200)  # away for longer than half the Online threshold
    node.poll()
    assert last_seen(api, node) == api.clock.now()


def test_a_credential_rotated_here_stops_working_here_at_once(api: Api) -> None:
    node = api.register()
    quiet(api)
    node.poll()
    rotated = node.call("POST", "/api/v1/agent/credential").json()["credential"]
    assert error_of(node.call("GET", "/api/v1/agent/commands")) == (401, "unauthenticated")
    assert Node(node.id, rotated, api).poll() == []


def test_another_replica_s_rotation_and_deregistration_reach_this_one(
    api: Api, db_url: str
) -> None:
    node = api.register()
    other = api.register()
    node.poll()
    other.poll()
    with replica(db_url, api.clock) as b:
        rotated = b.post("/api/v1/agent/credential", headers=bearer(node.credential))
        assert rotated.status_code == 200, rotated.text
        gone = b.delete(f"/api/v1/nodes/{other.id}", headers=bearer(api.admin))
        assert gone.status_code == 200, gone.text
    polling_of(api).nodes.follow_seconds = 0  # the next request looks at the feed
    assert error_of(node.call("GET", "/api/v1/agent/commands")) == (401, "unauthenticated")
    assert Node(node.id, rotated.json()["credential"], api).poll() == []
    assert error_of(other.call("GET", "/api/v1/agent/commands")) == (403, "forbidden")


def test_a_command_sent_through_another_replica_wakes_a_waiting_poll(api: Api, db_url: str) -> None:
    node = api.register()
    node.poll()
    got: list[list[dict[str, Any]]] = []
    with replica(db_url, api.clock) as b:
        waiting = threading.Thread(target=lambda: got.append(node.poll(wait=30)))
        waiting.start()
        sent = b.post(
            "/api/v1/commands",
            headers=bearer(api.admin),
            json={"InstanceIds": [node.id], "Parameters": {"Operation": "Scan"}},
        )
        assert sent.status_code == 201, sent.text
        waiting.join(60)
    assert not waiting.is_alive()
    assert [i["command_id"] for i in got[0]] == [sent.json()["command_id"]]


def test_node_write_routes_have_no_response_model(api: Api) -> None:
    """FastAPI validates a sync route's response model in the shared thread pool while the
    route's transaction still holds its row locks; under load that deadlocked the report
    path (the holder waiting for a thread its lock waiters held)."""
    from fastapi.routing import APIRoute

    hot = {
        ("POST", "/api/v1/agent/invocations/{invocation_id}"),
        ("PUT", "/api/v1/agent/inventory"),
        ("PATCH", "/api/v1/agent/inventory"),
        ("POST", "/api/v1/register"),
        ("POST", "/api/v1/agent/credential"),
    }

    def walk(routes: list[Any]) -> Iterator[APIRoute]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):  # an included router
                yield from walk(route.original_router.routes)

    found = {
        (method, route.path): route.response_field
        for route in walk(api.client.app.routes)
        for method in route.methods
        if (method, route.path) in hot
    }
    assert set(found) == hot
    assert all(field is None for field in found.values())
