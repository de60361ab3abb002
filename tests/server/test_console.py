"""The web console over HTTP (no browser): sign-in, the session cookie, CSRF, roles, and the
overview's numbers against the JSON API's.  The browser tests (real Chromium) are in
tests/web/."""

from __future__ import annotations

import re

from console_helpers import csrf, metric, signed_in
from fleet_helpers import Api

from patchwarden.server.web.session import COOKIE


def test_pages_need_a_session_and_come_back_after_sign_in(api: Api) -> None:
    api.client.cookies.clear()
    r = api.client.get("/?x=1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/%3Fx%3D1"
    form = api.client.get("/login?next=/nodes")
    assert form.status_code == 200 and 'name="token"' in form.text
    assert "Content-Security-Policy" in form.headers
    bad = api.client.post("/login", data={"token": "pwt_nope.nope", "next": "/"})
    assert bad.status_code == 401 and "not valid" in bad.text
    assert COOKIE not in api.client.cookies
    # an open redirect is not possible
    r = api.client.post(
        "/login", data={"token": api.token("viewer"), "next": "//evil.example/"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.headers["location"] == "/"


def test_a_revoked_token_signs_the_browser_out(api: Api) -> None:
    client = signed_in(api)
    assert client.get("/").status_code == 200
    tokens = api.ok("GET", "/api/v1/tokens")
    (viewer,) = [t for t in tokens if t["name"] == "t-viewer"]
    api.ok("DELETE", f"/api/v1/tokens/{viewer['id']}")
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_forms_need_the_csrf_token_and_a_same_site_origin(api: Api) -> None:
    client = signed_in(api)
    page = client.get("/").text
    r = client.post("/logout", data={}, follow_redirects=False)
    assert r.status_code == 403 and "security token" in r.text
    r = client.post(
        "/logout", data={"csrf": csrf(page)}, headers={"origin": "https://evil.example"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 403 and "another site" in r.text
    r = client.post("/logout", data={"csrf": csrf(page)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_the_overview_shows_the_apis_numbers(api: Api) -> None:
    web = api.register(tags={"Patch Group": "web"})
    api.register(tags={"Patch Group": "db"})
    client = signed_in(api)
    html = client.get("/").text
    summary = api.ok("GET", "/api/v1/compliance/summary")
    nodes = api.ok("GET", "/api/v1/nodes")
    assert metric(html, "nodes") == len(nodes) == 2
    for state in ("COMPLIANT", "NON_COMPLIANT", "UNREPORTED"):
        assert metric(html, f"compliance-{state}") == summary["total"][state]
    online = sum(1 for n in nodes if n["ping_status"] == "Online")
    assert metric(html, "ping-Online") == online
    findings = api.ok("GET", "/api/v1/findings", params={"status": "ACTIVE"})
    assert metric(html, "findings") == findings["count"]
    assert web.id in api.ok("GET", "/api/v1/nodes", params={"patch_group": "web"})[0]["node_id"]


def test_the_trend_keeps_a_day_per_day_and_shows_today_live(api: Api) -> None:
    from datetime import timedelta

    from patchwarden.server import compliance_history

    state = api.client.app.state
    api.register()
    assert compliance_history.record_today(state.db, state.settings) == {
        "COMPLIANT": 0, "NON_COMPLIANT": 0, "UNREPORTED": 1,
    }  # fmt: skip
    api.clock.current += timedelta(days=1)
    api.register()
    compliance_history.record_today(state.db, state.settings)
    compliance_history.record_today(state.db, state.settings)  # today's row is rewritten
    api.register()  # after the last round: today's column is live anyway
    html = signed_in(api).get("/").text
    rows = re.findall(r'<tr><th scope="row">(\d{4}-\d\d-\d\d)</th>(.*?)</tr>', html)
    assert [day for day, _ in rows] == ["2026-03-01", "2026-03-02"]
    assert [re.findall(r">(\d+)<", cells) for _, cells in rows] == [
        ["0", "0", "1"], ["0", "0", "3"],
    ]  # fmt: skip
    assert 'aria-label="compliance of the last 2 days by state"' in html
