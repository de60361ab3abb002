"""``bench/cluster.py``: two replicas on one PostgreSQL behind a private nginx.  Nodes
registered and a Scan sent through nginx; each node polls the replicas directly, one after
the other, and gets its invocation exactly once."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fleet_processes import pg_schema_or_skip, register_over_http, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from cluster import Cluster

pytestmark = [pytest.mark.slow, pytest.mark.integration]
NODES = 3


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    # nginx is a test dependency (Debian: nginx-light or nginx): not skipped when missing
    with (
        pg_schema_or_skip() as url,
        Cluster(url, 2, home=tmp_path / "cluster", log_level="info") as running,
    ):
        yield running


def admin_token(db_url: str) -> str:
    from patchwarden.adapters.storage import make_engine
    from patchwarden.adapters.storage.token_admin import create_local

    engine = make_engine(db_url)
    try:
        _, value = create_local(engine, "smoke-admin", "admin", datetime.now(UTC))
    finally:
        engine.dispose()
    return value


def test_nodes_polling_either_replica_get_their_invocation_once(cluster: Cluster) -> None:
    assert cluster.nginx_port is not None and len({r.port for r in cluster.replicas}) == 2
    token = admin_token(cluster.db_url)
    admin = httpx.Client(base_url=cluster.url, headers={"Authorization": f"Bearer {token}"})
    activation = admin.post("/api/v1/activations", json={"registration_limit": NODES}).json()
    creds = [
        register_over_http(
            cluster.url, activation, {"operating_system": "DEBIAN", "hostname": f"smoke-{i}"}
        )
        for i in range(NODES)
    ]
    sent = admin.post(
        "/api/v1/commands",
        json={
            "Parameters": {"Operation": "Scan"},
            "Targets": [{"Key": "InstanceIds", "Values": ["*"]}],
            "MaxConcurrency": "100%",
        },
    )
    assert sent.is_success, sent.text
    command_id = sent.json()["command_id"]

    received: Counter[str] = Counter()
    got: dict[int, list[str]] = {i: [] for i in range(NODES)}
    deadline = time.monotonic() + 20
    turn = 0
    while any(not ids for ids in got.values()) and time.monotonic() < deadline:
        for i, cred in enumerate(creds):
            if got[i]:
                continue
            replica = cluster.replicas[(i + turn) % 2]  # each node alternates replicas
            r = httpx.get(
                f"{replica.url}/api/v1/agent/commands",
                params={"wait": 0.2},
                headers={"Authorization": f"Bearer {cred}"},
            )
            assert r.status_code == 200, r.text
            for inv in r.json()["invocations"]:
                got[i].append(inv["invocation_id"])
                received[inv["invocation_id"]] += 1
                done = httpx.post(  # the report goes through nginx
                    f"{cluster.url}/api/v1/agent/invocations/{inv['invocation_id']}",
                    json={"status": "Success", "output": f"smoke-{i}"},
                    headers={"Authorization": f"Bearer {cred}"},
                )
                assert done.status_code == 200, done.text
        turn += 1
    # once reported, neither replica hands the invocation out again
    for i, cred in enumerate(creds):
        for replica in cluster.replicas:
            r = httpx.get(
                f"{replica.url}/api/v1/agent/commands",
                params={"wait": 0},
                headers={"Authorization": f"Bearer {cred}"},
            )
            assert r.json()["invocations"] == [], (i, replica.port)
    assert all(len(ids) == 1 for ids in got.values()), got
    assert len(received) == NODES and set(received.values()) == {1}
    result = wait_for(
        "the command",
        lambda: (
            (c := admin.get(f"/api/v1/commands/{command_id}").json())["status"]
            not in ("Pending", "InProgress")
            and c
        ),
        patience=20,
    )
    assert result["status"] == "Success", result
    assert result["completed_count"] == NODES
    admin.close()
