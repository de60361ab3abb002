"""The OpenAPI document as the server really answers: the error statuses of every route.

FastAPI documents a 422 validation error on every route with parameters or a body, and
nothing else.  The server answers its validation errors 400 ``invalid_request``
(:mod:`patchwarden.server.errors`) and, before any route runs, the edge
(:mod:`patchwarden.server.limits`) and the auth dependencies answer 400/401/403/413/503.
:func:`install` post-processes ``app.openapi()`` once, centrally, deriving each
operation's error statuses from its route:

- every route: 400 (a bad query, a NUL in the URL), 503 (the database is unavailable);
- a route with an auth dependency (:mod:`patchwarden.server.auth`): 401 and 403;
- a route with path parameters, and a write: 404 (an object named does not exist);
- a write (POST, PUT, PATCH, DELETE): 409 (conflicts) and 413 (the body's size limit);
- every route: 429 too (a request carrying a credential, or registering, from an address
  past its budget of wrong secrets, :mod:`patchwarden.server.refusals`);
- the few statuses a route answers beyond these rules: :data:`EXTRA`.

Every error is documented with the ``{"error": {"code", "message"}}`` body (``Error``); 422
and FastAPI's validation schemas are removed.

:func:`install` also answers 405 with an ``Allow`` header naming every method of the path
(Starlette names only those of the first route matching it, and a path is often served by
several route functions).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, Request, routing
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, compile_path

from patchwarden.server import auth
from patchwarden.server.errors import error_body

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
DESCRIPTIONS = {
    400: "Invalid request (`invalid_request`)",
    401: "Missing or invalid credentials (`unauthenticated`)",
    403: "The credential may not do this (`forbidden`)",
    404: "Not found (`not_found`)",
    409: "Conflict with the current state (`conflict`)",
    413: "The request body is larger than this endpoint accepts (`too_large`)",
    429: "Too many wrong secrets from this address; retry later (`too_many_requests`)",
    503: "The database is unavailable; retry later (`unavailable`)",
}
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EXTRA: dict[tuple[str, str], frozenset[int]] = {
    # test-only endpoint: 404 unless PATCHWARDEN_SCHEDULER_TEST_TICK=1
    ("POST", "/api/v1/windows/-/tick"): frozenset({404}),
}
"""(method, path) → statuses the route answers beyond the derived ones."""
_DROPPED_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _authenticated(route: APIRoute) -> bool:
    return any(
        getattr(call, "__module__", None) == auth.__name__ for call in _calls(route.dependant)
    )


def routes(app: FastAPI) -> Iterator[tuple[str, set[str], APIRoute]]:
    """(path, methods, route) of every API route of ``app``, included routers' too."""
    contexts = getattr(routing, "iter_route_contexts", None)  # FastAPI >= 0.13x: lazy includes
    found: list[Any] = list(contexts(app.routes)) if contexts else list(app.routes)
    for context in found:
        route: BaseRoute = getattr(context, "original_route", context)
        if isinstance(route, APIRoute) and route.include_in_schema:
            yield str(context.path_format), set(context.methods or ()), route


def statuses(path: str, method: str, route: APIRoute) -> set[int]:
    """The error statuses ``method path`` (served by ``route``) can answer."""
    found = {400, 429, 503}
    if _authenticated(route) or (method in WRITES and path.startswith("/api/v1/")):
        found |= {401, 403}  # the edge checks the credential of every write under /api/v1
    if "{" in path or method in WRITES:
        found.add(404)  # the object named by the path, or by the body of a write
    if method in WRITES:
        found |= {409, 413}
    return found | EXTRA.get((method, path), frozenset())


def document(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (FastAPI's document of ``app``) with the real error statuses, in place."""
    paths: dict[str, dict[str, Any]] = schema.get("paths", {})
    for path, methods, route in routes(app):
        for method in sorted(methods):
            operation = paths.get(path, {}).get(method.lower())
            if operation is None:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status in sorted(statuses(path, method, route)):
                responses.setdefault(
                    str(status),
                    {
                        "description": DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": ERROR_REF}},
                    },
                )
    schemas: dict[str, Any] = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in _DROPPED_SCHEMAS:
        schemas.pop(name, None)
    schemas["Error"] = ERROR_SCHEMA
    return schema


def allowed(app: FastAPI, path: str) -> list[str]:
    """Every method some route of ``app`` serves ``path`` with."""
    methods: set[str] = set()
    for route_path, route_methods, _ in routes(app):
        if compile_path(route_path)[0].fullmatch(path):
            methods |= route_methods
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and ``/openapi.json``) the corrected document, and 405
    answers name every method of the path."""
    plain = app.openapi

    @app.exception_handler(405)
    async def _method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
        detail = exc.detail if isinstance(exc, HTTPException) else "Method Not Allowed"
        methods = allowed(app, request.url.path) or ["GET"]
        return JSONResponse(
            error_body("method_not_allowed", str(detail)),
            status_code=405,
            headers={"Allow": ", ".join(methods)},
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app, plain())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
