"""Window executions: one baseline snapshot per execution, resuming after a restart, the
test-only tick endpoint, parameters checked when applied."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fleet_helpers import Api, error_of
from window_helpers import detail, executions, run_all, tick, window


@pytest.fixture(autouse=True)
def _no_background_scheduler(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PATCHWARDEN_SCHEDULER_INTERVAL", "0")
    yield


def _baseline(name: str) -> dict[str, Any]:
    rule = {
        "PatchFilterGroup": {"PatchFilters": [{"Key": "PRODUCT", "Values": ["*"]}]},
        "ApproveAfterDays": 0,
    }
    return {
        "apiVersion": "patchwarden/v1",
        "kind": "PatchBaseline",
        "metadata": {"name": name},
        "spec": {"OperatingSystem": "DEBIAN", "ApprovalRules": {"PatchRules": [rule]}},
    }


def test_every_wave_is_judged_by_the_executions_baseline_snapshot(api: Api) -> None:
    nodes = [api.register(tags={"Role": "web"}) for _ in range(2)]
    api.ok("POST", "/api/v1/apply", json=[_baseline("first"), _baseline("second")])
    api.ok("PUT", "/api/v1/default-baselines/DEBIAN", json={"baseline": "first"})
    api.ok("POST", "/api/v1/windows", json=window(task={"MaxConcurrency": [1]}))
    tick(api, 1)
    run_all(nodes)
    api.ok("PUT", "/api/v1/default-baselines/DEBIAN", json={"baseline": "second"})
    tick(api)  # the second wave, after the default changed
    run_all(nodes)
    tick(api)
    run = detail(api)
    (task,) = run["tasks"]
    assert task["status"] == "SUCCESS"
    invs = [c["invocations"][0] for c in task["commands"]]
    assert [i["baseline"] for i in invs] == ["first", "first"]
    for command in task["commands"]:
        shown = api.ok("GET", f"/api/v1/commands/{command['command_id']}")
        assert shown["parameters"]["SnapshotId"] == run["window_execution_id"]


def test_the_execution_resumes_after_a_restart(api: Api, db_url: str) -> None:
    from fastapi.testclient import TestClient

    from patchwarden.server.app import create_app
    from patchwarden.server.settings import ServerSettings
    from patchwarden.server.windows import scheduler

    nodes = [api.register(tags={"Role": "web"}) for _ in range(2)]
    api.ok("POST", "/api/v1/windows", json=window(task={"MaxConcurrency": [1]}))
    tick(api, 1)
    run_all(nodes)
    api.clock.advance(600)  # "down" for ten minutes, back inside the window
    settings = ServerSettings(database_url=db_url, clock=api.clock, migrate=False)
    app = create_app(settings)
    with TestClient(app):
        assert scheduler.tick(app.state.db, api.clock.now(), "restarted")["advanced"] == 1
    run_all(nodes)
    tick(api)
    (run,) = executions(api)
    assert run["status"] == "SUCCESS", run
    (task,) = detail(api)["tasks"]
    assert len(task["commands"]) == 2


def test_tick_endpoint_only_when_enabled(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    api.register(tags={"Role": "web"})
    api.ok("POST", "/api/v1/windows", json=window())
    r = api.call("POST", "/api/v1/windows/-/tick")
    assert error_of(r) == (404, "not_found")
    monkeypatch.setenv("PATCHWARDEN_SCHEDULER_TEST_TICK", "1")
    operator = api.token("operator")
    assert api.call("POST", "/api/v1/windows/-/tick", operator).status_code == 403
    r = api.call("POST", "/api/v1/windows/-/tick", params={"now": "2026-03-01T12:01:00Z"})
    assert r.json() == {"pending": 1, "advanced": 1}, r.text
    assert executions(api)[0]["status"] == "IN_PROGRESS"


@pytest.mark.parametrize(
    ("parameters", "where"),
    [
        ({"Operation": "Install", "SnapshotId": "not-a-guid"}, "SnapshotId"),
        ({"Operation": "Install", "RebootOption": "Sometimes"}, "RebootOption"),
    ],
)
def test_parameters_are_checked_when_applied(
    api: Api, parameters: dict[str, Any], where: str
) -> None:
    doc = window(task={"TaskInvocationParameters": {"RunCommand": {"Parameters": parameters}}})
    for path, body in (("/api/v1/windows", doc), ("/api/v1/apply", [doc])):
        r = api.call("POST", path, json=body)
        assert error_of(r)[0] == 400, r.text
        assert where in r.json()["error"]["message"]
    assert api.ok("GET", "/api/v1/windows") == []


def test_cancelling_a_waves_command_cancels_the_task(api: Api) -> None:
    nodes = [api.register(tags={"Role": "web"}) for _ in range(2)]
    api.ok("POST", "/api/v1/windows", json=window(task={"MaxConcurrency": [1]}))
    tick(api, 1)
    (task,) = detail(api)["tasks"]
    api.ok("POST", f"/api/v1/commands/{task['commands'][0]['command_id']}/cancel")
    tick(api)
    run = detail(api)
    assert run["tasks"][0]["status"] == "CANCELLED"
    assert "was cancelled" in run["tasks"][0]["status_details"]
    assert run["status"] == "CANCELLED"
    assert run_all(nodes) == []
