"""The browser tests' fleet: a server process and its API as the admin, nodes simulated
over HTTP (they poll and answer as an agent does), and the seed every page shows something
of."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fleet_helpers import DEBIAN_FACTS, Api, FakeClock, Node, scan_report
from fleet_processes import Server, wait_for
from governance_helpers import remediation, rule, runbook

from patchwarden.wire import content_hash, item_hash

OLD_SSL, NEW_SSL = "3.0.11-1~deb12u2", "3.0.15-1~deb12u1"
TRACKER = {
    "openssl": {
        "CVE-2026-2001": {
            "releases": {
                "bookworm": {
                    "status": "resolved",
                    "repositories": {},
                    "urgency": "high",
                    "fixed_version": NEW_SSL,
                }
            },
            "description": "",
            "scope": "remote",
        }
    },
    "zlib": {
        "CVE-2026-2002": {
            "releases": {"bookworm": {"status": "open", "repositories": {}, "urgency": "medium"}},
            "description": "",
            "scope": "remote",
        }
    },
}
"""A Debian security tracker file: a fixed HIGH in openssl, an open MEDIUM in zlib."""


def _item(name: str, version: str, source: str = "") -> dict[str, str]:
    return {"kind": "installed", "name": name, "arch": "amd64", "version": version,
            "source_name": source}  # fmt: skip


PACKAGES = [
    _item("openssl", OLD_SSL),
    _item("libssl3", OLD_SSL, "openssl"),
    _item("zlib1g", "1:1.2.13.dfsg-1", "zlib"),
    _item("bash", "5.2.15-2+b2"),
]
"""An inventory the tracker finds vulnerable (openssl twice, zlib once)."""


def build_vulndb(path: Path) -> None:
    """The server's vulnerability database, imported from :data:`TRACKER`."""
    from patchwarden.adapters.feeds import FEEDS, classify
    from patchwarden.adapters.vulndb import SqliteVulnDb
    from patchwarden.pipeline.dbupdate import import_path

    path.parent.mkdir(parents=True, exist_ok=True)
    feed = path.parent / "tracker.json"
    feed.write_text(json.dumps(TRACKER))
    db = SqliteVulnDb(path)
    import_path(db, feed, FEEDS, classify, datetime(2026, 2, 1, tzinfo=UTC))
    db.close()


APPROVAL_RUNBOOK = runbook(
    "tag-owner-approved",
    [
        {"name": "ask", "action": "approve", "inputs": {"MinRequiredApprovals": 1}},
        {
            "name": "tag",
            "action": "addTags",
            "inputs": {"NodeId": "{{NodeId}}", "Tags": {"Owner": "ops"}},
        },
    ],
)
OWNER_RULE = rule(
    "owner-tag",
    {
        "Type": "required-tags",
        "Parameters": {"TagKeys": ["Owner"]},
        "Remediation": remediation("tag-owner-approved", Automatic=False),
    },
)
"""A rule whose remediation waits for an operator's approval (started by hand)."""
DEPLOYMENT = {
    "apiVersion": "patchwarden/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "image": "web:1.x.x",
        "deploymentGroup": {
            "name": "web",
            "instances": 2,
            "deployer": {"type": "runc", "basePort": 18080},
            "trafficRouter": {"type": "nginx", "listen": "127.0.0.1:18079"},
        },
    },
}
"""A Deployment that never runs here (no image is built): its pages show it as it is."""


@dataclass
class Fleet:
    """A running server, its API as the admin, and the seeded nodes by name."""

    server: Server
    api: Api
    nodes: dict[str, Node] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def token(self, role: str) -> str:
        return self.api.token(role)

    def register(self, name: str, tags: dict[str, str]) -> Node:
        activation = self.api.activation(registration_limit=1)
        facts = {**DEBIAN_FACTS, "hostname": name}
        node = self.api.register(activation, tags=tags, facts=facts, name=name)
        self.nodes[name] = node
        return node

    def scan(self, reports: dict[str, dict[str, Any] | None]) -> str:
        """Send a Scan to the named nodes; each answers (with its report, when given)."""
        ids = [self.nodes[name].id for name in reports]
        sent = self.api.send(Targets=[{"Key": "InstanceIds", "Values": ids}]).json()
        for name, report in reports.items():
            (invocation,) = self.nodes[name].poll()
            answer = self.nodes[name].report(invocation["invocation_id"], report=report)
            assert answer.status_code < 300, answer.text
        return str(sent["command_id"])

    def start_remediation(self, node: Node) -> dict[str, Any]:
        """A manual run of ``owner-tag`` on ``node``: it waits for an operator's approval."""
        body = {"rule": "owner-tag", "resource_id": node.id}
        run: dict[str, Any] = self.api.ok(
            "POST", "/api/v1/remediations", self.token("operator"), json=body
        )
        assert run["execution_status"] == "Waiting", run
        return run


def seed(fleet: Fleet) -> None:
    """Something on every page: nodes of two patch groups (non-compliant, compliant, not
    reported), a Scan command, a scheduled window and one that ran in two waves, a
    remediation waiting for approval, vulnerability findings, a Deployment (never run)."""
    fleet.register("web-1", {"Patch Group": "web", "Role": "web"})
    fleet.register("web-2", {"Patch Group": "web", "Role": "web"})
    fleet.register("db-1", {"Patch Group": "db", "Role": "db"})
    fleet.register("new-1", {"Patch Group": "db"})  # never reports: UNREPORTED
    fleet.scan(
        {
            "web-1": scan_report("NON_COMPLIANT", 2),
            "web-2": scan_report("COMPLIANT", 0),
            "db-1": scan_report("NON_COMPLIANT", 1),
        }
    )
    window = {
        "apiVersion": "patchwarden/v1",
        "kind": "MaintenanceWindow",
        "metadata": {"name": "web-sunday"},
        "spec": {
            "Schedule": "cron(0 3 ? * SUN *)",
            "ScheduleTimezone": "Europe/Berlin",
            "Duration": 2,
            "Cutoff": 1,
            "Targets": [{"Key": "tag:Patch Group", "Values": ["web"]}],
            "Tasks": [
                {
                    "Name": "install",
                    "MaxConcurrency": [1, "50%"],
                    "MaxErrors": "0",
                    "TaskInvocationParameters": {
                        "RunCommand": {"Parameters": {"Operation": "Install"}}
                    },
                }
            ],
        },
    }
    fleet.api.ok("POST", "/api/v1/windows", json=window)
    fleet.api.ok("POST", "/api/v1/apply", json=[APPROVAL_RUNBOOK, OWNER_RULE, DEPLOYMENT])
    fleet.start_remediation(fleet.nodes["db-1"])
    inventory = {"items": PACKAGES, "content_hash": content_hash(item_hash(i) for i in PACKAGES)}
    for name in ("web-1", "db-1"):
        answer = fleet.nodes[name].call("PUT", "/api/v1/agent/inventory", json=inventory)
        assert answer.status_code == 200, answer.text
    run_window_now(fleet, "web-now", "web", ["web-1", "web-2"])
    wait_for(
        "the findings of the uploaded inventories",
        lambda: fleet.api.ok("GET", "/api/v1/findings")["count"] >= 6,
        60,
    )


def run_window_now(fleet: Fleet, name: str, group: str, answering: list[str]) -> None:
    """A window of patch group ``group`` that starts in two seconds; the ``answering`` nodes
    answer each invocation with Success until the execution ends."""
    when = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    window = {
        "apiVersion": "patchwarden/v1",
        "kind": "MaintenanceWindow",
        "metadata": {"name": name},
        "spec": {
            "Schedule": f"at({when:%Y-%m-%dT%H:%M:%S})",
            "Duration": 1,
            "Cutoff": 0,
            "Targets": [{"Key": "tag:Patch Group", "Values": [group]}],
            "Tasks": [
                {
                    "Name": "install",
                    "MaxConcurrency": [1, "50%"],
                    "MaxErrors": "0",
                    "TaskInvocationParameters": {
                        "RunCommand": {
                            "Parameters": {"Operation": "Install", "RebootOption": "NoReboot"}
                        }
                    },
                }
            ],
        },
    }
    fleet.api.ok("POST", "/api/v1/windows", json=window)

    def ended() -> bool:
        for node in answering:
            for invocation in fleet.nodes[node].poll():
                fleet.nodes[node].report(invocation["invocation_id"])
        runs = fleet.api.ok("GET", f"/api/v1/windows/{name}/executions")
        return bool(runs) and runs[0]["status"] in {"SUCCESS", "FAILED", "TIMED_OUT"}

    wait_for(f"the execution of window {name}", ended, 60)


SERVER_ENV = {
    "PATCHWARDEN_SCHEDULER_INTERVAL": "1",
    "PATCHWARDEN_GOVERNANCE_INTERVAL": "1",
    "PATCHWARDEN_ASSESS_INTERVAL": "1",
    "PATCHWARDEN_IMAGES_INTERVAL": "0",
}
"""The windows' scheduler, governance and vulnerability assessment each second (the seed
and the wave test watch them work)."""


def start_server(home: Path, db_url: str) -> Server:
    """``patchwarden server`` with :data:`SERVER_ENV` (only this process sees it) and a
    vulnerability database in its home."""
    from patchwarden import settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATCHWARDEN_HOME", str(home))
        build_vulndb(settings.vulndb_path())
        for name, value in SERVER_ENV.items():
            mp.setenv(name, value)
        return Server(home, db_url)


@contextmanager
def start_fleet(home: Path, db_url: str) -> Iterator[Fleet]:
    """A server over ``db_url`` with its home in ``home``, seeded (:func:`seed`)."""
    server = start_server(home, db_url)
    client = httpx.Client(base_url=server.url, timeout=60)
    try:
        fleet = Fleet(server, Api(client, server.admin_token, FakeClock()))
        seed(fleet)
        yield fleet
    finally:
        client.close()
        server.stop()
