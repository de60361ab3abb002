"""What the demo asks the server for, through its public API (``/api/v1``): tokens, the
patch baselines and patch groups, the maintenance window, the conformance pack, the first
fleet-wide scan — and the snapshot that says whether the fleet is populated yet."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any, TypeVar

import httpx
import yaml

from patchwarden.errors import EnvironmentProblem

T = TypeVar("T")

BASELINES = {"web": "debian-approve-all", "db": "debian-security-newest-in-release"}
"""Patch group → the baseline registered for it on DEBIAN (documents in ``data/``, copies
of ``examples/baselines/``)."""
PACK = "patching-essentials"
"""The conformance pack (``data/patching-essentials.yaml``, a copy of
``examples/conformance-packs/``)."""
WINDOW = "demo-web-patching"
WINDOW_LEAD = timedelta(minutes=3)
"""How far ahead the window's first run is (a newcomer sees it happen)."""
TERMINAL = {"Success", "Failed", "Incomplete", "TimedOut", "Cancelled"}


def shipped_document(name: str) -> dict[str, Any]:
    """A document shipped in ``patchwarden/demo/data/`` (parsed YAML)."""
    text = resources.files("patchwarden.demo").joinpath("data", f"{name}.yaml").read_text()
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def window_document(first_run: datetime) -> dict[str, Any]:
    """A daily window at ``first_run``'s time of day (UTC) installing the approved patches of
    the ``web`` patch group: a canary node first, then half of the rest at a time."""
    return {
        "apiVersion": "patchwarden/v1",
        "kind": "MaintenanceWindow",
        "metadata": {
            "name": WINDOW,
            "description": "demo: patch the web group daily, canary first",
        },
        "spec": {
            "Schedule": f"cron({first_run.minute} {first_run.hour} * * ? *)",
            "ScheduleTimezone": "UTC",
            "Duration": 1,
            "Cutoff": 0,
            "Targets": [{"Key": "PatchGroup", "Values": ["web"]}],
            "Tasks": [
                {
                    "Name": "install",
                    "TaskArn": "AWS-RunPatchBaseline",
                    "Priority": 1,
                    "MaxConcurrency": [1, "50%"],
                    "MaxErrors": "0",
                    "TaskInvocationParameters": {
                        "RunCommand": {
                            "Parameters": {"Operation": "Install", "RebootOption": "RebootIfNeeded"}
                        }
                    },
                }
            ],
        },
    }


def first_window_run(now: datetime) -> datetime:
    """The window's first run: :data:`WINDOW_LEAD` from ``now``, on a whole minute."""
    at = now + WINDOW_LEAD
    return at.replace(second=0, microsecond=0) + timedelta(minutes=1)


def wait_for(
    what: str,
    check: Callable[[], T | None],
    patience: float,
    detail: Callable[[], str] = lambda: "",
) -> T:
    """Poll ``check`` until it returns something truthy; after ``patience`` seconds a
    one-line error ending with ``detail()`` (what is still missing)."""
    deadline = time.monotonic() + patience
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            why = detail()
            raise EnvironmentProblem(
                f"gave up waiting for {what} after {patience:.0f} s" + (f": {why}" if why else "")
            )
        time.sleep(0.25)


class Api:
    """The server's API with one token; any failure is one line (exit 3)."""

    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def use(self, token: str) -> None:
        """Go on with another token."""
        self.client.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        """One request; the decoded JSON answer."""
        try:
            answer = self.client.request(method, path, json=body, params=params or None)
        except httpx.HTTPError as exc:
            raise EnvironmentProblem(f"demo server: {method} {path}: {exc}") from None
        if answer.status_code >= 400:
            try:
                message = answer.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = answer.text[:200]
            raise EnvironmentProblem(
                f"demo server refused {method} {path} ({answer.status_code}): {message}"
            )
        return answer.json()

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()


def create_tokens(api: Api, initial: str) -> tuple[str, str]:
    """An admin and an operator token for the person running the demo; the server's
    initial admin token (``initial``, which nobody saw) is revoked, and ``api`` goes on
    with the new admin token."""
    admin = api.call("POST", "/api/v1/tokens", {"name": "demo-admin", "role": "admin"})
    operator = api.call("POST", "/api/v1/tokens", {"name": "demo-operator", "role": "operator"})
    api.use(str(admin["token"]))
    initial_id = initial.removeprefix("pwt_").split(".", 1)[0]  # pwt_<token id>.<secret>
    api.call("DELETE", f"/api/v1/tokens/{initial_id}")
    return str(admin["token"]), str(operator["token"])


def seed_documents(api: Api, first_run: datetime) -> None:
    """The baselines, the conformance pack and the window (one apply), then the patch
    groups."""
    documents = [shipped_document(name) for name in (*BASELINES.values(), PACK)]
    api.call("POST", "/api/v1/apply", [*documents, window_document(first_run)])
    for group, baseline in BASELINES.items():
        api.call("POST", "/api/v1/patch-groups", {"patch_group": group, "baseline": baseline})


def create_activation(api: Api, nodes: int) -> dict[str, str]:
    """One activation for every demo node (its code is used at once, never shown)."""
    made = api.call(
        "POST",
        "/api/v1/activations",
        {"registration_limit": nodes, "description": "patchwarden demo"},
    )
    return {"activation_id": made["activation_id"], "activation_code": made["activation_code"]}


def scan_fleet(api: Api, patience: float) -> dict[str, Any]:
    """AWS-RunPatchBaseline Operation=Scan on every node; waits until it ends."""
    sent = api.call(
        "POST",
        "/api/v1/commands",
        {
            "DocumentName": "AWS-RunPatchBaseline",
            "Parameters": {"Operation": "Scan"},
            "Targets": [{"Key": "InstanceIds", "Values": ["*"]}],
            "Comment": "patchwarden demo: first scan",
        },
    )
    path = f"/api/v1/commands/{sent['command_id']}"

    def ended() -> dict[str, Any] | None:
        found: dict[str, Any] = api.call("GET", path)
        return found if found["status"] in TERMINAL else None

    done = wait_for("the fleet-wide scan", ended, patience)
    if done["status"] != "Success":
        raise EnvironmentProblem(f"the demo's scan ended {done['status']} (see the agents' logs)")
    return done


@dataclass(frozen=True)
class Snapshot:
    """What the server shows of the demo fleet."""

    nodes: dict[str, dict[str, Any]]
    """Node id → the node as ``GET /api/v1/nodes`` lists it."""
    compliance: dict[str, str]
    """Node id → COMPLIANT / NON_COMPLIANT (reported nodes only)."""
    findings: int
    finding_counts: dict[str, int]
    """Severity → ACTIVE findings."""
    window: dict[str, Any] | None
    pack: dict[str, Any] | None
    assessed: frozenset[str] = frozenset()
    """Nodes whose inventory the server has assessed for vulnerabilities."""

    def problems(self, expected: Mapping[str, str]) -> list[str]:
        """What is not there yet, given each node's expected compliance (empty: ready)."""
        found = []
        offline = [n["name"] for n in self.nodes.values() if n.get("ping_status") != "Online"]
        if len(self.nodes) < len(expected) or offline:
            found.append(f"{len(self.nodes) - len(offline)} of {len(expected)} nodes online")
        wrong = [
            self.nodes[i]["name"]
            for i, state in expected.items()
            if i in self.nodes and self.compliance.get(i) != state
        ]
        if wrong or set(self.compliance.values()) != {"COMPLIANT", "NON_COMPLIANT"}:
            found.append(f"compliance not as expected on {', '.join(wrong) or 'the fleet'}")
        unassessed = [
            self.nodes[i]["name"] for i in expected if i in self.nodes and i not in self.assessed
        ]
        if unassessed:
            found.append(f"findings not assessed on {', '.join(unassessed)}")
        elif not self.findings:
            found.append("no findings")
        if not self.window or not self.window.get("next_execution_time"):
            found.append(f"window {WINDOW} not scheduled")
        if not self.pack or not isinstance(self.pack.get("score"), int | float):
            found.append(f"conformance pack {PACK} not scored")
        return found


def snapshot(api: Api) -> Snapshot:
    """Read the fleet's state from the API."""
    nodes = {n["node_id"]: n for n in api.call("GET", "/api/v1/nodes")}
    compliance = {c["node_id"]: c["compliance"] for c in api.call("GET", "/api/v1/compliance")}
    findings = api.call("GET", "/api/v1/findings", status="ACTIVE")
    windows = {w["name"]: w for w in api.call("GET", "/api/v1/windows")}
    packs = {p["name"]: p for p in api.call("GET", "/api/v1/conformance-packs")["packs"]}
    assessed = frozenset(
        node_id
        for node_id in nodes
        if api.call("GET", f"/api/v1/nodes/{node_id}/findings").get("assessed_at")
    )
    return Snapshot(
        nodes,
        compliance,
        int(findings["count"]),
        {k: int(v) for k, v in findings["counts"].items() if v},
        windows.get(WINDOW),
        packs.get(PACK),
        assessed,
    )


def evaluate_rules(api: Api) -> None:
    """Evaluate every rule on every node now (the periodic ones would wait for their
    timer)."""
    api.call("POST", "/api/v1/rules/evaluate", {})
