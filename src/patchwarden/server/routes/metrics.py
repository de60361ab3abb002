"""``GET /metrics``: the server's Prometheus metrics (:mod:`patchwarden.server.metrics`).

A viewer token is needed (Prometheus sends it with ``authorization: credentials_file``)
unless the server runs with ``PATCHWARDEN_METRICS_PUBLIC=1``; which of the two is decided
when the app is created (:func:`router`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from patchwarden.server.auth import require
from patchwarden.server.metrics import Observed, exposition

_TEXT = {"schema": {"type": "string"}}


def router(public: bool) -> APIRouter:
    """The ``/metrics`` router: open to anyone when ``public``, else to viewer tokens."""
    found = APIRouter(tags=["health"])
    guards = [] if public else [Depends(require("viewer"))]

    @found.get(
        "/metrics",
        dependencies=guards,
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text exposition",
                "content": {
                    "text/plain": _TEXT,
                    "application/openmetrics-text": _TEXT,
                },
            }
        },
    )
    def scrape(request: Request) -> Response:
        """The fleet's gauges (read from the database now), the agent poll histogram and
        the build info, as Prometheus text (or OpenMetrics when the ``Accept`` header asks
        for it)."""
        observed: Observed = request.app.state.metrics
        body, content_type = exposition(observed, request.headers.get("accept"))
        return Response(body, media_type=content_type)

    return found
