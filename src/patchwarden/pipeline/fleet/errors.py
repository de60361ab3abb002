"""The failures of the fleet use cases, each with the stable machine code the HTTP API
answers with; the server maps each class to its status (:mod:`patchwarden.server.outcomes`)."""

from __future__ import annotations

from patchwarden.errors import PatchwardenError


class FleetError(PatchwardenError):
    """A request a fleet use case refuses: ``code`` is the API's machine code."""

    default_code = "invalid_request"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class Invalid(FleetError):
    """The request contradicts itself or the stored state (HTTP 400)."""


class NotFound(FleetError):
    """What the request names does not exist (HTTP 404); built from ``what``."""

    default_code = "not_found"

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")


class Conflict(FleetError):
    """The stored state forbids the change (HTTP 409)."""

    default_code = "conflict"


class Forbidden(FleetError):
    """The caller may not do this (HTTP 403)."""

    default_code = "forbidden"


class Unauthenticated(FleetError):
    """The caller's credentials do not hold (HTTP 401)."""

    default_code = "unauthenticated"
