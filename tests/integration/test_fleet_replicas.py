"""Two server replicas on one PostgreSQL: agents poll either one; no invocation is
delivered to two claims at once or lost, and MaxConcurrency holds across replicas."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fleet_processes import Server, pg_schema_or_skip, register_over_http, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.integration]
NODES = 12
CONCURRENCY = 4


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    with pg_schema_or_skip() as url:
        a = Server(tmp_path / "a", url)
        b = Server(tmp_path / "b", url)
        try:
            yield a, b
        finally:
            a.stop()
            b.stop()


def test_two_replicas_share_the_work_without_duplicates(replicas: tuple[Server, Server]) -> None:
    a, b = replicas
    assert a.admin_token and not b.admin_token  # one bootstrap token for the shared database
    admin = a.api(a.admin_token)
    activation = admin.post("/api/v1/activations", json={"registration_limit": NODES}).json()
    creds = [
        register_over_http(
            (a, b)[i % 2].url, activation, {"operating_system": "DEBIAN", "hostname": f"n{i}"}
        )
        for i in range(NODES)
    ]
    sent = b.api(a.admin_token).post(
        "/api/v1/commands",
        json={
            "Parameters": {"Operation": "Scan"},
            "Targets": [{"Key": "InstanceIds", "Values": ["*"]}],
            "MaxConcurrency": str(CONCURRENCY),
        },
    )
    command_id = sent.json()["command_id"]
    lock = threading.Lock()
    running: set[str] = set()
    peak = [0]
    received: Counter[str] = Counter()
    stop = threading.Event()

    def agent(index: int) -> None:
        headers = {"Authorization": f"Bearer {creds[index]}"}
        servers = [(a, b)[(index + k) % 2].url for k in range(2)]
        turn = 0
        while not stop.is_set():
            url = servers[turn % 2]
            turn += 1
            r = httpx.get(f"{url}/api/v1/agent/commands", params={"wait": 0.5}, headers=headers)
            for inv in r.json()["invocations"]:
                with lock:
                    if inv["invocation_id"] in received:
                        continue  # a redelivery of what this node already runs
                    received[inv["invocation_id"]] += 1
                    running.add(inv["invocation_id"])
                    peak[0] = max(peak[0], len(running))
                stop.wait(0.05)  # "run" it
                with lock:
                    running.discard(inv["invocation_id"])
                other = servers[turn % 2]
                body: dict[str, Any] = {"status": "Success", "output": f"n{index}"}
                done = httpx.post(
                    f"{other}/api/v1/agent/invocations/{inv['invocation_id']}",
                    json=body,
                    headers=headers,
                )
                assert done.status_code == 200, done.text
                return

    threads = [threading.Thread(target=agent, args=(i,)) for i in range(NODES)]
    for t in threads:
        t.start()
    try:
        result = wait_for(
            "the command",
            lambda: (
                (c := admin.get(f"/api/v1/commands/{command_id}").json())["status"]
                not in ("Pending", "InProgress")
                and c
            ),
        )
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert result["status"] == "Success", result
    assert result["completed_count"] == NODES
    assert len(received) == NODES and set(received.values()) == {1}
    assert peak[0] <= CONCURRENCY
    delivered_by = {i["delivered_by"] for i in result["invocations"]}
    assert len(delivered_by) == 2  # both replicas handed out work
