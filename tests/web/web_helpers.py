"""Helpers of the browser tests (and of ``screenshot.py``): Debian's Chromium through
Playwright, the console's routes as its routers declare them, signing in through the form,
the numbers a page marks with ``data-metric``, and axe-core's accessibility check."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute
from playwright.sync_api import Browser, Page, Playwright

from patchwarden.server.web.pages import ROUTERS

HERE = Path(__file__).resolve().parent
AXE = HERE / "vendor" / "axe.min.js"
CHROMIUM = os.environ.get("PATCHWARDEN_CHROMIUM", "/usr/bin/chromium")
"""Debian's ``chromium`` (``make test`` installs it); Playwright downloads no browser."""
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
BLOCKING = ("serious", "critical")
"""axe-core impacts that fail a test (``minor`` and ``moderate`` are printed only)."""


def chromium_problem() -> str | None:
    """Why Chromium cannot run here (None when it can)."""
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (make test installs Debian's chromium)"
    return None


def launch(playwright: Playwright) -> Browser:
    """Headless Debian Chromium."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)


# --- the console's routes --------------------------------------------------------------


def _shape(path: str) -> str:
    """``/nodes/{node_id}`` → ``/nodes/{}`` (parameter names do not matter)."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def get_routes() -> list[str]:
    """Every GET path of the console's routers, as declared (``/nodes/{node_id}``)."""
    found = []
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and "GET" in route.methods:
                found.append(route.path)
    return sorted(set(found))


def registered(path: str) -> bool:
    """Whether the console serves ``path`` (``/nodes/{}`` matches any parameter name)."""
    return _shape(path) in {_shape(p) for p in get_routes()}


def pages() -> list[str]:
    """The console pages without path parameters (``/login`` included)."""
    return [p for p in get_routes() if "{" not in p]


def detail_pages() -> list[str]:
    """The console pages with path parameters, as shapes (``/nodes/{}``)."""
    return sorted({_shape(p) for p in get_routes() if "{" in p})


def _pattern(shape: str) -> re.Pattern[str]:
    return re.compile("^" + "[^/?#]+".join(re.escape(part) for part in shape.split("{}")) + "$")


def crawl_details(
    page: Page, base: str, shapes: list[str], depth: int = 3, per_shape: int = 4
) -> dict[str, str]:
    """Shape → the first link to a page of that shape, following links from the pages
    without parameters (breadth first, ``depth`` levels, at most ``per_shape`` pages of
    each shape followed)."""
    patterns = {shape: _pattern(shape) for shape in shapes}
    found: dict[str, str] = {}
    followed: dict[str, int] = dict.fromkeys(shapes, 0)
    queue, visited = [p for p in pages() if p != "/login"], set()
    for _ in range(depth):
        following = []
        for path in queue:
            if path in visited or len(found) == len(patterns):
                continue
            visited.add(path)
            page.goto(f"{base}{path}")
            for href in links(page):
                for shape, pattern in patterns.items():
                    if pattern.match(href) and followed[shape] < per_shape:
                        found.setdefault(shape, href)
                        followed[shape] += 1
                        following.append(href)
        queue = following
    return found


def links(page: Page) -> list[str]:
    """The page's links to this site (paths, without the fragment)."""
    hrefs: list[str] = page.eval_on_selector_all(
        "a[href]", "links => links.map(a => a.getAttribute('href'))"
    )
    return [h.split("#")[0] for h in hrefs if h.startswith("/") and not h.startswith("//")]


def not_built(*paths: str) -> Any:
    """``skipif`` for a test of pages another change is still building."""
    import pytest

    missing = [p for p in paths if not registered(p)]
    return pytest.mark.skipif(
        bool(missing), reason=f"page not built yet: {', '.join(missing) or '-'}"
    )


# --- pages -------------------------------------------------------------------------------


def sign_in(page: Page, base: str, token: str, next_path: str = "/") -> None:
    """Sign in through the form, like a person: type the token, submit, land on ``next``."""
    page.goto(f"{base}/login?next={next_path}")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{next_path}")


def metric(page: Page, name: str) -> int:
    """The number an element marked ``data-metric="name"`` starts with."""
    text = page.locator(f'[data-metric="{name}"]').first.inner_text()
    found = re.match(r"\s*(\d+)", text)
    assert found, f"data-metric={name}: {text!r}"
    return int(found.group(1))


# --- accessibility -----------------------------------------------------------------------


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (WCAG 2.x A/AA and best practices).

    The page's Content-Security-Policy allows only the server's own scripts: the browser
    context is made with ``bypass_csp=True`` so that axe can be injected."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ["violations"]});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({target: n.target, html: n.html,
                                          summary: n.failureSummary})),
            }));
        }"""
    )
    return found


def describe(violations: list[dict[str, Any]]) -> str:
    """Violations, readably: rule, impact, what to do, and each element with why."""
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:8]:
            lines.append(f"    {json.dumps(node['target'])}  {node['html'][:160]}")
            for reason in (node["summary"] or "").splitlines():
                lines.append(f"        {reason.strip()}")
        if len(v["nodes"]) > 8:
            lines.append(f"    … and {len(v['nodes']) - 8} more elements")
    return "\n".join(lines)


def assert_accessible(page: Page, what: str) -> list[dict[str, Any]]:
    """No serious or critical axe-core violation on ``page``; returns the lesser ones
    (printed, so ``-rP`` shows them)."""
    violations = axe_violations(page)
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    lesser = [v for v in violations if v["impact"] not in BLOCKING]
    if lesser:
        print(f"axe-core, {what} ({page.url}), minor/moderate:\n{describe(lesser)}")
    assert not blocking, f"axe-core, {what} ({page.url}):\n{describe(blocking)}"
    return lesser
