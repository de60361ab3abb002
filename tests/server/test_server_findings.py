"""The server assesses every uploaded inventory against the vulnerability database: findings
stored per node with their lifecycle, served by the API, judged by ``no-active-findings``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import Api, FakeClock, error_of
from governance_helpers import apply, latest, rule

from patchwarden.core.inventory_hash import content_hash, item_hash

DAY = 86400.0
OLD_SSL = "3.0.11-1~deb12u2"
NEW_SSL = "3.0.15-1~deb12u1"


def _release(status: str, urgency: str, fixed: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"status": status, "repositories": {}, "urgency": urgency}
    if fixed is not None:
        entry["fixed_version"] = fixed
    return {"releases": {"bookworm": entry}, "description": "", "scope": "remote"}


TRACKER = {
    "openssl": {"CVE-2026-2001": _release("resolved", "high", NEW_SSL)},
    "zlib": {"CVE-2026-2002": _release("open", "medium")},  # no fix yet
    "curl": {"CVE-2026-2003": _release("resolved", "high", "7.0-1")},  # installed is newer
}


@pytest.fixture(scope="module")
def vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A vulnerability database imported from a Debian security tracker file."""
    from datetime import UTC, datetime

    from patchwarden.adapters.feeds import FEEDS, classify
    from patchwarden.adapters.vulndb import SqliteVulnDb
    from patchwarden.pipeline.dbupdate import import_path

    base = tmp_path_factory.mktemp("vulndb")
    feed = base / "tracker.json"
    feed.write_text(json.dumps(TRACKER))
    path = base / "vulndb.sqlite"
    db = SqliteVulnDb(path)
    import_path(db, feed, FEEDS, classify, datetime(2026, 2, 1, tzinfo=UTC))
    db.close()
    return path


def _app(db_url: str, clock: FakeClock, vulndb_path: Path) -> Iterator[Api]:
    from fastapi.testclient import TestClient

    from patchwarden.server.app import bootstrap_admin, create_app
    from patchwarden.server.settings import ServerSettings

    settings = ServerSettings(
        database_url=db_url, clock=clock.now, migrate=False, vulndb_path=vulndb_path
    )
    app = create_app(settings)
    admin = bootstrap_admin(app.state.db, settings)
    assert admin is not None
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, admin, clock)


@pytest.fixture
def vapi(db_url: str, clock: FakeClock, vulndb: Path) -> Iterator[Api]:
    """The API of a server with a vulnerability database."""
    yield from _app(db_url, clock, vulndb)


@pytest.fixture
def bare_api(db_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Api]:
    """The API of a server whose vulnerability database does not exist yet."""
    yield from _app(db_url, clock, tmp_path / "missing.sqlite")


def item(name: str, version: str, source: str = "", kind: str = "installed") -> dict[str, str]:
    return {"kind": kind, "name": name, "arch": "amd64", "version": version, "source_name": source}


PACKAGES = [
    item("openssl", OLD_SSL),
    item("libssl3", OLD_SSL, "openssl"),
    item("zlib1g", "1:1.2.13.dfsg-1", "zlib"),
    item("curl", "7.88.1-10+deb12u5"),
    item("bash", "5.2.15-2+b2"),
]


def full(items: list[dict[str, str]]) -> dict[str, Any]:
    return {"items": items, "content_hash": content_hash(item_hash(i) for i in items)}


def upgrade_openssl(node: Any, current: list[dict[str, str]]) -> list[dict[str, str]]:
    """A delta upload: openssl and libssl3 at the fixed version."""
    old = [i for i in current if i["version"] == OLD_SSL]
    new = [{**i, "version": NEW_SSL} for i in old]
    after = [i for i in current if i not in old] + new
    delta = {
        "base_hash": content_hash(item_hash(i) for i in current),
        "content_hash": content_hash(item_hash(i) for i in after),
        "added": new,
        "removed": [item_hash(i) for i in old],
    }
    r = node.call("PATCH", "/api/v1/agent/inventory", json=delta)
    assert r.status_code == 200, r.text
    return after


def heartbeat(node: Any, current: list[dict[str, str]]) -> None:
    same = content_hash(item_hash(i) for i in current)
    r = node.call(
        "PATCH", "/api/v1/agent/inventory", json={"base_hash": same, "content_hash": same}
    )
    assert r.status_code == 200, r.text


def by_key(found: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f["vulnerability_id"], f["package_name"]): f for f in found["findings"]}


def test_upload_is_assessed_and_findings_are_served(vapi: Api) -> None:
    node = vapi.register()
    assert node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES)).status_code == 200
    viewer = vapi.token("viewer")
    found = vapi.ok("GET", f"/api/v1/nodes/{node.id}/findings", viewer)
    assert found["assessed"] is True and found["assessed_at"] is not None
    keys = by_key(found)
    assert set(keys) == {
        ("CVE-2026-2001", "openssl"),
        ("CVE-2026-2001", "libssl3"),
        ("CVE-2026-2002", "zlib1g"),
    }
    ssl = keys[("CVE-2026-2001", "openssl")]
    assert ssl["status"] == "ACTIVE" and ssl["severity"] == "HIGH"
    assert ssl["fixed_version"] == NEW_SSL and ssl["fix_available"] == "YES"
    assert keys[("CVE-2026-2002", "zlib1g")]["fix_available"] == "NO"
    # most severe first
    assert found["findings"][0]["severity"] == "HIGH"

    fleet = vapi.ok("GET", "/api/v1/findings", viewer, params={"severity": "high"})
    assert fleet["count"] == 2 and fleet["counts"]["HIGH"] == 2
    assert {f["node_id"] for f in fleet["findings"]} == {node.id}
    assert fleet["findings"][0]["hostname"] == "web1"
    assert vapi.ok("GET", "/api/v1/findings", params={"package": "zlib1g"})["count"] == 1
    everything = vapi.ok("GET", "/api/v1/findings")
    assert everything["counts"]["MEDIUM"] == 1 and everything["count"] == 3

    assert error_of(vapi.call("GET", "/api/v1/findings", params={"severity": "bad"})) == (
        400,
        "invalid_request",
    )
    assert error_of(vapi.call("GET", "/api/v1/findings", params={"status": "OPEN"}))[0] == 400
    assert error_of(vapi.call("GET", "/api/v1/nodes/mi-00000000000000000/findings"))[0] == 404
    assert vapi.call("GET", "/api/v1/findings", "").status_code == 401


def test_findings_keep_first_observed_and_close_when_fixed(vapi: Api) -> None:
    node = vapi.register()
    node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES))
    first = by_key(vapi.ok("GET", f"/api/v1/nodes/{node.id}/findings"))
    vapi.clock.advance(DAY)
    node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES))
    second = by_key(vapi.ok("GET", f"/api/v1/nodes/{node.id}/findings"))
    key = ("CVE-2026-2001", "openssl")
    assert second[key]["first_observed"] == first[key]["first_observed"]
    assert second[key]["last_observed"] > first[key]["last_observed"]

    vapi.clock.advance(DAY)
    upgrade_openssl(node, PACKAGES)
    after = by_key(vapi.ok("GET", f"/api/v1/nodes/{node.id}/findings"))
    assert after[key]["status"] == "CLOSED"
    assert after[("CVE-2026-2001", "libssl3")]["status"] == "CLOSED"
    assert after[("CVE-2026-2002", "zlib1g")]["status"] == "ACTIVE"
    closed = vapi.ok("GET", "/api/v1/findings", params={"status": "CLOSED"})
    assert closed["count"] == 2


def test_no_database_no_assessment(bare_api: Api) -> None:
    node = bare_api.register()
    assert node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES)).status_code == 200
    found = bare_api.ok("GET", f"/api/v1/nodes/{node.id}/findings")
    assert found == {
        "node_id": node.id,
        "assessed_at": None,
        "assessed": False,
        "warnings": [],
        "findings": [],
    }
    apply(bare_api, rule("sla", {"Type": "no-active-findings"}))
    heartbeat(node, PACKAGES)
    assert latest(bare_api, "sla", node.id) == "INSUFFICIENT_DATA"


def test_no_active_findings_judges_the_stored_findings(vapi: Api) -> None:
    apply(
        vapi,
        rule(
            "vuln-sla",
            {
                "Type": "no-active-findings",
                "Parameters": {"MinimumSeverity": "HIGH", "MaxDaysWithFix": 30},
            },
        ),
    )
    node = vapi.register()
    node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES))
    assert latest(vapi, "vuln-sla", node.id) == "COMPLIANT"  # within the SLA
    vapi.clock.advance(31 * DAY)
    heartbeat(node, PACKAGES)
    assert latest(vapi, "vuln-sla", node.id) == "NON_COMPLIANT"
    vapi.clock.advance(DAY)
    upgrade_openssl(node, PACKAGES)
    assert latest(vapi, "vuln-sla", node.id) == "COMPLIANT"  # the MEDIUM one is below it
