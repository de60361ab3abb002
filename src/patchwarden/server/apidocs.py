"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) served from the server itself, so that they
work without Internet access (FastAPI's own pages load their scripts from a CDN).

The assets are those of the ``fastapi-offline`` package (MIT; it ships swagger-ui-dist 5,
Apache-2.0, and ReDoc 2, MIT): ``swagger-ui-bundle.js``, ``swagger-ui.css``,
``redoc.standalone.js`` and ``favicon.png``, mounted read-only under :data:`ASSETS`.  Only
the files are used; the pages are FastAPI's ``get_swagger_ui_html`` and ``get_redoc_html``
pointed at them (ReDoc without Google Fonts).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
"""Where the Swagger UI and ReDoc files are served."""
ASSET_DIR = Path(fastapi_offline.__file__).parent / "static"
DOCS = "/docs"
REDOC = "/redoc"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def install(app: FastAPI) -> None:
    """Serve the documentation pages and their assets (``app`` created with
    ``docs_url=None, redoc_url=None``)."""
    app.mount(ASSETS, StaticFiles(directory=ASSET_DIR), name="apidocs-assets")
    title = app.title

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get(DOCS, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        base = root(request)
        return get_swagger_ui_html(
            openapi_url=f"{base}{app.openapi_url}",
            title=f"{title} - Swagger UI",
            oauth2_redirect_url=f"{base}{OAUTH2_REDIRECT}",
            swagger_js_url=f"{base}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{base}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{base}{ASSETS}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        base = root(request)
        return get_redoc_html(
            openapi_url=f"{base}{app.openapi_url}",
            title=f"{title} - ReDoc",
            redoc_js_url=f"{base}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{base}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
