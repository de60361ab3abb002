"""The console's session: the operator token in a cookie, CSRF tokens for its forms.

The cookie holds the token itself (``pwt_<id>.<secret>``), ``HttpOnly`` (no script reads
it), ``SameSite=Strict`` (no other site's page sends it) and ``Secure`` behind HTTPS.  Every
request checks it exactly as the API checks a bearer token
(:func:`patchwarden.server.auth.token_principal`): a revoked token signs the browser out,
and refusals are recorded the same way.  Forms carry a CSRF token derived from the token's
secret (HMAC), and a POST whose ``Origin`` is another site is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request
from starlette.datastructures import FormData

from patchwarden.server.auth import Principal, at_least, token_principal
from patchwarden.server.errors import ApiError

COOKIE = "patchwarden_session"
CSRF_FIELD = "csrf"
SESSION_SECONDS = 12 * 3600
"""How long the browser keeps the cookie (the token's own validity still rules)."""


class LoginRequired(Exception):
    """No valid session: the page redirects to the sign-in form, then back to ``next``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class ConsoleError(Exception):
    """A refusal shown as a page (status and one line), never as JSON."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Session:
    """The signed-in operator and the CSRF token of their forms."""

    who: Principal
    csrf: str

    def may(self, role: str) -> bool:
        """Whether the operator's role is ``role`` or a stronger one (to show an action)."""
        from patchwarden.server.auth import ROLES

        return ROLES.index(self.who.role) >= ROLES.index(role)


def csrf_for(secret: str) -> str:
    """The CSRF token of a session: HMAC-SHA256 of a fixed label under the token's secret."""
    return hmac.new(secret.encode(), b"patchwarden-console-csrf", hashlib.sha256).hexdigest()


def _here(request: Request) -> str:
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{request.url.path}{query}"


def login_path(next_path: str) -> str:
    """The sign-in page, coming back to ``next_path``."""
    return f"/login?next={quote(next_path, safe='/')}"


def safe_next(value: str | None) -> str:
    """``value`` when it is a path of this site, else ``/`` (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def parse_token(text: str) -> tuple[str, str] | None:
    """(id, secret) of ``pwt_<id>.<secret>``; None when it has not that shape."""
    ident, dot, secret = text.strip().partition(".")
    if not dot or not ident or not secret:
        return None
    return ident, secret


def current(request: Request) -> Session:
    """The session of the request's cookie; :class:`LoginRequired` without a valid one."""
    parsed = parse_token(request.cookies.get(COOKIE, ""))
    if parsed is None:
        raise LoginRequired(_here(request))
    try:
        who = token_principal(request, *parsed)
    except ApiError:
        raise LoginRequired(_here(request)) from None
    return Session(who, csrf_for(parsed[1]))


async def form_of(request: Request, role: str) -> tuple[Session, FormData]:
    """The posted form of a signed-in operator with ``role`` (or stronger), its CSRF token
    and origin checked; :class:`ConsoleError` (403) otherwise."""
    session = current(request)
    origin = request.headers.get("origin")
    if origin is not None and origin.rstrip("/") != str(request.base_url).rstrip("/"):
        raise ConsoleError(403, "this form was posted from another site")
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf):
        raise ConsoleError(403, "the form's security token is missing or stale: reload the page")
    try:
        at_least(request, session.who, role)
    except ApiError as exc:
        raise ConsoleError(exc.status, exc.message) from None
    return session, form
