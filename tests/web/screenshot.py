"""``make screenshot``: the README's picture of the console.

Starts ``patchwarden demo``'s fleet (a server on 127.0.0.1, sandbox nodes driven by real
apt, findings, a window, a conformance pack: :class:`patchwarden.demo.fleet.Demo`), signs in
with its operator token in Debian's headless Chromium, and saves the overview at 1280 by 800
(light theme) to the path given (default ``docs/images/console-overview.png``).  Everything
the demo started is stopped and removed afterwards.

    .venv/bin/python tests/web/screenshot.py [PATH] [--nodes N] [--theme light|dark]

``--fleet simulated`` uses the browser tests' fleet instead (nodes simulated over HTTP; no
apt, no root): quicker, less to see.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from playwright.sync_api import sync_playwright
from web_helpers import VIEWPORT, chromium_problem, launch, sign_in

REPO = Path(__file__).resolve().parent.parent.parent
DEFAULT = REPO / "docs" / "images" / "console-overview.png"


@contextmanager
def demo_fleet(nodes: int) -> Iterator[tuple[str, str]]:
    """``patchwarden demo``'s fleet: (URL, operator token); stopped and removed after."""
    from patchwarden.demo.fleet import Demo, check_tools

    check_tools()
    demo = Demo(nodes=nodes, progress=lambda m: print(f"demo: {m}", file=sys.stderr))
    try:
        ready = demo.start()
        yield ready.url, ready.operator_token
    finally:
        demo.close()


@contextmanager
def simulated_fleet() -> Iterator[tuple[str, str]]:
    """The browser tests' seeded fleet over SQLite: (URL, operator token)."""
    from web_fleet import start_fleet

    with (
        tempfile.TemporaryDirectory(prefix="patchwarden-screenshot-") as home,
        start_fleet(Path(home), f"sqlite:///{home}/server.db") as fleet,
    ):
        yield fleet.url, fleet.token("operator")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--nodes", type=int, default=6, help="demo nodes (default 6)")
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--fleet", choices=("demo", "simulated"), default="demo")
    args = parser.parse_args(argv)
    problem = chromium_problem()
    if problem:
        print(f"screenshot: {problem}", file=sys.stderr)
        return 3

    started = demo_fleet(args.nodes) if args.fleet == "demo" else simulated_fleet()
    with started as (url, token), sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(
            viewport=VIEWPORT,  # type: ignore[arg-type]
            device_scale_factor=1,
            color_scheme=args.theme,
        )
        page = context.new_page()
        sign_in(page, url, token)
        page.wait_for_load_state("networkidle")
        args.path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.path))
        browser.close()
    print(f"screenshot: {args.path} (the overview of the {args.fleet} fleet)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
