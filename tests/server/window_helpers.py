"""Helpers of the maintenance-window server tests."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from fleet_helpers import T0, Api, Node

from patchwarden.server.windows import scheduler


def window(name: str = "patch-web", **spec: Any) -> dict[str, Any]:
    """A MaintenanceWindow document: ``at`` one minute after T0, one Install task."""
    task: dict[str, Any] = {
        "Name": "patch",
        "TaskArn": "AWS-RunPatchBaseline",
        "Priority": 1,
        "MaxConcurrency": "50",
        "MaxErrors": "0",
        "TaskInvocationParameters": {
            "RunCommand": {"Parameters": {"Operation": "Install", "RebootOption": "NoReboot"}}
        },
    }
    task.update(spec.pop("task", {}))
    body: dict[str, Any] = {
        "Schedule": at(T0 + timedelta(minutes=1)),
        "Duration": 2,
        "Cutoff": 1,
        "Targets": [{"Key": "tag:Role", "Values": ["web"]}],
        "Tasks": [task],
    }
    body.update(spec)
    return {
        "apiVersion": "patchwarden/v1",
        "kind": "MaintenanceWindow",
        "metadata": {"name": name},
        "spec": body,
    }


def at(when: datetime) -> str:
    return f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})"


def tick(api: Api, minutes: float = 0) -> Counter[str]:
    """Move the clock ``minutes`` on and run one scheduler round."""
    api.clock.advance(minutes * 60)
    db = api.client.app.state.db
    return scheduler.tick(db, api.clock.now(), "test-replica")


def executions(api: Api, name: str = "patch-web") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.ok("GET", f"/api/v1/windows/{name}/executions")
    return found


def detail(api: Api, name: str = "patch-web") -> dict[str, Any]:
    (latest, *_) = executions(api, name)
    found: dict[str, Any] = api.ok(
        "GET", f"/api/v1/windows/-/executions/{latest['window_execution_id']}"
    )
    return found


def run_all(nodes: list[Node], failing: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """Every node polls, then each reports what it was given (so a wave's invocations are
    all in flight together); the node ids that ran something."""
    given = [(node, inv) for node in nodes for inv in node.poll()]
    for node, inv in given:
        status = "Failed" if node.id in failing else "Success"
        r = node.report(inv["invocation_id"], status)
        assert r.status_code < 300, r.text
    return [node.id for node, _ in given]
