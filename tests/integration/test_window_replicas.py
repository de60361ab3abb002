"""Two real server processes on one PostgreSQL, both running the window scheduler every
second: six windows due at the same instant, several nodes, canary waves — every scheduled
time gets exactly one execution and every wave exactly one command."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fleet_processes import Server, pg_schema_or_skip, register_over_http, wait_for
from sqlalchemy import create_engine, text

pytestmark = [pytest.mark.slow, pytest.mark.integration]
WINDOWS = 6


@pytest.fixture
def replicas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Server, Server]]:
    monkeypatch.setenv("PATCHWARDEN_SCHEDULER_INTERVAL", "1")
    with pg_schema_or_skip() as url:
        a = Server(tmp_path / "a", url)
        b = Server(tmp_path / "b", url)
        try:
            yield url, a, b
        finally:
            a.stop()
            b.stop()


def _window(name: str, when: datetime) -> dict[str, Any]:
    return {
        "apiVersion": "patchwarden/v1",
        "kind": "MaintenanceWindow",
        "metadata": {"name": name},
        "spec": {
            "Schedule": f"at({when:%Y-%m-%dT%H:%M:%S})",
            "Duration": 1,
            "Cutoff": 0,
            "Targets": [{"Key": "InstanceIds", "Values": ["*"]}],
            "Tasks": [
                {
                    "Name": "scan",
                    "MaxConcurrency": [1, "50%"],
                    "MaxErrors": "100%",
                    "TaskInvocationParameters": {
                        "RunCommand": {"Parameters": {"Operation": "Scan"}}
                    },
                }
            ],
        },
    }


def test_each_scheduled_time_runs_once_across_replicas(
    replicas: tuple[str, Server, Server],
) -> None:
    url, a, b = replicas
    names = {f"{socket.gethostname()}:{s.proc.pid}" for s in (a, b)}
    api = a.api(a.admin_token)
    activation = api.post("/api/v1/activations", json={"registration_limit": 4}).json()
    for i in range(4):  # registered nodes that never poll: the waves wait for them
        facts = {
            "hostname": f"n{i}",
            "os_id": "debian",
            "os_version": "12",
            "operating_system": "DEBIAN",
            "product": "Debian12",
            "agent_version": "t",
        }
        register_over_http(a.url, activation, facts)
    when = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    docs = [_window(f"race-{i}", when) for i in range(WINDOWS)]
    assert api.post("/api/v1/apply", json=docs).status_code == 200

    engine = create_engine(url)
    try:

        def executions() -> list[tuple[str, int]]:
            with engine.connect() as conn:
                return [
                    (str(w), int(n))
                    for w, n in conn.execute(
                        text("SELECT window_id, count(*) FROM window_executions GROUP BY window_id")
                    )
                ]

        wait_for("every window to run", lambda: len(executions()) == WINDOWS, 60)
        time.sleep(3)  # both replicas tick several more times
        assert all(count == 1 for _, count in executions())
        with engine.connect() as conn:
            links = conn.execute(
                text("SELECT count(*), count(DISTINCT command_id) FROM window_task_commands")
            ).one()
            per_task = conn.execute(
                text("SELECT count(*) FROM window_task_commands GROUP BY task_execution_id, wave")
            ).all()
            replicas_seen = {
                r for (r,) in conn.execute(text("SELECT claimed_by FROM window_executions"))
            }
        assert links[0] == links[1] == WINDOWS  # the canary wave of each, once
        assert all(n == 1 for (n,) in per_task)
        assert replicas_seen <= names  # which replica ran which one is up to the race
    finally:
        engine.dispose()
