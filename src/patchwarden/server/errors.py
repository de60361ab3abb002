"""Every error as ``{"error": {"code", "message"}}`` (a few codes add fields: ``missing`` of
``missing_blobs``); the caller's mistakes are 4xx, never 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from patchwarden.errors import InputError
from patchwarden.server.db import DATABASE_ERRORS, is_unavailable

log = logging.getLogger("patchwarden.server")


class ApiError(Exception):
    """An error answer: HTTP status, a stable machine code and a one-line message."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        """More fields of the error object (``missing`` of ``missing_blobs``)."""


def not_found(what: str) -> ApiError:
    """404 ``not_found``."""
    return ApiError(404, "not_found", f"{what} not found")


def conflict(message: str) -> ApiError:
    """409 ``conflict``."""
    return ApiError(409, "conflict", message)


def bad_request(message: str, code: str = "invalid_request") -> ApiError:
    """400."""
    return ApiError(400, code, message)


def unavailable() -> ApiError:
    """503 ``unavailable``: the database cannot be reached (the caller retries later)."""
    return ApiError(503, "unavailable", "the database is unavailable; retry later")


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    """The error shape."""
    return {"error": {"code": code, "message": message}}


_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    503: "unavailable",
}


def _location(loc: tuple[object, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"Retry-After": "1"} if exc.status == 503 else None
        body: dict[str, Any] = error_body(exc.code, exc.message)
        if exc.details:
            body["error"] = {**exc.details, **body["error"]}
        return JSONResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(DATABASE_ERRORS)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if not is_unavailable(exc):
            return await _unexpected(request, exc)
        log.warning("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else exc)
        return await _api(request, unavailable())

    @app.exception_handler(InputError)
    async def _input(_: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(error_body("invalid_request", str(exc)), status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        message = f"{_location(tuple(first.get('loc', ())))}: {first.get('msg', 'invalid')}"
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more)"
        return JSONResponse(error_body("invalid_request", message), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return JSONResponse(error_body("internal", "internal server error"), status_code=500)
