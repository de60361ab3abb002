"""The server assesses every uploaded inventory against the vulnerability database, in the
background (:func:`patchwarden.server.vulns.assess_pending`, driven by the tests): findings
stored per node with their lifecycle, served by the API, judged by ``no-active-findings``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import T0, Api, FakeClock, error_of
from governance_helpers import apply, latest, rule

from patchwarden.server import vulns
from patchwarden.server.settings import (
    ASSESS_ENV,
    GOVERNANCE_ENV,
    IMAGES_ENV,
    SCHEDULER_ENV,
    Intervals,
)
from patchwarden.wire import content_hash, item_hash

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
    _touch(path, -DAY)  # older than the test clock's first assessment
    return path


def _touch(path: Path, seconds: float) -> None:
    """Set the modification time of ``path`` to the test clock's start plus ``seconds``."""
    at = T0.timestamp() + seconds
    os.utime(path, (at, at))


@pytest.fixture(autouse=True)
def _driven_by_the_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """No background assessment loop; no failures remembered from another test."""
    monkeypatch.setenv(ASSESS_ENV, "0")
    monkeypatch.setattr(vulns, "_failed", {})
    monkeypatch.setattr(vulns, "_broken", None)
    from patchwarden.server import vulndb_updates

    monkeypatch.setattr(vulndb_updates, "_last", None)


def _app(db_url: str, clock: FakeClock, vulndb_path: Path) -> Iterator[Api]:
    from fastapi.testclient import TestClient

    from patchwarden.server.app import bootstrap_admin, create_app
    from patchwarden.server.settings import ServerSettings

    settings = ServerSettings(
        database_url=db_url, clock=clock, migrate=False, vulndb_path=vulndb_path
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


def assess(api: Api, limit: int = vulns.BATCH) -> int:
    """One background assessment round of the server behind ``api``."""
    state = api.client.app.state
    return vulns.assess_pending(state.db, state.settings, limit=limit)


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
    assert assess(vapi) == 1
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
    assert assess(vapi) == 1
    first = by_key(vapi.ok("GET", f"/api/v1/nodes/{node.id}/findings"))
    vapi.clock.advance(DAY)
    node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES))
    assert assess(vapi) == 1  # a full upload is reassessed, even with the same items
    second = by_key(vapi.ok("GET", f"/api/v1/nodes/{node.id}/findings"))
    key = ("CVE-2026-2001", "openssl")
    assert second[key]["first_observed"] == first[key]["first_observed"]
    assert second[key]["last_observed"] > first[key]["last_observed"]

    vapi.clock.advance(DAY)
    upgrade_openssl(node, PACKAGES)
    assert assess(vapi) == 1
    after = by_key(vapi.ok("GET", f"/api/v1/nodes/{node.id}/findings"))
    assert after[key]["status"] == "CLOSED"
    assert after[("CVE-2026-2001", "libssl3")]["status"] == "CLOSED"
    assert after[("CVE-2026-2002", "zlib1g")]["status"] == "ACTIVE"
    closed = vapi.ok("GET", "/api/v1/findings", params={"status": "CLOSED"})
    assert closed["count"] == 2


def test_no_database_no_assessment(bare_api: Api) -> None:
    node = bare_api.register()
    assert node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES)).status_code == 200
    assert assess(bare_api) == 0
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
    assert latest(vapi, "vuln-sla", node.id) == "INSUFFICIENT_DATA"  # not assessed yet
    assert assess(vapi) == 1  # the assessment runs the change-triggered rules
    assert latest(vapi, "vuln-sla", node.id) == "COMPLIANT"  # within the SLA
    vapi.clock.advance(31 * DAY)
    heartbeat(node, PACKAGES)  # the heartbeat's rules judge the stored findings
    assert latest(vapi, "vuln-sla", node.id) == "NON_COMPLIANT"
    assert assess(vapi) == 0
    vapi.clock.advance(DAY)
    upgrade_openssl(node, PACKAGES)
    assert latest(vapi, "vuln-sla", node.id) == "NON_COMPLIANT"  # judged before assessing
    assert assess(vapi) == 1
    assert latest(vapi, "vuln-sla", node.id) == "COMPLIANT"  # the MEDIUM one is below it


# --- the background assessment (patchwarden.server.vulns) ---------------------------------


def _rows(api: Api, node_id: str) -> tuple[int, Any]:
    """(node_findings rows, node_assessments.assessed_at) of ``node_id``."""
    from sqlalchemy import func, select

    from patchwarden.adapters.storage.findings import NodeAssessmentRow, NodeFindingRow

    with api.client.app.state.db.read() as session:
        count = session.scalar(
            select(func.count())
            .select_from(NodeFindingRow)
            .where(NodeFindingRow.node_id == node_id)
        )
        return count, session.scalar(
            select(NodeAssessmentRow.assessed_at).where(NodeAssessmentRow.node_id == node_id)
        )


def _pending(api: Api) -> list[str]:
    state = api.client.app.state
    db_time = vulns._database_time(state.settings.vulndb_path)
    assert db_time is not None
    with state.db.read() as session:
        return vulns.pending(session, db_time, 100)


@pytest.fixture
def own_db(tmp_path: Path, vulndb: Path) -> Path:
    """A copy of the vulnerability database this test may touch."""
    import shutil

    path = tmp_path / "vulndb.sqlite"
    shutil.copy2(vulndb, path)
    _touch(path, -DAY)
    return path


@pytest.fixture
def own_api(db_url: str, clock: FakeClock, own_db: Path) -> Iterator[Api]:
    yield from _app(db_url, clock, own_db)


def test_the_upload_only_stores_the_inventory(vapi: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_vulndb(*_: Any) -> None:
        raise AssertionError("the upload opened the vulnerability database")

    monkeypatch.setattr("patchwarden.adapters.vulndb.SqliteVulnDb.__init__", no_vulndb)
    node = vapi.register()
    assert node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES)).status_code == 200
    assert _rows(vapi, node.id) == (0, None)
    assert vapi.ok("GET", f"/api/v1/nodes/{node.id}/findings")["assessed_at"] is None
    assert _pending(vapi) == [node.id]
    monkeypatch.undo()
    monkeypatch.setenv(ASSESS_ENV, "0")
    assert assess(vapi) == 1
    count, assessed_at = _rows(vapi, node.id)
    assert count == 3 and assessed_at == vapi.clock.now()
    assert _pending(vapi) == [] and assess(vapi) == 0


def test_an_unchanged_delta_leaves_nothing_pending(vapi: Api) -> None:
    node = vapi.register()
    node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES))
    assert assess(vapi) == 1
    vapi.clock.advance(DAY)
    heartbeat(node, PACKAGES)
    assert _pending(vapi) == [] and assess(vapi) == 0
    assert _rows(vapi, node.id)[1] == vapi.clock.now() - timedelta(days=1)


def test_a_changed_delta_is_pending_even_at_the_same_time(vapi: Api) -> None:
    """The clock does not move: the upload still dates itself after the assessment."""
    node = vapi.register()
    node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES))
    assert assess(vapi) == 1
    upgrade_openssl(node, PACKAGES)
    assert _pending(vapi) == [node.id]
    assert assess(vapi) == 1
    after = by_key(vapi.ok("GET", f"/api/v1/nodes/{node.id}/findings"))
    assert after[("CVE-2026-2001", "openssl")]["status"] == "CLOSED"
    assert assess(vapi) == 0


def test_a_newer_database_reassesses_every_node(own_api: Api, own_db: Path) -> None:
    nodes = [own_api.register(), own_api.register()]
    for node in nodes:
        node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES))
    assert assess(own_api) == 2
    own_api.clock.advance(DAY)
    _touch(own_db, DAY / 2)  # `db update` ran after the assessment
    assert sorted(_pending(own_api)) == sorted(n.id for n in nodes)
    assert assess(own_api) == 2
    assert all(_rows(own_api, n.id)[1] == own_api.clock.now() for n in nodes)
    assert assess(own_api) == 0


def test_the_limit_bounds_a_round(vapi: Api) -> None:
    for _ in range(3):
        vapi.register().call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES))
    assert assess(vapi, limit=2) == 2
    assert len(_pending(vapi)) == 1
    assert assess(vapi, limit=2) == 1
    assert assess(vapi, limit=2) == 0


def test_deregistered_nodes_are_not_assessed(vapi: Api) -> None:
    node = vapi.register()
    node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES))
    vapi.ok("DELETE", f"/api/v1/nodes/{node.id}")
    assert assess(vapi) == 0


@pytest.mark.parametrize("content", [b"not a database at all" * 100, b""])
def test_an_unreadable_database_warns_and_writes_nothing(
    db_url: str,
    clock: FakeClock,
    tmp_path: Path,
    content: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "vulndb.sqlite"
    path.write_bytes(content)
    _touch(path, -DAY)
    server = _app(db_url, clock, path)
    api = next(server)
    try:
        node = api.register()
        node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES))
        with caplog.at_level("WARNING", logger="patchwarden.server.vulns"):
            assert assess(api) == 0
            assert assess(api) == 0  # warned once per file version
        warnings = [r for r in caplog.records if r.name == "patchwarden.server.vulns"]
        assert len(warnings) == 1 and "vulnerability database" in warnings[0].getMessage()
        assert _rows(api, node.id) == (0, None)
        assert _pending(api) == [node.id]
    finally:
        server.close()


def test_a_failing_node_is_skipped_until_it_changes(
    vapi: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bad, good = vapi.register(), vapi.register()
    for node in (bad, good):
        node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES))
    real = vulns.assess

    def flaky(inventory: Any, *args: Any, **kw: Any) -> Any:
        if inventory.root == bad.id:
            raise ValueError("boom")
        return real(inventory, *args, **kw)

    monkeypatch.setattr(vulns, "assess", flaky)
    with caplog.at_level("WARNING", logger="patchwarden.server.vulns"):
        assert assess(vapi, limit=1) == 1  # the failing node does not starve the other
        assert assess(vapi) == 0  # and it is tried once: not again while nothing changed
    assert len([r for r in caplog.records if "boom" in r.getMessage()]) == 1
    assert _rows(vapi, bad.id) == (0, None) and _rows(vapi, good.id)[0] == 3
    monkeypatch.setattr(vulns, "assess", real)
    upgrade_openssl(bad, PACKAGES)
    assert assess(vapi) == 1


def test_an_upload_during_the_assessment_keeps_the_node_pending(
    vapi: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The round read the old inventory: its result is dropped, the next round redoes it."""
    node = vapi.register()
    node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES))
    real = vulns.assess

    def racing(*args: Any, **kw: Any) -> Any:
        result = real(*args, **kw)
        monkeypatch.setattr(vulns, "assess", real)
        upgrade_openssl(node, PACKAGES)  # while the matching runs
        return result

    monkeypatch.setattr(vulns, "assess", racing)
    assert assess(vapi) == 0
    assert _rows(vapi, node.id) == (0, None) and _pending(vapi) == [node.id]
    assert assess(vapi) == 1
    keys = by_key(vapi.ok("GET", f"/api/v1/nodes/{node.id}/findings"))
    assert set(keys) == {("CVE-2026-2002", "zlib1g")}  # the upgraded inventory's


def test_another_replica_assessing_a_node_is_left_alone(vapi: Api, db_url: str) -> None:
    """PostgreSQL: the node's advisory lock, held by another replica, makes this one skip;
    so does an upload holding the node's inventory row."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serialises the writers of its one server process")
    from sqlalchemy import text

    from patchwarden.adapters.storage import make_engine

    node = vapi.register()
    node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES))
    other = make_engine(db_url)
    try:
        with other.connect() as conn, conn.begin():
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": vulns._lock_key(node.id)})
            assert assess(vapi) == 0
        with other.connect() as conn, conn.begin():
            conn.execute(
                text("SELECT 1 FROM inventories WHERE node_id = :n FOR UPDATE"), {"n": node.id}
            )
            assert assess(vapi) == 0
        assert _rows(vapi, node.id) == (0, None)
        assert assess(vapi) == 1
    finally:
        other.dispose()


def test_intervals_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from patchwarden.errors import InputError

    for name in (ASSESS_ENV, SCHEDULER_ENV, GOVERNANCE_ENV, IMAGES_ENV):
        monkeypatch.delenv(name, raising=False)
    assert Intervals.from_env() == Intervals(
        scheduler=15.0, governance=5.0, assess=2.0, images=30.0
    )
    monkeypatch.setenv(ASSESS_ENV, "0")
    assert Intervals.from_env().assess == 0
    for name in (ASSESS_ENV, SCHEDULER_ENV, GOVERNANCE_ENV, IMAGES_ENV):  # each read once
        for bad in ("-1", "soon", "7200"):
            monkeypatch.setenv(name, bad)
            with pytest.raises(InputError, match=name):
                Intervals.from_env()
        monkeypatch.delenv(name)


def test_the_loop_survives_a_failing_round(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    calls: list[int] = []
    done = asyncio.Event()

    def round_(*_: Any) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database gone")
        done.set()
        return 0

    async def run() -> None:
        task = asyncio.create_task(vulns.loop(Any, Any, 0))  # type: ignore[arg-type]
        await asyncio.wait_for(done.wait(), 10)
        task.cancel()

    monkeypatch.setattr(vulns, "assess_pending", round_)
    with caplog.at_level("ERROR", logger="patchwarden.server.vulns"):
        asyncio.run(run())
    assert len(calls) >= 2
    assert any("round failed" in r.getMessage() for r in caplog.records)


SUPPRESSION = {
    "apiVersion": "patchwarden/v1",
    "kind": "Suppression",
    "metadata": {"name": "prod-openssl"},
    "spec": {
        "Reason": "not reachable on prod: re-check at the next release",
        "VulnerabilityIds": ["CVE-2026-2001"],
        "NodeTags": {"Env": "prod*"},
        "ExpiresAt": "2026-03-02T12:00:00Z",
    },
}


def _statuses(api: Api, node_id: str) -> dict[tuple[str, str], str]:
    found = api.ok("GET", f"/api/v1/nodes/{node_id}/findings")
    return {k: f["status"] for k, f in by_key(found).items()}


def test_fleet_suppressions_by_node_tag_apply_on_the_matching_nodes_and_expire(
    vapi: Api,
) -> None:
    prod = vapi.register(tags={"Env": "production"})
    test = vapi.register(tags={"Env": "test"})
    for node in (prod, test):
        assert node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES)).status_code == 200
    assert assess(vapi) == 2
    assert _statuses(vapi, prod.id)[("CVE-2026-2001", "openssl")] == "ACTIVE"

    vapi.clock.advance(1)
    applied = vapi.ok("POST", "/api/v1/apply", json=[SUPPRESSION])
    assert applied["applied"] == [
        {"kind": "Suppression", "name": "prod-openssl", "result": "created"}
    ]
    # applying it makes every node pending: no inventory upload needed
    assert assess(vapi) == 2
    on_prod = _statuses(vapi, prod.id)
    assert on_prod[("CVE-2026-2001", "openssl")] == "SUPPRESSED"
    assert on_prod[("CVE-2026-2001", "libssl3")] == "SUPPRESSED"
    assert on_prod[("CVE-2026-2002", "zlib1g")] == "ACTIVE"
    assert set(_statuses(vapi, test.id).values()) == {"ACTIVE"}
    finding = by_key(vapi.ok("GET", f"/api/v1/nodes/{prod.id}/findings"))[
        ("CVE-2026-2001", "openssl")
    ]
    assert finding["suppressed_by"] == "prod-openssl"
    listed = vapi.ok("GET", "/api/v1/suppressions", vapi.token("viewer"))
    assert listed[0]["node_tags"] == {"Env": "prod*"} and listed[0]["in_force"] is True
    assert assess(vapi) == 0  # nothing changed since

    # past its expiry the nodes are assessed again and the findings are ACTIVE
    vapi.clock.advance(2 * 86400)
    assert vapi.ok("GET", "/api/v1/suppressions")[0]["in_force"] is False
    assert assess(vapi) == 2
    assert set(_statuses(vapi, prod.id).values()) == {"ACTIVE"}

    # deleted: audited, and the nodes assessed again
    again = {**SUPPRESSION, "spec": {**SUPPRESSION["spec"], "ExpiresAt": "2026-12-31"}}
    vapi.clock.advance(1)
    vapi.ok("POST", "/api/v1/apply", json=[again])
    assert assess(vapi) == 2
    assert _statuses(vapi, prod.id)[("CVE-2026-2001", "openssl")] == "SUPPRESSED"
    vapi.clock.advance(1)
    assert vapi.ok("DELETE", "/api/v1/suppressions/prod-openssl")["deleted"] == 1
    assert assess(vapi) == 2
    assert _statuses(vapi, prod.id)[("CVE-2026-2001", "openssl")] == "ACTIVE"
    actions = [e["action"] for e in vapi.ok("GET", "/api/v1/audit")]
    assert {"suppression.create", "suppression.update", "suppression.delete"} <= set(actions)


def test_bad_suppressions_are_refused(vapi: Api) -> None:
    bad = {**SUPPRESSION, "spec": {"Reason": "no criterion"}}
    refused = vapi.call("POST", "/api/v1/apply", json=[bad])
    assert error_of(refused)[0] == 400 and "NodeTags" in refused.json()["error"]["message"]
    empty = {**SUPPRESSION, "spec": {**SUPPRESSION["spec"], "NodeTags": {"Env": " "}}}
    assert error_of(vapi.call("POST", "/api/v1/apply", json=[empty]))[0] == 400
    viewer = vapi.token("viewer")
    assert vapi.call("POST", "/api/v1/apply", viewer, json=[SUPPRESSION]).status_code == 403
    assert error_of(vapi.call("DELETE", "/api/v1/suppressions/none"))[0] == 404


@pytest.fixture
def tracker_server() -> Iterator[dict[str, Any]]:
    """A loopback HTTP server serving the tracker file at /tracker.json (``files`` can
    change it; a missing path answers 404)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    files = {"/tracker.json": json.dumps(TRACKER).encode()}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{httpd.server_address[1]}", "files": files}
    httpd.shutdown()
    httpd.server_close()


def test_the_server_updates_its_database_on_a_schedule_and_reassesses(
    db_url: str, clock: FakeClock, tmp_path: Path, tracker_server: dict[str, Any]
) -> None:
    from dataclasses import replace

    from patchwarden.server import vulndb_updates
    from patchwarden.server.settings import DbUpdates

    db_path = tmp_path / "vulndb.sqlite"
    url = f"debian-tracker={tracker_server['url']}/tracker.json"
    for api in _app(db_url, clock, db_path):
        settings = api.client.app.state.settings
        api.client.app.state.settings = settings = replace(
            settings, db_updates=DbUpdates(3600.0, ("debian-tracker",), (url,))
        )
        node = api.register()
        node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES))
        assert assess(api) == 0  # no database yet
        before = api.ok("GET", "/api/v1/findings/database")
        assert before["available"] is False and before["updates"]["last"] is None

        done = vulndb_updates.update_now(api.client.app.state.db, settings)
        assert done.ok and done.message == "updated: debian-tracker"
        status = api.ok("GET", "/api/v1/findings/database", api.token("viewer"))
        assert status["available"] is True and status["updates"]["every_seconds"] == 3600.0
        assert status["updates"]["last"]["ok"] is True
        (feed,) = status["feeds"]
        assert feed["name"] == "debian-tracker" and feed["records"] == 3
        # the new database reaches the node without an upload
        assert assess(api) == 1
        found = by_key(api.ok("GET", f"/api/v1/nodes/{node.id}/findings"))
        assert ("CVE-2026-2001", "openssl") in found

        # a feed that cannot be read: the update fails, the database stays as it was
        tracker_server["files"].clear()
        failed = vulndb_updates.update_now(api.client.app.state.db, settings)
        assert not failed.ok and "404" in failed.message
        status = api.ok("GET", "/api/v1/findings/database")
        assert status["updates"]["last"]["ok"] is False and status["feeds"][0]["records"] == 3
        audit = [e for e in api.ok("GET", "/api/v1/audit") if e["action"] == "vulndb.update"]
        assert len(audit) == 2 and {e["actor"] for e in audit} == {"scheduler"}


def test_db_update_settings_from_the_environment() -> None:
    from patchwarden.errors import InputError
    from patchwarden.server.settings import DbUpdates

    assert DbUpdates.from_env({}).every == 0.0
    conf = DbUpdates.from_env(
        {
            "PATCHWARDEN_DB_UPDATE_EVERY": "6h",
            "PATCHWARDEN_DB_UPDATE_FEEDS": "debian-tracker, cisa-kev",
            "PATCHWARDEN_DB_UPDATE_URLS": "cisa-kev=http://mirror/kev.json",
        }
    )
    assert conf.every == 21600 and conf.feeds == ("debian-tracker", "cisa-kev")
    assert conf.urls == ("cisa-kev=http://mirror/kev.json",)
    with pytest.raises(InputError, match="PATCHWARDEN_DB_UPDATE_EVERY: not an age"):
        DbUpdates.from_env({"PATCHWARDEN_DB_UPDATE_EVERY": "often"})
