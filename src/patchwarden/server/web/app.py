"""Mounting the console on the server's application: its static files, its pages, and
the handlers that turn a missing session into the sign-in page and a refusal into a page."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from patchwarden.server.web.pages import ROUTERS
from patchwarden.server.web.render import STATIC, page
from patchwarden.server.web.session import ConsoleError, LoginRequired, login_path


def install(app: FastAPI) -> None:
    """Serve the console at ``/`` (and its assets under ``/static/console``)."""
    app.mount("/static/console", StaticFiles(directory=STATIC), name="console-static")
    for router in ROUTERS:
        app.include_router(router)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(login_path(exc.next_path), status_code=303)

    @app.exception_handler(ConsoleError)
    async def _refused(request: Request, exc: ConsoleError) -> HTMLResponse:
        context = {"status": exc.status, "message": exc.message}
        return page(request, "error.html", None, context, status=exc.status)
