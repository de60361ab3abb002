"""Fixtures of the browser tests: a real ``patchwarden server`` process on 127.0.0.1, a
small fleet seeded through its API (simulated nodes that poll and answer over HTTP, as a
real agent does), Debian's headless Chromium driven by Playwright, and a screenshot of every
page a test opened, pass or fail, in ``$PATCHWARDEN_TEST_ARTIFACTS`` (default
``test-artifacts/web/`` in the repository).

- ``fleet``: one server over SQLite per test session (per xdist worker) with
  its seeded fleet; tests add what they need and compare with the API, never with counts
  fixed in advance;
- ``pg_fleet``: the same over PostgreSQL (the local cluster; skipped when unreachable,
  failed under CI);
- ``browser``: one Chromium per session; ``page`` / ``new_page``: a fresh browser context
  (own cookies) per page, 1280 by 800, Content-Security-Policy bypassed so axe-core can be
  injected; a script error on a page fails the test.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from fleet_processes import pg_schema
from playwright.sync_api import Browser, Page, sync_playwright
from web_fleet import Fleet, start_fleet
from web_helpers import VIEWPORT, chromium_problem, crawl_details, detail_pages, launch, sign_in

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ARTIFACTS = Path(os.environ.get("PATCHWARDEN_TEST_ARTIFACTS", REPO / "test-artifacts" / "web"))


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """The server over SQLite with its seeded fleet."""
    home = tmp_path_factory.mktemp("web-server")
    with start_fleet(home, f"sqlite:///{home / 'server.db'}") as made:
        yield made


@pytest.fixture(scope="session")
def pg_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """The server over PostgreSQL (a schema of its own) with its seeded fleet."""
    from fleet_processes import PG_BASE_URL
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(PG_BASE_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        message = f"PostgreSQL at {PG_BASE_URL} is not reachable: {str(exc).splitlines()[0]}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with pg_schema() as url, start_fleet(tmp_path_factory.mktemp("web-server-pg"), url) as made:
        yield made


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium."""
    problem = chromium_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def detail_hrefs(fleet: Fleet, browser: Browser) -> dict[str, str]:
    """Shape of each console page with path parameters → a link to one such page, found by
    following the console's own links as an operator over the seeded fleet."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    try:
        page = context.new_page()
        sign_in(page, fleet.url, fleet.token("operator"))
        return crawl_details(page, fleet.url, detail_pages())
    finally:
        context.close()


def _artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.removeprefix("tests/web/"))


@pytest.fixture
def new_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[..., Page]]:
    """Opens a page in a browser context of its own (its own cookies: one per signed-in
    person; ``bypass_csp=False`` keeps the pages' Content-Security-Policy in force); every
    such page is screenshotted when the test ends, pass or fail."""
    opened: list[tuple[Page, list[str]]] = []

    def open_page(bypass_csp: bool = True) -> Page:
        context = browser.new_context(viewport=VIEWPORT, bypass_csp=bypass_csp)  # type: ignore[arg-type]
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        opened.append((page, errors))
        return page

    yield open_page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = _artifact_name(request.node.nodeid)
    problems = []
    for index, (page, errors) in enumerate(opened):
        suffix = f"-{index + 1}" if len(opened) > 1 else ""
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}{suffix}.png"), full_page=True)
        finally:
            page.context.close()
        problems += errors
    assert not problems, f"script errors on the page: {problems}"


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    """One page (not signed in)."""
    return new_page()
