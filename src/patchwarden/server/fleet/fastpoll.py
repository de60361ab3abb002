"""The agents' long-poll without the framework: ASGI middleware answering a well-formed
``GET /api/v1/agent/commands`` of a known node itself.

Every node polls this one endpoint back to back, so 10,000 nodes with a 10 s long-poll are
1,000 requests a second or more, all on the event loop.  Through FastAPI each paid for
routing over every route, dependency injection and query validation — most of a poll's
cost, and the event loop's time that reports and claims (worker threads) then waited for.
This path parses the two things a poll has (``?wait=N`` and the bearer credential), checks
the credential against the node cache like :func:`patchwarden.server.auth.node`, and runs
the same long-poll (:func:`patchwarden.server.fleet.polling.next_work`).

Anything else goes on to the route, which answers as always: no or a malformed
credential, an operator token, an unknown or deregistered node (the route refuses and
records it), another query parameter, a ``wait`` it does not read as a plain number up
to 60, a node the cache could not look up (the database unavailable: the route answers
503).  An error while polling (the database unavailable during a claim) is answered by
the app's own exception handlers.  The middleware sits inside
:class:`~patchwarden.server.limits.EdgeLimits` (URL checks, throttled sources) and
:class:`~patchwarden.server.metrics.PollTimer`, so both still apply.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from patchwarden.adapters.storage.tokens import TOKEN_PREFIX
from patchwarden.server.credentials import bearer_parts
from patchwarden.server.fleet import claims
from patchwarden.server.fleet.polling import POLL_PATH, Polling, next_work

WAIT = re.compile(rb"wait=(\d{1,2}(?:\.\d{1,6})?)")
"""The one query a fast poll has (or none: ``wait`` 0)."""
MAX_WAIT = 60.0
"""The route's limit of ``wait``."""


class FastPoll:
    """The middleware (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != POLL_PATH:
            await self.app(scope, receive, send)
            return
        wait = _wait(scope["query_string"])
        credential = _bearer(scope["headers"]) if wait is not None else None
        state = scope["app"].state
        polls: Polling = state.polling
        found = None
        if wait is not None and credential is not None:
            with contextlib.suppress(Exception):  # the route tries again and answers (503)
                found = await polls.nodes.known(*credential)
        if wait is None or credential is None or found is None or found.deregistered:
            await self.app(scope, receive, send)  # the route answers (and refuses)
            return
        node_id = credential[0]
        conf, db = state.settings, state.db
        request = Request(scope, receive)
        try:
            await polls.nodes.check_in(node_id, found)
            work = await next_work(
                polls.board,
                node_id,
                min(wait, conf.long_poll_seconds),
                lambda: claims.claim_one(db, conf, node_id),
                request.is_disconnected,
            )
        except Exception as exc:
            await _handled(scope["app"], request, exc, receive, send)
            return
        await JSONResponse({"invocations": work})(scope, receive, send)


def _wait(query: bytes) -> float | None:
    """``wait`` of a fast poll's query; None: the route reads it."""
    if not query:
        return 0.0
    match = WAIT.fullmatch(query)
    if match is None:
        return None
    value = float(match.group(1))
    return value if value <= MAX_WAIT else None


def _bearer(headers: list[tuple[bytes, bytes]]) -> tuple[str, str] | None:
    """(node id, secret) of a node's bearer credential; None: the route decides."""
    for name, value in headers:
        if name == b"authorization":
            parts = bearer_parts(value.decode("latin-1"))
            return None if parts is None or parts[0].startswith(TOKEN_PREFIX) else parts
    return None


async def _handled(
    app: Any, request: Request, exc: Exception, receive: Receive, send: Send
) -> None:
    """Answer ``exc`` with the app's own handler for it (the nearest class), as the route
    would have been answered."""
    handlers = app.exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            response = await handler(request, exc)
            await response(request.scope, receive, send)
            return
    raise exc
