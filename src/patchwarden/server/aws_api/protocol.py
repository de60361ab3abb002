"""The AWS JSON 1.1 protocol as the ``/aws/ssm`` operations see it: errors with AWS's
types, the registry of operations (name → role, handler), the context a handler gets,
typed parameter readers that answer ``ValidationException`` as AWS does, epoch-second
timestamps and ``NextToken``/``MaxResults`` paging."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from patchwarden.pipeline.fleet.errors import Conflict, FleetError, Invalid, NotFound
from patchwarden.server.auth import Principal
from patchwarden.server.db import Session
from patchwarden.server.settings import ServerSettings

T = TypeVar("T")
TARGET_PREFIX = "AmazonSSM."
"""How ``X-Amz-Target`` names an operation of the SSM API."""


class AwsError(Exception):
    """An answer in AWS's error shape: ``{"__type": type, "message": message}``."""

    def __init__(self, type_: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message
        self.status = status


def invalid(message: str) -> AwsError:
    """A ``ValidationException`` (a parameter is missing, of the wrong type or range)."""
    return AwsError("ValidationException", message)


@dataclass(frozen=True)
class Context:
    """What an operation gets: its session (a write session for operations that change
    something, committed when the handler returns), the settings, the caller, the time."""

    session: Session
    settings: ServerSettings
    principal: Principal
    now: datetime


Params = Mapping[str, Any]
Handler = Callable[[Context, Params], dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    """A supported operation: its name, the role it needs and its handler."""

    name: str
    role: str
    handler: Handler

    @property
    def writes(self) -> bool:
        """Whether it changes something (every operation needing more than viewer)."""
        return self.role != "viewer"


OPERATIONS: dict[str, Operation] = {}
"""Every supported operation by name (filled by the modules of operations)."""


def operation(name: str, role: str) -> Callable[[Handler], Handler]:
    """Register the decorated handler as the operation ``name`` needing ``role``."""

    def register(handler: Handler) -> Handler:
        if name in OPERATIONS:
            raise ValueError(f"operation {name} registered twice")
        OPERATIONS[name] = Operation(name, role, handler)
        return handler

    return register


def epoch(at: datetime) -> float:
    """A timestamp as the JSON protocols carry it: seconds since the epoch."""
    return at.timestamp()


# -- parameters --------------------------------------------------------------------------


def string(
    params: Params,
    name: str,
    *,
    required: bool = False,
    pattern: str | None = None,
    min_length: int = 0,
    max_length: int | None = None,
    enum: Sequence[str] | None = None,
) -> str | None:
    """The string parameter ``name`` (None when absent and not required)."""
    value = params.get(name)
    if value is None:
        if required:
            raise invalid(
                f"1 validation error detected: Value null at '{name}' failed to "
                "satisfy constraint: Member must not be null"
            )
        return None
    if not isinstance(value, str):
        raise AwsError("SerializationException", f"{name}: expected a string")
    if len(value) < min_length or (max_length is not None and len(value) > max_length):
        bound = f"{min_length}..{max_length}" if max_length is not None else f">= {min_length}"
        raise invalid(f"{name}: length must be {bound}")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise invalid(f"{name}: {value[:128]!r} does not match {pattern}")
    if enum is not None and value not in enum:
        raise invalid(f"{name}: {value[:64]!r} is not one of {', '.join(enum)}")
    return value


def integer(params: Params, name: str, *, low: int, high: int) -> int | None:
    """The integer parameter ``name`` within [low, high] (None when absent)."""
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise AwsError("SerializationException", f"{name}: expected an integer")
    if not low <= value <= high:
        raise invalid(f"{name}: {value} is not within {low}..{high}")
    return value


def boolean(params: Params, name: str) -> bool | None:
    """The boolean parameter ``name`` (None when absent)."""
    value = params.get(name)
    if value is not None and not isinstance(value, bool):
        raise AwsError("SerializationException", f"{name}: expected a boolean")
    return value


@dataclass(frozen=True)
class Filter:
    """One ``{"Key": ..., "Values": [...]}`` of a ``Filters`` list."""

    key: str
    values: tuple[str, ...]


def filters(params: Params, keys: Sequence[str], name: str = "Filters") -> list[Filter]:
    """The ``Filters`` parameter; a key not in ``keys`` is a ``ValidationException``."""
    raw = params.get(name)
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > 5:
        raise invalid(f"{name}: expected a list of at most 5 filters")
    found: list[Filter] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise AwsError("SerializationException", f"{name}[{index}]: expected an object")
        key = string(item, "Key", required=True, min_length=1, max_length=128)
        values = item.get("Values") or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise invalid(f"{name}[{index}].Values: expected a list of strings")
        if key not in keys:
            raise invalid(f"{name}[{index}].Key: {key!r} is not one of {', '.join(keys)}")
        assert key is not None
        found.append(Filter(key, tuple(values)))
    return found


# -- paging ------------------------------------------------------------------------------


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(token: str) -> int:
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = value["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise AwsError("InvalidNextToken", "The specified token is not valid.") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise AwsError("InvalidNextToken", "The specified token is not valid.")
    return offset


def page(
    items: Sequence[T], params: Params, *, maximum: int, default: int | None = None
) -> tuple[Sequence[T], str | None]:
    """One page of ``items`` for the request's ``MaxResults`` (1..``maximum``, default
    ``default`` or ``maximum``) and ``NextToken``; with the next page's token (None on the
    last page).  The token is an offset into the same ordered listing."""
    size = integer(params, "MaxResults", low=1, high=maximum) or default or maximum
    token = string(params, "NextToken")
    start = _offset(token) if token else 0
    end = start + size
    return items[start:end], (_token(end) if end < len(items) else None)


# -- the fleet use cases' refusals -------------------------------------------------------


@contextmanager
def refusals(
    *,
    not_found: str = "DoesNotExistException",
    conflict: str = "ResourceInUseException",
    conflicts: Mapping[str, str] | None = None,
) -> Iterator[None]:
    """Turn a use case's refusal inside the block into AWS's error (the types an
    operation's model names for them)."""
    try:
        yield
    except NotFound as exc:
        raise AwsError(not_found, exc.message) from None
    except Conflict as exc:
        raise AwsError((conflicts or {}).get(exc.code, conflict), exc.message) from None
    except Invalid as exc:
        raise invalid(exc.message) from None
    except FleetError as exc:
        raise invalid(exc.message) from None
