"""Sign in with an operator token, sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from patchwarden.server import audit
from patchwarden.server.auth import token_principal
from patchwarden.server.db import database, settings
from patchwarden.server.errors import ApiError
from patchwarden.server.web.render import page
from patchwarden.server.web.session import (
    COOKIE,
    SESSION_SECONDS,
    form_of,
    parse_token,
    safe_next,
)

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    """The sign-in form."""
    return page(request, "login.html", None, {"next": safe_next(next), "error": ""})


@router.post("/login", response_model=None)
def login(
    request: Request,
    token: Annotated[str, Form(max_length=512)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    """Check the token as the API would; on success keep it in the session cookie."""
    target = safe_next(next)
    parsed = parse_token(token)
    try:
        if parsed is None:
            raise ApiError(401, "unauthenticated", "not a token")
        who = token_principal(request, *parsed)
    except ApiError:
        context = {"next": target, "error": "That token is not valid (or was revoked)."}
        return page(request, "login.html", None, context, status=401)
    with database(request).write() as session, session.begin():
        at = settings(request).clock.now()
        audit.record(session, who.actor, "console.login", who.id, at, {"role": who.role})
    answer = RedirectResponse(target, status_code=303)
    answer.set_cookie(
        COOKIE,
        token.strip(),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return answer


@router.post("/logout", response_model=None)
async def logout(request: Request) -> Response:
    """Forget the session cookie."""
    await form_of(request, "viewer")
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(COOKIE, path="/")
    return answer
