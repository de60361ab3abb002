"""The console's pages, one module each (a router of server-rendered pages)."""

from fastapi import APIRouter

from patchwarden.server.web.pages import (
    commands,
    events,
    governance,
    images,
    nodes,
    overview,
    responsibility,
    signin,
    vulnerabilities,
    windows,
)

ROUTERS: tuple[APIRouter, ...] = (
    signin.router,
    overview.router,
    images.router,
    commands.router,
    windows.router,
    nodes.router,
    governance.router,
    responsibility.router,
    vulnerabilities.router,
    events.router,
)
"""Every page router, mounted by :func:`patchwarden.server.web.install`."""
