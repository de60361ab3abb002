"""The console's pages, one module each (a router of server-rendered pages)."""

from fastapi import APIRouter

from patchwarden.server.web.pages import overview, signin

ROUTERS: tuple[APIRouter, ...] = (signin.router, overview.router)
"""Every page router, mounted by :func:`patchwarden.server.web.install`."""
