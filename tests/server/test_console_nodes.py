"""The console's nodes pages over HTTP (no browser): the list's filters and search against
the API's, a node's patch states, findings and command history against the API's answers,
and the operator's actions (send RunPatchBaseline, suppress a finding, change a tag) with
their roles, CSRF tokens, audit records and refusals."""

from __future__ import annotations

import html as markup
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_helpers import csrf, metric, signed_in
from fleet_helpers import Api, FakeClock, Node, scan_report
from test_server_findings import DAY, PACKAGES, TRACKER, _app, _touch, assess, full

from patchwarden.server import vulns


@pytest.fixture(scope="module")
def vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A vulnerability database imported from a Debian security tracker file (as
    test_server_findings builds it)."""
    from datetime import UTC, datetime

    from patchwarden.adapters.feeds import FEEDS, classify
    from patchwarden.adapters.vulndb import SqliteVulnDb
    from patchwarden.pipeline.dbupdate import import_path

    base = tmp_path_factory.mktemp("console-vulndb")
    feed = base / "tracker.json"
    feed.write_text(json.dumps(TRACKER))
    path = base / "vulndb.sqlite"
    db = SqliteVulnDb(path)
    import_path(db, feed, FEEDS, classify, datetime(2026, 2, 1, tzinfo=UTC))
    db.close()
    _touch(path, -DAY)
    return path


@pytest.fixture
def vapi(
    db_url: str, clock: FakeClock, vulndb: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Api]:
    """The API of a server with a vulnerability database (assessment driven by the test)."""
    monkeypatch.setattr(vulns, "_failed", {})
    monkeypatch.setattr(vulns, "_broken", None)
    yield from _app(db_url, clock, vulndb)


def node_ids(page: str) -> set[str]:
    return set(re.findall(r'<tr data-node-id="([^"]+)"', page))


def api_ids(api: Api, **params: Any) -> set[str]:
    return {n["node_id"] for n in api.ok("GET", "/api/v1/nodes", params=params)}


def scanned(api: Api, node: Node, report: dict[str, Any] | None) -> str:
    """Send a Scan to ``node`` over the API; the node polls and answers with ``report``."""
    sent = api.send(InstanceIds=[node.id]).json()
    (inv,) = node.poll()
    assert node.report(inv["invocation_id"], report=report).status_code == 200
    command_id: str = sent["command_id"]
    return command_id


def rows(page: str, attribute: str) -> list[tuple[str, str]]:
    """(``data-<attribute>``, ``data-state|data-status``) of each table row, in order."""
    found = re.findall(rf'<tr data-{attribute}="([^"]+)" data-(?:state|status)="([^"]+)"', page)
    return [(markup.unescape(key), value) for key, value in found]


def error_line(page: str) -> str:
    found = re.search(r'<p class="error" role="alert">([^<]+)</p>', page)
    assert found, page
    return markup.unescape(found.group(1))


def audit_actions(api: Api, action: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.ok("GET", "/api/v1/audit", params={"action": action})
    return found


def test_the_list_filters_and_search_give_the_apis_nodes(api: Api) -> None:
    web = api.register(tags={"Patch Group": "web", "Env": "prod"}, name="web-frontend")
    db = api.register(tags={"Patch Group": "db", "Env": "prod"}, name="orders-db")
    stage = api.register(
        tags={"Patch Group": "web", "Env": "stage"},
        facts={"hostname": "stage-host", "operating_system": "DEBIAN", "os_version": "12"},
    )
    scanned(api, web, scan_report())
    scanned(api, db, scan_report("COMPLIANT", 0))
    api.clock.advance(3600)  # every node's last ping is an hour old ...
    web.poll()  # ... but this one's
    client = signed_in(api)

    everything = client.get("/nodes")
    assert everything.status_code == 200
    assert node_ids(everything.text) == api_ids(api) == {web.id, db.id, stage.id}
    assert metric(everything.text, "nodes-matching") == 3
    assert 'aria-current="page"' in everything.text and ">Nodes</a>" in everything.text
    for params in (
        {"patch_group": "web"},
        {"tag": "Env=prod"},
        {"tag": ["Env=prod", "Patch Group=db"]},
        {"ping_status": "Online"},
        {"ping_status": "ConnectionLost"},
        {"ping_status": "ConnectionLost", "patch_group": "web"},
    ):
        shown = node_ids(client.get("/nodes", params=params).text)
        assert shown == api_ids(api, **params), params
    assert node_ids(client.get("/nodes", params={"ping_status": "Online"}).text) == {web.id}

    def reported(compliance: str) -> set[str]:
        found = api.ok("GET", "/api/v1/compliance", params={"compliance": compliance})
        return {c["node_id"] for c in found}

    for state in ("COMPLIANT", "NON_COMPLIANT"):
        shown = node_ids(client.get("/nodes", params={"compliance": state}).text)
        assert shown == reported(state), state
    unreported = api_ids(api) - reported("COMPLIANT") - reported("NON_COMPLIANT")
    assert node_ids(client.get("/nodes", params={"compliance": "UNREPORTED"}).text) == unreported
    assert unreported == {stage.id}
    both = {"compliance": "NON_COMPLIANT", "tag": "Env=prod"}
    assert node_ids(client.get("/nodes", params=both).text) == {web.id}

    # search: a substring of the name, the hostname or the node id, any case
    assert node_ids(client.get("/nodes", params={"q": "FRONT"}).text) == {web.id}
    assert node_ids(client.get("/nodes", params={"q": "stage-h"}).text) == {stage.id}
    assert node_ids(client.get("/nodes", params={"q": db.id[-6:]}).text) == {db.id}
    none = client.get("/nodes", params={"q": "nothing-like-this"})
    assert node_ids(none.text) == set() and "No node matches" in none.text

    # the row of the NON_COMPLIANT node: its severity and one MISSING patch
    row = client.get("/nodes", params={"q": "web-frontend"}).text
    assert "Non Compliant" in row and ">1</td>" in row

    # the filters stay in the form (a shareable URL) and bad values are one line, 400
    kept = client.get("/nodes", params={"q": "web", "tag": "Env=prod"}).text
    assert 'value="web"' in kept and 'value="Env=prod"' in kept
    bad = client.get("/nodes", params={"ping_status": "Asleep"})
    assert bad.status_code == 400 and "ping status: must be one of" in error_line(bad.text)
    bad = client.get("/nodes", params={"tag": "no-equals-sign"})
    assert bad.status_code == 400 and "KEY=VALUE" in error_line(bad.text)
    assert client.get("/nodes", params={"compliance": "MAYBE"}).status_code == 400


def test_the_list_is_paginated(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from patchwarden.server.web.pages import nodes

    monkeypatch.setattr(nodes, "PAGE_SIZE", 2)
    made = {api.register(tags={"Patch Group": "web"}).id for _ in range(5)}
    client = signed_in(api)
    first = client.get("/nodes", params={"patch_group": "web"}).text
    assert metric(first, "nodes-matching") == 5 and len(node_ids(first)) == 2
    assert "page 1 of 3" in first and 'rel="next"' in first and 'rel="prev"' not in first
    seen: set[str] = set()
    for number in (1, 2, 3):
        page = client.get("/nodes", params={"patch_group": "web", "page": number}).text
        seen |= node_ids(page)
    assert seen == made
    last = client.get("/nodes", params={"patch_group": "web", "page": 9}).text
    assert len(node_ids(last)) == 1 and 'rel="prev"' in last and "patch_group=web" in last


def test_the_node_page_shows_the_apis_patch_states_findings_and_history(vapi: Api) -> None:
    node = vapi.register(tags={"Patch Group": "web", "Env": "prod"}, name="web-1")
    command_id = scanned(vapi, node, scan_report(missing=2))
    assert node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES)).status_code == 200
    assert assess(vapi) == 1
    client = signed_in(vapi)

    page = client.get(f"/nodes/{node.id}")
    assert page.status_code == 200, page.text
    html = page.text
    assert node.id in html and "web-1" in html and "Debian12" in html
    shown = vapi.ok("GET", f"/api/v1/compliance/{node.id}")
    patches = rows(html, "patch")
    assert sorted(patches) == sorted(
        (f"{p['name']}.{p['arch']}", p["state"]) for p in shown["patches"]
    )
    assert [state for _, state in patches[:2]] == ["MISSING", "MISSING"]  # MISSING first
    assert metric(html, "patches-MISSING") == shown["summary"]["MISSING"] == 2
    assert 'data-compliance="NON_COMPLIANT"' in html
    only = client.get(f"/nodes/{node.id}", params={"state": "INSTALLED"}).text
    installed = {p for p, s in rows(only, "patch")}
    api_installed = vapi.ok("GET", f"/api/v1/compliance/{node.id}", params={"state": "INSTALLED"})
    assert installed == {f"{p['name']}.{p['arch']}" for p in api_installed["patches"]}
    assert {s for _, s in rows(only, "patch")} == {"INSTALLED"}

    found = vapi.ok("GET", f"/api/v1/nodes/{node.id}/findings")
    assert rows(html, "finding") == [
        (f"{f['vulnerability_id']} {f['package_name']}", f["status"]) for f in found["findings"]
    ]
    assert metric(html, "findings-ACTIVE") == len(found["findings"]) == 3

    assert f'<a href="/commands/{command_id}">{command_id}</a>' in html
    assert 'id="history" data-refresh="5"' in html
    assert metric(html, "pending-reboot") == 0

    missing = client.get("/nodes/mi-00000000000000000")
    assert missing.status_code == 404 and "not found" in missing.text


def test_an_operator_sends_a_scan_from_the_page_and_it_is_audited(api: Api) -> None:
    node = api.register()
    other = api.register()
    client = signed_in(api, "operator")
    token = csrf(client.get(f"/nodes/{node.id}").text)
    r = client.post(
        f"/nodes/{node.id}/commands",
        data={"csrf": token, "operation": "Scan", "reboot_option": "NoReboot", "comment": "hi"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith(f"/nodes/{node.id}?done=")
    (sent,) = api.ok("GET", "/api/v1/commands")
    assert sent["document_name"] == "AWS-RunPatchBaseline" and sent["comment"] == "hi"
    assert sent["parameters"]["Operation"] == "Scan"
    assert sent["parameters"]["RebootOption"] == "NoReboot"
    detail = api.ok("GET", f"/api/v1/commands/{sent['command_id']}")
    assert [i["node_id"] for i in detail["invocations"]] == [node.id]
    assert other.poll() == []
    (entry,) = audit_actions(api, "command.send")
    assert entry["actor"] == "token:t-operator"
    after = client.get(r.headers["location"]).text
    assert '<p class="notice" role="status">' in after and sent["command_id"] in after
    assert f'data-command="{sent["command_id"]}"' in after

    api.clock.advance(1)
    install = client.post(
        f"/nodes/{node.id}/commands",
        data={"csrf": token, "operation": "Install", "reboot_option": "RebootIfNeeded"},
        follow_redirects=False,
    )
    assert install.status_code == 303
    newest = api.ok("GET", "/api/v1/commands")[0]
    assert newest["parameters"]["Operation"] == "Install"

    bad = client.post(f"/nodes/{node.id}/commands", data={"csrf": token, "operation": "Reboot"})
    assert bad.status_code == 400 and "Operation" in error_line(bad.text)
    assert len(api.ok("GET", "/api/v1/commands")) == 2
    gone = client.post(
        "/nodes/mi-00000000000000000/commands", data={"csrf": token, "operation": "Scan"}
    )
    assert gone.status_code == 404


def test_a_viewer_sees_no_action_and_posts_are_refused(api: Api) -> None:
    node = api.register(tags={"Env": "prod"})
    client = signed_in(api, "viewer")
    html = client.get(f"/nodes/{node.id}").text
    assert f'action="/nodes/{node.id}/commands"' not in html
    assert f'action="/nodes/{node.id}/tags"' not in html
    token = csrf(html)  # the sign-out form's
    for path, data in (
        ("commands", {"operation": "Scan"}),
        ("tags", {"action": "remove", "key": "Env"}),
        ("suppressions", {"vulnerability_id": "CVE-2026-2001", "reason": "x"}),
    ):
        r = client.post(f"/nodes/{node.id}/{path}", data={"csrf": token, **data})
        assert r.status_code == 403, path
    assert api.ok("GET", "/api/v1/commands") == []
    assert api.ok("GET", f"/api/v1/nodes/{node.id}")["tags"] == {"Env": "prod"}

    operator = signed_in(api, "operator")
    page = operator.get(f"/nodes/{node.id}").text
    assert f'action="/nodes/{node.id}/commands"' in page
    missing = operator.post(f"/nodes/{node.id}/commands", data={"operation": "Scan"})
    assert missing.status_code == 403 and "security token" in missing.text
    forged = operator.post(
        f"/nodes/{node.id}/commands", data={"csrf": "0" * 64, "operation": "Scan"}
    )
    assert forged.status_code == 403
    assert api.ok("GET", "/api/v1/commands") == []


def test_an_operator_adds_and_removes_a_tag(api: Api) -> None:
    node = api.register(tags={"Env": "prod"})
    client = signed_in(api, "operator")
    token = csrf(client.get(f"/nodes/{node.id}").text)
    r = client.post(
        f"/nodes/{node.id}/tags",
        data={"csrf": token, "action": "add", "key": "Patch Group", "value": "web"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    shown = api.ok("GET", f"/api/v1/nodes/{node.id}")
    assert shown["tags"] == {"Env": "prod", "Patch Group": "web"} and shown["patch_group"] == "web"
    r = client.post(
        f"/nodes/{node.id}/tags", data={"csrf": token, "action": "remove", "key": "Env"}
    )
    assert r.status_code == 200 and "tag Env removed" in r.text
    assert api.ok("GET", f"/api/v1/nodes/{node.id}")["tags"] == {"Patch Group": "web"}
    assert len(audit_actions(api, "node.tags")) == 2
    bad = client.post(
        f"/nodes/{node.id}/tags", data={"csrf": token, "action": "remove", "key": "Env"}
    )
    assert bad.status_code == 400 and "no tag 'Env'" in error_line(bad.text)
    long = client.post(
        f"/nodes/{node.id}/tags",
        data={"csrf": token, "action": "add", "key": "k" * 129, "value": "v"},
    )
    assert long.status_code == 400 and "tags" in error_line(long.text)


def test_suppressing_a_finding_from_the_page(vapi: Api) -> None:
    node = vapi.register()
    other = vapi.register()
    for each in (node, other):
        assert each.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES)).status_code == 200
    assert assess(vapi) == 2
    client = signed_in(vapi, "operator")
    page = client.get(f"/nodes/{node.id}").text
    assert f'action="/nodes/{node.id}/suppressions"' in page
    token = csrf(page)

    def suppress(vulnerability: str, expires: str = "") -> Any:
        data = {
            "csrf": token,
            "vulnerability_id": vulnerability,
            "reason": "not reachable here",
            "expires_at": expires,
        }
        return client.post(f"/nodes/{node.id}/suppressions", data=data, follow_redirects=False)

    for vulnerability, expires, message in (
        ("CVE-26-1", "", "is not a vulnerability id"),
        ("CVE-2026-*", "", "is not a vulnerability id"),
        ("CVE-2026-2001", "2026-01-31", "is not in the future"),
        ("CVE-2026-2001", "31/12/2026", "is not a date"),
        ("CVE-2026-9999", "", "has no finding CVE-2026-9999"),
    ):
        bad = suppress(vulnerability, expires)
        assert bad.status_code == 400, (vulnerability, bad.text)
        assert message in error_line(bad.text)
    assert vapi.ok("GET", "/api/v1/suppressions") == []

    vapi.clock.advance(1)
    r = suppress("cve-2026-2001", "2026-06-30")
    assert r.status_code == 303, r.text
    (rule,) = vapi.ok("GET", "/api/v1/suppressions")
    assert rule["vulnerability_ids"] == ["CVE-2026-2001"] and rule["nodes"] == [node.id]
    assert rule["reason"] == "not reachable here" and rule["in_force"] is True
    assert rule["expires_at"].startswith("2026-06-30")
    assert [e["target"] for e in audit_actions(vapi, "suppression.create")] == [rule["name"]]

    assert assess(vapi) == 2  # the next assessment
    found = vapi.ok("GET", f"/api/v1/nodes/{node.id}/findings")["findings"]
    statuses = {(f["vulnerability_id"], f["package_name"]): f["status"] for f in found}
    assert statuses[("CVE-2026-2001", "openssl")] == "SUPPRESSED"
    assert statuses[("CVE-2026-2001", "libssl3")] == "SUPPRESSED"
    assert statuses[("CVE-2026-2002", "zlib1g")] == "ACTIVE"
    elsewhere = vapi.ok("GET", f"/api/v1/nodes/{other.id}/findings")["findings"]
    assert {f["status"] for f in elsewhere} == {"ACTIVE"}

    html = client.get(f"/nodes/{node.id}").text
    assert ("CVE-2026-2001 openssl", "SUPPRESSED") in rows(html, "finding")
    assert f"by <strong>{rule['name']}</strong>: not reachable here" in html
    assert "expires" in html and "2026-06-30 00:00 UTC" in html
    assert metric(html, "findings-SUPPRESSED") == 2
