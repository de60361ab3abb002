"""Pages: the Jinja2 environment (autoescaped templates of this package) and one helper
that renders a template with what every page needs (the operator, the CSRF token, the
navigation)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from patchwarden import __version__
from patchwarden.server.web.session import CSRF_FIELD, Session

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

NAV = (
    ("/", "Overview"),
    ("/nodes", "Nodes"),
    ("/commands", "Commands"),
    ("/windows", "Windows"),
    ("/governance", "Governance"),
    ("/responsibility", "Responsibility"),
    ("/vulnerabilities", "Vulnerabilities"),
    ("/images", "Images"),
    ("/deployments", "Deployments"),
    ("/events", "Events"),
)
"""The console's sections, in the navigation's order."""

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Every page: only this server's scripts, styles and forms; never framed; not cached."""


def when(value: datetime | str | None) -> str:
    """A time as ``2026-12-06 04:05 UTC`` (empty for none)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def ago(value: datetime | None, now: datetime) -> str:
    """``5 min ago`` / ``in 3 h`` (empty for none)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = int((now - value).total_seconds())
    future, seconds = seconds < 0, abs(seconds)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            text = f"{seconds // size} {unit}"
            break
    else:
        text = f"{seconds} s"
    return f"in {text}" if future else f"{text} ago"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The templates' environment (built once)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.globals["version"] = __version__
    env.globals["nav"] = NAV
    env.globals["csrf_field"] = CSRF_FIELD
    return env


def page(
    request: Request,
    template: str,
    session: Session | None,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """``template`` rendered for ``session`` (None on the sign-in page)."""
    section = next(
        (path for path, _ in NAV[1:] if request.url.path.startswith(path)),
        "/" if request.url.path == "/" else "",
    )
    html = (
        environment()
        .get_template(template)
        .render(session=session, section=section, path=request.url.path, **(context or {}))
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
