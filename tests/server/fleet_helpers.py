"""Helpers for the server tests: a movable clock and an API client that knows its tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from patchwarden.core.baseline import default_baseline
from patchwarden.core.compliance import evaluate
from patchwarden.core.model import InstalledPackage, Inventory, Operation, OsInfo, Package
from patchwarden.core.report import NodeFacts, Report
from patchwarden.render.json import report_dict

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEBIAN_FACTS = {
    "hostname": "web1",
    "os_id": "debian",
    "os_version": "12",
    "operating_system": "DEBIAN",
    "product": "Debian12",
    "agent_version": "test",
}


@dataclass
class FakeClock:
    """``now`` starts at :data:`T0`; ``advance`` moves it."""

    current: datetime = T0

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Node:
    """A registered node as a test sees it."""

    id: str
    credential: str
    api: Api

    def call(self, method: str, url: str, **kw: Any) -> httpx.Response:
        headers = {**bearer(self.credential), **kw.pop("headers", {})}
        return self.api.client.request(method, url, headers=headers, **kw)  # type: ignore[no-any-return]

    def poll(self, wait: float = 0) -> list[dict[str, Any]]:
        r = self.call("GET", "/api/v1/agent/commands", params={"wait": wait})
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()["invocations"]
        return found

    def report(
        self, invocation_id: str, status: str = "Success", report: dict[str, Any] | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {"status": status, "output": f"{status} on {self.id}"}
        if report is not None:
            body["report"] = report
        return self.call("POST", f"/api/v1/agent/invocations/{invocation_id}", json=body)


@dataclass
class Api:
    """The test client plus the bootstrap admin token."""

    client: Any
    admin: str
    clock: FakeClock
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, url: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = bearer(token if token is not None else self.admin)
        return self.client.request(method, url, headers=headers, **kw)  # type: ignore[no-any-return]

    def ok(self, method: str, url: str, token: str | None = None, **kw: Any) -> Any:
        r = self.call(method, url, token, **kw)
        assert r.status_code < 300, f"{method} {url}: {r.status_code} {r.text}"
        return r.json()

    def token(self, role: str) -> str:
        if role not in self.tokens:
            made = self.ok("POST", "/api/v1/tokens", json={"name": f"t-{role}", "role": role})
            self.tokens[role] = made["token"]
        return self.tokens[role]

    def activation(self, **body: Any) -> dict[str, Any]:
        made: dict[str, Any] = self.ok("POST", "/api/v1/activations", json=body)
        return made

    def register(
        self,
        activation: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        facts: dict[str, str] | None = None,
        name: str = "",
    ) -> Node:
        act = activation or self.activation(registration_limit=1)
        r = self.client.post(
            "/api/v1/register",
            json={
                "activation_id": act["activation_id"],
                "activation_code": act["activation_code"],
                "tags": tags or {},
                "facts": facts or DEBIAN_FACTS,
                "name": name,
            },
        )
        assert r.status_code == 201, r.text
        return Node(r.json()["node_id"], r.json()["credential"], self)

    def send(self, token: str | None = None, **body: Any) -> httpx.Response:
        body.setdefault("Parameters", {"Operation": "Scan"})
        return self.call("POST", "/api/v1/commands", token, json=body)


def error_of(response: httpx.Response) -> tuple[int, str]:
    """(status, error code), checking the error shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"], body
    return response.status_code, body["error"]["code"]


def scan_report(compliance: str = "NON_COMPLIANT", missing: int = 1) -> dict[str, Any]:
    """A Scan report of a Debian 12 node made by the product itself (``core.compliance`` +
    ``render.json.report_dict``, as an agent sends it): 3 packages INSTALLED and ``missing``
    MISSING security updates (``compliance`` must agree: COMPLIANT only with 0 missing)."""
    assert (compliance == "COMPLIANT") == (missing == 0), "a report cannot say that"
    os_info = OsInfo(
        "debian", "12", "bookworm", "Debian GNU/Linux 12", "debian", "DEBIAN", "Debian12"
    )

    def security(name: str, version: str) -> Package:
        return Package(
            name, "all", version, update_notice=True, classification="Security", priority="optional"
        )

    installed = [security(f"ok{i}", "1.0-1") for i in range(3)]
    installed += [Package(f"pkg{i}", "all", "1.0-1") for i in range(missing)]
    updates = [security(f"pkg{i}", "1.0-1+deb12u1") for i in range(missing)]
    inventory = Inventory(
        os_info,
        "web1",
        "/",
        "deb",
        tuple(InstalledPackage(p) for p in installed),
        tuple(updates),
    )
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    baseline = default_baseline("DEBIAN")
    result = evaluate(inventory, baseline, at)
    report = Report(
        NodeFacts("web1", "/", os_info),
        baseline.name,
        Operation.SCAN,
        at,
        result.items,
        result.summary,
    )
    assert report.summary.compliance.value == compliance
    return report_dict(report)
