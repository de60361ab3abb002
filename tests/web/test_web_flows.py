"""The console in a real browser (Debian's headless Chromium) against a real server process:
signing in, the overview's numbers against the API's, a node's patch states, what a viewer
may not do, approving a remediation, a window's waves advancing live, the dark theme and the
keyboard.  Tests of pages still being built are skipped until their routes are registered."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fleet_helpers import Node
from playwright.sync_api import Page, expect
from web_fleet import Fleet
from web_helpers import assert_accessible, metric, not_built, pages, registered, sign_in

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("web-console")]
PATIENCE = 60.0
"""Upper bound of a wait in the browser (a guard, never reached on a healthy machine)."""
FORMS_JS = """() => [...document.querySelectorAll("form")]
    .filter(f => f.method === "post")
    .map(f => ({action: f.getAttribute("action"),
                fields: Object.fromEntries(new FormData(f).entries())}))"""
"""Every POST form of a page: its action and the fields it would send."""


def _hand_post(page: Page, action: str, fields: dict[str, str]) -> Any:
    """Post a form the page does not show (made in the page, as a person with the browser's
    developer tools would) and return the navigation's response."""
    with page.expect_navigation() as navigation:
        page.evaluate(
            """([action, fields]) => {
                const form = document.createElement("form");
                form.method = "post"; form.action = action;
                for (const [name, value] of Object.entries(fields)) {
                    const input = document.createElement("input");
                    input.type = "hidden"; input.name = name; input.value = value;
                    form.appendChild(input);
                }
                document.body.appendChild(form); form.submit();
            }""",
            [action, fields],
        )
    return navigation.value


def _csrf(page: Page) -> str:
    return str(page.locator('input[name="csrf"]').first.get_attribute("value"))


def test_sign_in_lands_on_the_overview(fleet: Fleet, page: Page) -> None:
    page.goto(f"{fleet.url}/")
    expect(page).to_have_url(f"{fleet.url}/login?next=/")
    page.get_by_label("API token").press_sequentially(fleet.token("viewer"), delay=0)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{fleet.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Fleet overview")
    expect(page.locator(".who")).to_contain_text("(viewer)")
    expect(page.get_by_role("link", name="Overview")).to_have_attribute("aria-current", "page")
    # signing out forgets the session
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{fleet.url}/login")
    page.goto(f"{fleet.url}/")
    expect(page).to_have_url(f"{fleet.url}/login?next=/")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_overview_numbers_equal_the_apis(
    backend: str, request: pytest.FixtureRequest, page: Page
) -> None:
    fleet: Fleet = request.getfixturevalue("fleet" if backend == "sqlite" else "pg_fleet")
    sign_in(page, fleet.url, fleet.token("viewer"))
    viewer = fleet.token("viewer")
    summary = fleet.api.ok("GET", "/api/v1/compliance/summary", viewer)
    nodes = fleet.api.ok("GET", "/api/v1/nodes", viewer)
    findings = fleet.api.ok("GET", "/api/v1/findings", viewer, params={"status": "ACTIVE"})
    page.reload()
    assert metric(page, "nodes") == len(nodes) >= 4
    assert metric(page, "compliant") == summary["total"]["COMPLIANT"]
    for state in ("COMPLIANT", "NON_COMPLIANT", "UNREPORTED"):
        assert metric(page, f"compliance-{state}") == summary["total"][state], state
    assert summary["total"]["NON_COMPLIANT"] >= 2 and summary["total"]["UNREPORTED"] >= 1
    for status, count in Counter(n["ping_status"] for n in nodes).items():
        assert metric(page, f"ping-{status}") == count, status
    assert metric(page, "findings") == findings["count"]
    for severity, count in findings["counts"].items():
        if count:
            assert metric(page, f"findings-{severity}") == count, severity
    # the by-patch-group table says what the API says
    states = ("COMPLIANT", "NON_COMPLIANT", "UNREPORTED")
    table = page.locator('section[aria-labelledby="g-patch_group"] tbody tr').all()
    shown = {
        r.locator("th").inner_text(): [int(c) for c in r.locator("td.num").all_inner_texts()]
        for r in table
    }
    assert shown == {g["key"] or "—": [g[s] for s in states] for g in summary["groups"]}


@not_built("/nodes", "/nodes/{}")
def test_drill_into_a_node_shows_the_apis_patch_states(fleet: Fleet, page: Page) -> None:
    node = fleet.nodes["web-1"]
    sign_in(page, fleet.url, fleet.token("viewer"), "/nodes")
    page.get_by_role("link", name="web-1", exact=True).first.click()
    expect(page).to_have_url(f"{fleet.url}/nodes/{node.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("web-1")
    api = fleet.api.ok("GET", f"/api/v1/compliance/{node.id}", fleet.token("viewer"))
    expect(page.locator("[data-compliance]")).to_have_attribute(
        "data-compliance", api["compliance"]
    )
    wanted = {f"{p['name']}.{p['arch']}": p["state"] for p in api["patches"]}
    rows = page.locator("tr[data-patch]")
    shown = {
        rows.nth(i).get_attribute("data-patch"): rows.nth(i).get_attribute("data-state")
        for i in range(rows.count())
    }
    assert shown == wanted and len(wanted) >= 5
    for state, count in Counter(wanted.values()).items():
        assert metric(page, f"patches-{state}") == count, state
    # the state filter (a GET form) keeps the MISSING patches only
    page.get_by_label("MISSING (").check()
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(f"{fleet.url}/nodes/{node.id}?state=MISSING")
    missing = page.locator("tr[data-patch]")
    expect(missing).to_have_count(Counter(wanted.values())["MISSING"])
    assert set(missing.evaluate_all("rows => rows.map(r => r.dataset.state)")) == {"MISSING"}


def test_a_viewer_sees_no_action_and_a_hand_made_post_is_refused(
    fleet: Fleet, new_page: Callable[[], Page], detail_hrefs: dict[str, str]
) -> None:
    operator, viewer = new_page(), new_page()
    sign_in(operator, fleet.url, fleet.token("operator"))
    sign_in(viewer, fleet.url, fleet.token("viewer"))
    visited = [p for p in pages() if p != "/login"] + sorted(set(detail_hrefs.values()))
    actions: dict[str, dict[str, str]] = {}
    for path in visited:
        operator.goto(f"{fleet.url}{path}")
        for form in operator.evaluate(FORMS_JS):
            if form["action"] != "/logout":
                actions.setdefault(form["action"], form["fields"])
        viewer.goto(f"{fleet.url}{path}")
        shown = [f["action"] for f in viewer.evaluate(FORMS_JS)]
        assert shown == ["/logout"], f"a viewer sees action forms on {path}: {shown}"
    if not actions:
        pytest.skip("no console page has an operator action yet")
    for index, (action, fields) in enumerate(sorted(actions.items())):
        forged = {**fields, "csrf": _csrf(viewer)}
        if index == 0:  # one through the browser: the refusal is a page
            answer = _hand_post(viewer, action, forged)
            assert answer.status == 403, action
            expect(viewer.get_by_role("alert")).to_contain_text("role")
            assert_accessible(viewer, f"the refusal of {action}")
            viewer.go_back()
        else:
            answer = viewer.request.post(f"{fleet.url}{action}", form=forged, max_redirects=0)
            assert answer.status == 403, f"{action}: {answer.status}"
            assert 'role="alert"' in answer.text()


@not_built("/governance/remediations")
def test_an_operator_approves_a_remediation_a_viewer_cannot(
    fleet: Fleet, new_page: Callable[[], Page]
) -> None:
    node = fleet.register(f"rem-{uuid.uuid4().hex[:6]}", {"Patch Group": "db"})
    run = fleet.start_remediation(node)
    queue = "/governance/remediations"
    row = f'tr[data-awaiting="{run["id"]}"]'

    viewer = new_page()
    sign_in(viewer, fleet.url, fleet.token("viewer"), queue)
    expect(viewer.locator(row)).to_be_visible()
    expect(viewer.locator(row).get_by_role("button")).to_have_count(0)
    refused = _hand_post(
        viewer,
        f"{queue}/{run['id']}/approve",
        {"csrf": _csrf(viewer), "decision": "approve", "comment": ""},
    )
    assert refused.status == 403
    still = fleet.api.ok("GET", "/api/v1/remediations", params={"resource_id": node.id})
    assert still["remediations"][0]["execution_status"] == "Waiting"

    operator = new_page()
    sign_in(operator, fleet.url, fleet.token("operator"), queue)
    operator.locator(row).get_by_label("Comment").fill("checked the owner with the db team")
    operator.locator(row).get_by_role("button", name="Approve").click()
    expect(operator.get_by_role("status")).to_be_visible()
    expect(operator.locator(row)).to_have_count(0)
    done = fleet.api.ok("GET", "/api/v1/remediations", params={"resource_id": node.id})
    (approved,) = done["remediations"]
    assert (approved["status"], approved["execution_status"]) == ("SUCCEEDED", "Success")
    tags = fleet.api.ok("GET", f"/api/v1/nodes/{node.id}")["tags"]
    assert tags.get("Owner") == "ops"


def _window(name: str, role: str, when: datetime) -> dict[str, Any]:
    return {
        "apiVersion": "patchwarden/v1",
        "kind": "MaintenanceWindow",
        "metadata": {"name": name},
        "spec": {
            "Schedule": f"at({when:%Y-%m-%dT%H:%M:%S})",
            "Duration": 1,
            "Cutoff": 0,
            "Targets": [{"Key": "tag:Role", "Values": [role]}],
            "Tasks": [
                {
                    "Name": "install",
                    "MaxConcurrency": [1, "50%"],  # waves of 1, 1 and 1 node
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


def _answer_one(nodes: list[Node]) -> Node:
    """Wait until one of ``nodes`` is sent an invocation; it answers Success."""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        for node in nodes:
            found = node.poll()
            if found:
                (invocation,) = found
                assert node.report(invocation["invocation_id"]).status_code < 300
                return node
        time.sleep(0.3)
    raise AssertionError("no node was sent an invocation")


@not_built("/windows/{}", "/windows/-/executions/{}")
def test_a_windows_waves_advance_live(fleet: Fleet, page: Page) -> None:
    role = f"wave-{uuid.uuid4().hex[:6]}"
    nodes = [fleet.register(f"{role}-{i}", {"Role": role}) for i in range(3)]
    when = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    fleet.api.ok("POST", "/api/v1/windows", json=_window(role, role, when))
    sign_in(page, fleet.url, fleet.token("viewer"), f"/windows/{role}")
    deadline = time.monotonic() + PATIENCE
    while not fleet.api.ok("GET", f"/api/v1/windows/{role}/executions"):
        assert time.monotonic() < deadline, "the window did not start"
        time.sleep(0.3)
    page.reload()
    page.locator('a[href^="/windows/-/executions/"]').first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Execution of {role}")
    expect(page.locator('[data-metric="install-waves"]')).to_have_text("3")
    page.evaluate("() => { window.notReloaded = true; }")
    timeout = PATIENCE * 1000
    for wave in (1, 2, 3):
        expect(page.locator('[data-metric="install-current-wave"]')).to_have_text(
            str(wave), timeout=timeout
        )
        expect(page.locator(f'[data-metric="install-w{wave}-done"]')).to_have_text("0")
        _answer_one(nodes)
        expect(page.locator(f'[data-metric="install-w{wave}-done"]')).to_have_text(
            "1", timeout=timeout
        )
    expect(page.locator('[data-status="execution"]')).to_contain_text("SUCCESS", timeout=timeout)
    assert page.evaluate("() => window.notReloaded") is True, "the page was reloaded"
    runs = fleet.api.ok("GET", f"/api/v1/windows/{role}/executions")
    assert runs[0]["status"] == "SUCCESS"
    assert_accessible(page, "a finished window execution")


def test_pages_run_under_their_content_security_policy(
    fleet: Fleet, new_page: Callable[..., Page], detail_hrefs: dict[str, str]
) -> None:
    """No page needs an inline script or style, another site's asset, or a broken link to
    its own assets: with the policy in force, the browser reports no error."""
    page = new_page(bypass_csp=False)
    errors: list[str] = []
    page.on(
        "console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None
    )
    failed: list[str] = []
    page.on(  # a live section's fetch cut short by the next navigation is no failure
        "requestfailed",
        lambda r: (
            None if r.failure == "net::ERR_ABORTED" else failed.append(f"{r.url} {r.failure}")
        ),
    )
    sign_in(page, fleet.url, fleet.token("operator"))
    for path in [*pages(), *sorted(set(detail_hrefs.values()))]:
        answer = page.goto(f"{fleet.url}{path}")
        assert answer is not None and answer.status == 200, path
        page.wait_for_load_state("networkidle")
    assert not errors and not failed, errors + failed


def test_dark_theme_toggle_and_contrast(fleet: Fleet, page: Page) -> None:
    sign_in(page, fleet.url, fleet.token("operator"))
    root = page.locator("html")
    toggle = page.get_by_role("button", name="Switch between light and dark theme")
    toggle.click()
    expect(root).to_have_attribute("data-theme", "dark")
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(13, 17, 23)", background
    for path in (p for p in pages() if p != "/login"):
        page.goto(f"{fleet.url}{path}")
        expect(root).to_have_attribute("data-theme", "dark")  # kept across pages
        assert_accessible(page, f"{path} in the dark theme")
    page.get_by_role("button", name="Switch between light and dark theme").click()
    expect(root).to_have_attribute("data-theme", "light")
    page.reload()
    expect(root).to_have_attribute("data-theme", "light")


def test_keyboard_skip_link_and_navigation(fleet: Fleet, page: Page) -> None:
    sign_in(page, fleet.url, fleet.token("viewer"))
    page.keyboard.press("Tab")
    focused = page.locator(":focus")
    expect(focused).to_have_text("Skip to content")
    assert focused.evaluate("e => getComputedStyle(e).left") != "-999px", "visible on focus"
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    # from the top again: the brand, then the sections in the navigation's order
    page.goto(f"{fleet.url}/")
    names = []
    for _ in range(12):
        page.keyboard.press("Tab")
        names.append(page.evaluate("() => document.activeElement.textContent.trim()"))
        outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", f"no visible focus on {names[-1]!r}"
    sections = [label for path, label in _nav() if label in names]
    assert names[:2] == ["Skip to content", "Patchwarden"]
    assert names[2 : 2 + len(sections)] == sections
    target = next((label for path, label in _nav() if path != "/" and registered(path)), None)
    if target is None:
        return
    page.goto(f"{fleet.url}/")
    for _ in range(2 + [label for _, label in _nav()].index(target) + 1):
        page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text(target)
    page.keyboard.press("Enter")
    path = dict((label, p) for p, label in _nav())[target]
    expect(page).to_have_url(f"{fleet.url}{path}")
    expect(page.get_by_role("link", name=target, exact=True)).to_have_attribute(
        "aria-current", "page"
    )


def _nav() -> tuple[tuple[str, str], ...]:
    from patchwarden.server.web.render import NAV

    return NAV
