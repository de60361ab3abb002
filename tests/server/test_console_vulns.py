"""The console's vulnerability pages over HTTP on SQLite and PostgreSQL: findings by
vulnerability and by package with the API's counts, filters, the vulnerability database's
status, one vulnerability's affected nodes and the fleet suppressions that apply.

The server and its vulnerability database are built as the findings API tests build them
(:mod:`test_server_findings`): a Debian security tracker file imported, inventories
uploaded by registered nodes, one assessment round driven by the test."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_server_findings as findings_tests
from console_helpers import metric, signed_in
from fleet_helpers import Api, FakeClock
from test_server_findings import PACKAGES, SUPPRESSION, assess, full, item

from patchwarden.server import vulns

ANOTHER = [item("zlib1g", "1:1.2.13.dfsg-1", "zlib"), item("bash", "5.2.15-2+b2")]


@pytest.fixture(scope="module")
def vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The findings tests' database: a Debian security tracker file imported."""
    from datetime import UTC, datetime

    from patchwarden.adapters.feeds import FEEDS, classify
    from patchwarden.adapters.vulndb import SqliteVulnDb
    from patchwarden.pipeline.dbupdate import import_path

    base = tmp_path_factory.mktemp("console-vulndb")
    feed = base / "tracker.json"
    feed.write_text(json.dumps(findings_tests.TRACKER))
    path = base / "vulndb.sqlite"
    db = SqliteVulnDb(path)
    import_path(db, feed, FEEDS, classify, datetime(2026, 2, 1, tzinfo=UTC))
    db.close()
    findings_tests._touch(path, -findings_tests.DAY)
    return path


@pytest.fixture(autouse=True)
def _driven_by_the_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(findings_tests.ASSESS_ENV, "0")
    monkeypatch.setattr(vulns, "_failed", {})
    monkeypatch.setattr(vulns, "_broken", None)
    from patchwarden.server import vulndb_updates

    monkeypatch.setattr(vulndb_updates, "_last", None)


@pytest.fixture
def vapi(db_url: str, clock: FakeClock, vulndb: Path) -> Iterator[Api]:
    yield from findings_tests._app(db_url, clock, vulndb)


@pytest.fixture
def bare_api(db_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Api]:
    yield from findings_tests._app(db_url, clock, tmp_path / "missing.sqlite")


def _fleet(api: Api, tags: dict[str, str] | None = None) -> tuple[Any, Any]:
    one = api.register(tags=tags or {"Env": "production"}, name="web1")
    two = api.register(tags={"Env": "test"}, name="db2")
    assert one.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES)).status_code == 200
    assert two.call("PUT", "/api/v1/agent/inventory", json=full(ANOTHER)).status_code == 200
    assert assess(api) == 2
    return one, two


def _rows(html: str, attribute: str) -> list[str]:
    return re.findall(rf'<tr {attribute}="([^"]+)"', html)


def _counts_match(html: str, api_answer: dict[str, Any]) -> None:
    assert metric(html, "findings") == api_answer["count"]
    for severity, n in api_answer["counts"].items():
        assert metric(html, f"findings-{severity}") == n


def test_findings_by_vulnerability_are_the_apis(vapi: Api) -> None:
    _fleet(vapi)
    client = signed_in(vapi)
    # the page shows ACTIVE findings unless told otherwise; any status is status=
    html = client.get("/vulnerabilities").text
    active = vapi.ok("GET", "/api/v1/findings", params={"status": "ACTIVE"})
    _counts_match(html, active)
    everything = client.get("/vulnerabilities", params={"status": ""}).text
    _counts_match(everything, vapi.ok("GET", "/api/v1/findings"))
    # one row per vulnerability, in the API's order (most severe first)
    ids = list(dict.fromkeys(f["vulnerability_id"] for f in active["findings"]))
    assert _rows(html, "data-vulnerability") == ids == ["CVE-2026-2001", "CVE-2026-2002"]
    assert metric(html, "rows") == len(ids)
    for vid in ids:
        nodes = {f["node_id"] for f in active["findings"] if f["vulnerability_id"] == vid}
        assert metric(html, f"cve-{vid}-nodes") == len(nodes)
    assert metric(html, "cve-CVE-2026-2002-nodes") == 2
    row = re.search(r'data-vulnerability="CVE-2026-2001".*?</tr>', html, re.S)
    assert row and 'data-fix="YES"' in row.group(0) and findings_tests.NEW_SSL in row.group(0)
    assert "libssl3, openssl" in row.group(0) and 'href="/vulnerabilities/CVE-2026-2001"' in (
        row.group(0)
    )
    row = re.search(r'data-vulnerability="CVE-2026-2002".*?</tr>', html, re.S)
    assert row and 'data-fix="NO"' in row.group(0)
    assert 'aria-current="page">Vulnerabilities' in html


def test_findings_by_package_and_filters(vapi: Api) -> None:
    _fleet(vapi)
    client = signed_in(vapi)
    html = client.get("/vulnerabilities", params={"by": "package"}).text
    active = vapi.ok("GET", "/api/v1/findings", params={"status": "ACTIVE"})
    _counts_match(html, active)
    packages = {f["package_name"] for f in active["findings"]}
    assert set(_rows(html, "data-package")) == packages == {"openssl", "libssl3", "zlib1g"}
    assert _rows(html, "data-package")[-1] == "zlib1g"  # MEDIUM after the HIGH ones
    for name in packages:
        mine = [f for f in active["findings"] if f["package_name"] == name]
        assert metric(html, f"package-{name}-nodes") == len({f["node_id"] for f in mine})
        assert metric(html, f"package-{name}-vulnerabilities") == len(
            {f["vulnerability_id"] for f in mine}
        )
    row = re.search(r'data-package="openssl".*?</tr>', html, re.S)
    assert row and findings_tests.NEW_SSL in row.group(0) and findings_tests.OLD_SSL in row.group(0)

    # the API's filters, the same numbers
    for params in ({"severity": "high"}, {"package": "zlib1g"}, {"severity": "MEDIUM"}):
        html = client.get("/vulnerabilities", params={**params, "status": "active"}).text
        _counts_match(
            html, vapi.ok("GET", "/api/v1/findings", params={**params, "status": "ACTIVE"})
        )
    # fix availability: only the vulnerability without a fixed version
    html = client.get("/vulnerabilities", params={"fix": "NO"}).text
    assert _rows(html, "data-vulnerability") == ["CVE-2026-2002"]
    no_fix = [f for f in active["findings"] if f["fix_available"] == "NO"]
    assert metric(html, "findings") == len(no_fix) == 2
    # a value the API refuses is refused here (400, one line)
    bad = client.get("/vulnerabilities", params={"severity": "bad"})
    assert bad.status_code == 400 and "severity: must be one of" in bad.text
    assert "Traceback" not in bad.text


def test_the_database_status_is_the_apis(vapi: Api) -> None:
    html = signed_in(vapi).get("/vulnerabilities").text
    status = vapi.ok("GET", "/api/v1/findings/database")
    assert status["available"] and status["feeds"]
    for feed in status["feeds"]:
        row = re.search(rf'data-feed="{re.escape(feed["name"])}".*?</tr>', html, re.S)
        assert row and f">{feed['records']}<" in row.group(0)
    if status["warning"]:
        assert status["warning"] in html


def test_without_a_database_the_page_says_so(bare_api: Api) -> None:
    bare = signed_in(bare_api).get("/vulnerabilities").text
    message = bare_api.ok("GET", "/api/v1/findings/database")["message"]
    assert (
        'data-database="missing"' in bare and "no vulnerability database on the server" in message
    )
    assert metric(bare, "findings") == 0


def test_a_vulnerability_lists_its_nodes_and_the_suppression_that_applies(vapi: Api) -> None:
    prod, test = _fleet(vapi)
    vapi.clock.advance(1)
    vapi.ok("POST", "/api/v1/apply", json=[SUPPRESSION])
    assert assess(vapi) == 2
    client = signed_in(vapi)
    html = client.get("/vulnerabilities/CVE-2026-2001").text
    everything = vapi.ok("GET", "/api/v1/findings")["findings"]
    mine = [f for f in everything if f["vulnerability_id"] == "CVE-2026-2001"]
    assert set(_rows(html, "data-node")) == {f["node_id"] for f in mine} == {prod.id}
    assert f'href="/nodes/{prod.id}">web1</a>' in html
    assert metric(html, "suppressed") == sum(1 for f in mine if f["status"] == "SUPPRESSED") == 2
    assert 'data-suppressed-by="prod-openssl"' in html and 'data-suppression="prod-openssl"' in html
    assert "in force" in html
    # a vulnerability on both nodes, no suppression
    html = client.get("/vulnerabilities/cve-2026-2002").text
    assert set(_rows(html, "data-node")) == {prod.id, test.id}
    assert metric(html, "active") == 2 and 'data-suppressed-by=""' in html
    assert "No fleet suppression names this vulnerability" in html
    # the fleet list (ACTIVE) no longer counts the suppressed findings
    listed = client.get("/vulnerabilities").text
    _counts_match(listed, vapi.ok("GET", "/api/v1/findings", params={"status": "ACTIVE"}))
    assert _rows(listed, "data-vulnerability") == ["CVE-2026-2002"]
    missing = client.get("/vulnerabilities/CVE-1999-0001")
    assert missing.status_code == 404 and "no node has a finding" in missing.text


def test_the_pages_need_a_session(vapi: Api) -> None:
    vapi.client.cookies.clear()
    r = vapi.client.get("/vulnerabilities?by=package", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/vulnerabilities")
    r = vapi.client.get("/governance", follow_redirects=False)
    assert r.status_code == 303
