"""The fleet use cases' refusals (:mod:`patchwarden.pipeline.fleet.errors`) as the API's
error answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from patchwarden.pipeline.fleet.errors import (
    Conflict,
    FleetError,
    Forbidden,
    Invalid,
    NotFound,
    Unauthenticated,
)
from patchwarden.server.errors import ApiError

_STATUS: dict[type[FleetError], int] = {
    Invalid: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
}


def api_error(exc: FleetError) -> ApiError:
    """The answer to a refusal: its status, its code, its message."""
    status = next((s for kind, s in _STATUS.items() if isinstance(exc, kind)), 400)
    return ApiError(status, exc.code, exc.message)


@contextmanager
def answered() -> Iterator[None]:
    """Turn a use case's refusal inside the block into the API's error answer."""
    try:
        yield
    except FleetError as exc:
        raise api_error(exc) from None
