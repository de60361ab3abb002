"""``GET /metrics``: Prometheus gauges that say what the JSON API says (on SQLite and
PostgreSQL), who may scrape, the agent poll histogram, the scheduler's lag, the
vulnerability database's age; and ``/docs`` / ``/redoc`` served without any CDN."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import T0, Api, FakeClock, Node, bearer, error_of, scan_report
from prometheus_client.parser import text_string_to_metric_families
from test_server_findings import PACKAGES, TRACKER, full

from patchwarden.core.presence import PING_STATUSES
from patchwarden.server import vulns
from patchwarden.server.metrics import Observed, scheduler_metrics
from patchwarden.server.settings import METRICS_PUBLIC_ENV, metrics_public_from_env
from patchwarden.server.windows import scheduler

DAY = 86400.0
Samples = dict[str, dict[frozenset[tuple[str, str]], float]]


@pytest.fixture(scope="module")
def vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A vulnerability database (the findings tests' tracker), last written a day before
    the test clock's start."""
    import os

    from patchwarden.adapters.feeds import FEEDS, classify
    from patchwarden.adapters.vulndb import SqliteVulnDb
    from patchwarden.pipeline.dbupdate import import_path

    base = tmp_path_factory.mktemp("metrics-vulndb")
    feed = base / "tracker.json"
    feed.write_text(json.dumps(TRACKER))
    path = base / "vulndb.sqlite"
    db = SqliteVulnDb(path)
    import_path(db, feed, FEEDS, classify, datetime(2026, 2, 1, tzinfo=UTC))
    db.close()
    at = T0.timestamp() - DAY
    os.utime(path, (at, at))
    return path


@pytest.fixture(autouse=True)
def _no_failures_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vulns, "_failed", {})
    monkeypatch.setattr(vulns, "_broken", None)


def _app(db_url: str, clock: FakeClock, vulndb_path: Path, **extra: Any) -> Iterator[Api]:
    from fastapi.testclient import TestClient

    from patchwarden.server.app import bootstrap_admin, create_app
    from patchwarden.server.settings import ServerSettings

    settings = ServerSettings(
        database_url=db_url, clock=clock, migrate=False, vulndb_path=vulndb_path, **extra
    )
    app = create_app(settings)
    admin = bootstrap_admin(app.state.db, settings) or ""  # "": a second app on the database
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, admin, clock)


@pytest.fixture
def mapi(db_url: str, clock: FakeClock, vulndb: Path) -> Iterator[Api]:
    """A server with a vulnerability database; /metrics needs a token (the default)."""
    yield from _app(db_url, clock, vulndb)


def scrape(api: Api, token: str | None = None) -> Samples:
    """``/metrics`` parsed: sample name → labels → value."""
    r = api.call("GET", "/metrics", token if token is not None else api.token("viewer"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    found: Samples = {}
    for family in text_string_to_metric_families(r.text):
        assert family.documentation, family.name  # every metric has HELP text
        for sample in family.samples:
            labels = frozenset(sample.labels.items())
            found.setdefault(sample.name, {})[labels] = sample.value
    return found


def by(samples: Samples, name: str, *labels: str) -> dict[tuple[str, ...], float]:
    """The samples of ``name`` keyed by the values of ``labels``, zeros left out."""
    return {
        tuple(dict(key)[label] for label in labels): value
        for key, value in samples.get(name, {}).items()
        if value
    }


def one(samples: Samples, name: str) -> float:
    (value,) = samples[name].values()
    return value


def test_gauges_say_what_the_api_says(mapi: Api) -> None:
    api = mapi
    gone = api.register()  # checks in never; Inactive after 30 days
    api.clock.advance(31 * DAY)
    a, b, c, d = (api.register() for _ in range(4))
    sent = api.send(InstanceIds=[a.id, b.id, c.id, d.id]).json()
    for node, report in ((a, scan_report()), (b, scan_report("COMPLIANT", 0))):
        (inv,) = node.poll()
        assert node.report(inv["invocation_id"], report=report).status_code == 200
    (inv,) = c.poll()
    assert c.report(inv["invocation_id"], status="Failed").status_code == 200
    for node in (a, b, d):
        r = node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES))
        assert r.status_code == 200, r.text
    state = api.client.app.state
    assert vulns.assess_pending(state.db, state.settings) == 3
    api.ok("DELETE", f"/api/v1/nodes/{d.id}")  # deregistered: counted nowhere
    api.clock.advance(600)  # a, b, c: ConnectionLost …
    a.poll()  # … until a checks in again
    fresh = api.register()  # Online from its registration
    assert {gone.id, fresh.id}.isdisjoint({a.id, b.id, c.id})
    viewer = api.token("viewer")

    # what the JSON API says (read first: reading a command applies its timeouts)
    pings = {
        s: len(api.ok("GET", "/api/v1/nodes", viewer, params={"ping_status": s}))
        for s in PING_STATUSES
    }
    summary = api.ok("GET", "/api/v1/compliance/summary", viewer, params={"by": "severity"})
    fleet = api.ok("GET", "/api/v1/findings", viewer)
    commands = api.ok("GET", "/api/v1/commands", viewer)
    invocations = Counter(
        i["status"]
        for cmd in commands
        for i in api.ok("GET", f"/api/v1/commands/{cmd['command_id']}", viewer)["invocations"]
    )

    got = scrape(api, viewer)
    nodes = by(got, "patchwarden_nodes", "ping_status")
    assert nodes == {(s,): n for s, n in pings.items() if n}
    assert nodes == {("Online",): 2, ("ConnectionLost",): 2, ("Inactive",): 1}
    assert set(got["patchwarden_nodes"]) == {frozenset({("ping_status", s)}) for s in PING_STATUSES}

    compliance = by(got, "patchwarden_compliance_nodes", "state", "severity")
    expected = {
        (state, group["key"] or ""): group[state]
        for group in summary["groups"]
        for state in ("COMPLIANT", "NON_COMPLIANT", "UNREPORTED")
        if group[state]
    }
    assert compliance == expected
    assert sum(compliance.values()) == summary["total"]["nodes"] == 5
    assert summary["total"]["NON_COMPLIANT"] == 1 and summary["total"]["COMPLIANT"] == 1

    findings = by(got, "patchwarden_findings", "severity", "status")
    listed = Counter((f["severity"], f["status"]) for f in fleet["findings"])
    assert findings == dict(listed)
    assert sum(findings.values()) == fleet["count"] == 6  # a's and b's, not d's
    per_severity = Counter[str]()
    for (severity, _), n in findings.items():
        per_severity[severity] += int(n)
    assert {k: v for k, v in fleet["counts"].items() if v} == dict(per_severity)

    assert by(got, "patchwarden_commands", "status") == dict(
        Counter((cmd["status"],) for cmd in commands)
    )
    assert [cmd["command_id"] for cmd in commands] == [sent["command_id"]]
    assert by(got, "patchwarden_command_invocations", "status") == {
        (s,): n for s, n in invocations.items()
    }
    assert invocations["Success"] == 2 and invocations["Failed"] == 1
    assert by(got, "patchwarden_window_executions", "status") == {}
    assert by(got, "patchwarden_remediation_executions", "status") == {}
    assert one(got, "patchwarden_vulndb_present") == 1


def test_vulndb_age_and_absence(
    db_url: str, clock: FakeClock, vulndb: Path, tmp_path: Path
) -> None:
    for api in _app(db_url, clock, vulndb):
        api.clock.advance(3600)
        got = scrape(api)
        assert one(got, "patchwarden_vulndb_present") == 1
        assert one(got, "patchwarden_vulndb_age_seconds") == DAY + 3600
        assert by(got, "patchwarden_build_info", "version")
    for api in _app(db_url, clock, tmp_path / "missing.sqlite", metrics_public=True):
        got = scrape(api, "")
        assert one(got, "patchwarden_vulndb_present") == 0
        assert "patchwarden_vulndb_age_seconds" not in got


def test_scrape_needs_a_viewer_token_unless_public(
    db_url: str, clock: FakeClock, vulndb: Path
) -> None:
    for api in _app(db_url, clock, vulndb):
        assert error_of(api.client.get("/metrics")) == (401, "unauthenticated")
        node = api.register()
        assert error_of(node.call("GET", "/metrics")) == (403, "forbidden")
        assert error_of(api.call("GET", "/metrics", "pwt_nope.wrong")) == (401, "unauthenticated")
        for role in ("viewer", "operator"):
            assert "patchwarden_nodes" in scrape(api, api.token(role))
        openmetrics = api.client.get(
            "/metrics",
            headers={**bearer(api.admin), "Accept": "application/openmetrics-text; version=1.0.0"},
        )
        assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
        assert openmetrics.text.rstrip().endswith("# EOF")
    for api in _app(db_url, clock, vulndb, metrics_public=True):
        r = api.client.get("/metrics")
        assert r.status_code == 200 and "patchwarden_nodes" in r.text


def test_the_public_setting_from_the_environment() -> None:
    assert metrics_public_from_env({}) is False
    assert metrics_public_from_env({METRICS_PUBLIC_ENV: "1"}) is True
    assert metrics_public_from_env({METRICS_PUBLIC_ENV: "false"}) is False
    from patchwarden.errors import InputError

    with pytest.raises(InputError, match=METRICS_PUBLIC_ENV):
        metrics_public_from_env({METRICS_PUBLIC_ENV: "maybe"})


def _polls(samples: Samples, code: str) -> float:
    return samples.get("patchwarden_agent_poll_duration_seconds_count", {}).get(
        frozenset({("code", code)}), 0.0
    )


def test_the_poll_histogram_counts_the_long_polls(mapi: Api) -> None:
    api = mapi
    node = api.register()
    before = scrape(api)
    for _ in range(3):
        assert node.poll() == []
    assert node.poll(wait=0.2) == []  # waits for work that does not come
    stranger = Node(node.id, "wrong-secret", api)
    assert stranger.call("GET", "/api/v1/agent/commands").status_code == 401
    api.ok("GET", "/api/v1/nodes")  # not a poll
    after = scrape(api)
    assert _polls(after, "2xx") - _polls(before, "2xx") == 4
    assert _polls(after, "4xx") - _polls(before, "4xx") == 1
    ok = frozenset({("code", "2xx")})
    assert after["patchwarden_agent_poll_duration_seconds_sum"][ok] >= 0.2
    buckets = after["patchwarden_agent_poll_duration_seconds_bucket"]
    assert buckets[frozenset({("code", "2xx"), ("le", "+Inf")})] == _polls(after, "2xx")
    assert buckets[frozenset({("code", "2xx"), ("le", "0.1")})] <= _polls(after, "2xx") - 1


def test_scheduler_lag(mapi: Api) -> None:
    api = mapi
    state = api.client.app.state
    for _ in range(200):  # the scheduler's loop runs (default interval): lag since its start
        if state.metrics.scheduler.started is not None:
            break
        time.sleep(0.01)
    got = scrape(api)
    assert one(got, "patchwarden_scheduler_lag_seconds") == 0
    assert "patchwarden_scheduler_last_tick_timestamp_seconds" not in got
    api.clock.advance(42)
    assert one(scrape(api), "patchwarden_scheduler_lag_seconds") == 42

    beat = scheduler.Beat()
    assert list(scheduler_metrics(beat, T0)) == []  # the loop is off: no lag to report

    async def two_rounds() -> None:
        task = asyncio.create_task(scheduler.loop(state.db, state.settings, 0.01, beat))
        for _ in range(500):
            await asyncio.sleep(0.01)
            if beat.last is not None:
                break
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(two_rounds())
    assert beat.started == beat.last == api.clock.now()
    later = api.clock.now() + timedelta(seconds=7)
    shown = {m.name: m.samples[0].value for m in scheduler_metrics(beat, later)}
    assert shown == {
        "patchwarden_scheduler_lag_seconds": 7,
        "patchwarden_scheduler_last_tick_timestamp_seconds": api.clock.now().timestamp(),
    }


def test_each_app_has_its_own_registry(mapi: Api) -> None:
    observed: Observed = mapi.client.app.state.metrics
    other = Observed.create(mapi.client.app.state.db, mapi.client.app.state.settings)
    assert other.registry is not observed.registry
    from prometheus_client import REGISTRY

    from patchwarden import __version__

    labels = {"version": __version__}
    assert other.registry.get_sample_value("patchwarden_build_info", labels) == 1
    assert REGISTRY.get_sample_value("patchwarden_build_info", labels) is None


_URL = re.compile(r"""(?:href|src)=["']([^"']+)["']|url:\s*'([^']+)'""")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_docs_need_no_cdn(mapi: Api, page: str) -> None:
    r = mapi.client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert re.findall(r"https?://", r.text) == []  # nothing outside this server
    referenced = {a or b for a, b in _URL.findall(r.text)}
    assets = {u for u in referenced if Path(u).suffix in _TYPES}
    assert len(assets) == (3 if page == "/docs" else 2), referenced
    for url in assets:
        assert url.startswith("/docs/assets/")
        answer = mapi.client.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["content-type"].startswith(_TYPES[Path(url).suffix]), url
        assert len(answer.content) > 100
    assert "/openapi.json" in r.text
    spec = mapi.client.get("/openapi.json").json()
    assert all(
        "422" not in op["responses"] for ops in spec["paths"].values() for op in ops.values()
    )
    assert {"401", "403"} <= set(spec["paths"]["/metrics"]["get"]["responses"])
    assert "/docs" not in spec["paths"] and "/redoc" not in spec["paths"]
