"""Who is calling: operator API tokens (roles viewer < operator < admin) and node credentials.

Both are ``Authorization: Bearer <id>.<secret>``: operators ``pwt_<token id>.<secret>``,
nodes ``<node id>.<secret>``.  The id finds the row; the secret is checked against its
SHA-256 in constant time (see :mod:`patchwarden.adapters.storage.secrets` for why a fast
hash is right for random secrets).  Operator tokens cannot act as nodes and node
credentials cannot call operator endpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from patchwarden.adapters.storage.secrets import verify
from patchwarden.adapters.storage.tokens import TOKEN_PREFIX, find_token
from patchwarden.adapters.storage.tokens import make_token as make_token  # re-exported
from patchwarden.server.db import database, settings
from patchwarden.server.errors import ApiError
from patchwarden.server.fleet.polling import polling

ROLES = ("viewer", "operator", "admin")
"""Operator roles, weakest first: each one can do what the ones before it can."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    kind: str
    """``operator`` or ``node``."""
    id: str
    name: str
    role: str
    """An operator role, or ``node``."""

    @property
    def actor(self) -> str:
        """How the audit log names the caller."""
        return f"token:{self.name}" if self.kind == "operator" else f"node:{self.id}"


def _unauthenticated(message: str = "missing or invalid credentials") -> ApiError:
    return ApiError(401, "unauthenticated", message)


def bearer(request: Request) -> tuple[str, str]:
    """(id, secret) of the ``Authorization: Bearer`` header; 401 when absent or malformed."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or "." not in value:
        raise _unauthenticated()
    ident, _, secret = value.strip().partition(".")
    if not ident or not secret:
        raise _unauthenticated()
    return ident, secret


def operator(request: Request) -> Principal:
    """The operator behind the request's token (any role)."""
    ident, secret = bearer(request)
    if not ident.startswith(TOKEN_PREFIX):
        raise ApiError(403, "forbidden", "this endpoint needs an operator API token")
    row = find_token(database(request).read, ident.removeprefix(TOKEN_PREFIX))
    if row is None or row.revoked or not verify(secret, row.secret_hash):
        raise _unauthenticated()
    return Principal("operator", row.id, row.name, row.role)


def require(role: str) -> Callable[[Request], Principal]:
    """A dependency admitting operators with ``role`` or a stronger one."""
    needed = ROLES.index(role)

    def check(request: Request) -> Principal:
        who = operator(request)
        if ROLES.index(who.role) < needed:
            raise ApiError(403, "forbidden", f"this needs the {role} role (token has {who.role})")
        return who

    return check


async def node(request: Request) -> Principal:
    """The node behind the request's credential (from the process's node cache: no
    database read once the node is known, :mod:`patchwarden.server.fleet.nodecache`)."""
    ident, secret = bearer(request)
    if ident.startswith(TOKEN_PREFIX):
        raise ApiError(403, "forbidden", "this endpoint is for registered nodes (agents) only")
    cache = polling(request).nodes
    found = await cache.known(ident, secret)
    if found is None:
        raise _unauthenticated()
    if found.deregistered:
        raise ApiError(403, "forbidden", f"node {ident} is deregistered")
    if cache.checked_in(ident, found, settings(request).clock.now()):  # every request is a ping
        await run_in_threadpool(cache.flush_checkins)
    return Principal("node", ident, found.name, "node")


Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Admin = Annotated[Principal, Depends(require("admin"))]
NodeCaller = Annotated[Principal, Depends(node)]
