"""axe-core on every console page, as a viewer and as an operator (who sees the action
forms), in the light theme, plus the sign-in page and a refusal page.

The pages are the GET routes the console's routers declare (``pages.ROUTERS``): a page added
there is checked without touching this file.  A page with one path parameter
(``/nodes/{node_id}``) is checked on the first link to it found on its list page
(``/nodes``) over the seeded fleet."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page
from web_fleet import Fleet
from web_helpers import assert_accessible, detail_pages, pages, sign_in

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("web-console")]
ROLES = ("viewer", "operator")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", [p for p in pages() if p != "/login"])
def test_page_is_accessible(fleet: Fleet, page: Page, path: str, role: str) -> None:
    sign_in(page, fleet.url, fleet.token(role))
    answer = page.goto(f"{fleet.url}{path}")
    assert answer is not None and answer.status == 200, path
    assert page.locator("h1").count() == 1, "one h1 per page"
    assert_accessible(page, f"{path} as {role}")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("shape", detail_pages())
def test_detail_page_is_accessible(
    fleet: Fleet, page: Page, detail_hrefs: dict[str, str], shape: str, role: str
) -> None:
    href = detail_hrefs.get(shape)
    if href is None:
        pytest.skip(f"no link to a {shape} page in the console over the seeded fleet")
    sign_in(page, fleet.url, fleet.token(role))
    answer = page.goto(f"{fleet.url}{href}")
    assert answer is not None and answer.status == 200, href
    assert page.locator("h1").count() == 1, "one h1 per page"
    assert_accessible(page, f"{shape} ({href}) as {role}")


def test_sign_in_page_and_its_error_are_accessible(fleet: Fleet, page: Page) -> None:
    page.goto(f"{fleet.url}/login")
    assert_accessible(page, "the sign-in form")
    page.get_by_label("API token").fill("pwt_nope.nope")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").wait_for()
    assert "not valid" in page.get_by_role("alert").inner_text()
    assert_accessible(page, "the sign-in form with its error")


def test_refusal_page_is_accessible(fleet: Fleet, new_page: Callable[[], Page]) -> None:
    page = new_page()
    sign_in(page, fleet.url, fleet.token("viewer"))
    # a form posted without its CSRF token is refused with a page, not JSON
    with page.expect_navigation() as navigation:
        page.evaluate(
            """() => { const f = document.createElement("form");
                       f.method = "post"; f.action = "/logout";
                       document.body.appendChild(f); f.submit(); }"""
        )
    answer = navigation.value
    assert answer is not None and answer.status == 403
    assert "security token" in page.get_by_role("alert").inner_text()
    assert_accessible(page, "the 403 page")
