"""Who is calling: operator API tokens (roles viewer < operator < admin) and node credentials.

Both are ``Authorization: Bearer <id>.<secret>``: operators ``pwt_<token id>.<secret>``,
nodes ``<node id>.<secret>``.  The id finds the row; the secret is checked against its
SHA-256 in constant time (see :mod:`patchwarden.adapters.storage.secrets` for why a fast
hash is right for random secrets).  Operator tokens cannot act as nodes and node
credentials cannot call operator endpoints.

Every refusal here is recorded with :mod:`patchwarden.server.refusals` (audited, coalesced
per client address; a wrong secret counts against the address's budget, which the edge
middleware enforces before any secret is looked up).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from patchwarden.adapters.storage.secrets import verify
from patchwarden.adapters.storage.tokens import TOKEN_PREFIX, find_token
from patchwarden.adapters.storage.tokens import make_token as make_token  # re-exported
from patchwarden.server.credentials import bearer_parts
from patchwarden.server.db import database
from patchwarden.server.errors import ApiError
from patchwarden.server.fleet.nodecache import KnownNode
from patchwarden.server.fleet.polling import polling
from patchwarden.server.refusals import AUTH, Refusals, claimed, source_of

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


def refusals(request: Request) -> Refusals:
    """The process's refusals (budget and audit)."""
    return polling(request).nodes.refusals


def refuse(
    request: Request, actor: str, error: ApiError, *, wrong_secret: bool = False
) -> ApiError:
    """Record the refusal ``error`` of the request's credential; return it (to raise)."""
    refusals(request).refused(
        source_of(request), AUTH, actor, error.status, error.code, wrong_secret=wrong_secret
    )
    return error


def bearer(request: Request) -> tuple[str, str]:
    """(id, secret) of the ``Authorization: Bearer`` header; 401 when absent or malformed."""
    parts = bearer_parts(request.headers.get("authorization", ""))
    if parts is None:
        raise refuse(request, "anonymous", _unauthenticated())
    return parts


def operator(request: Request) -> Principal:
    """The operator behind the request's token (any role)."""
    return token_principal(request, *bearer(request))


def token_principal(request: Request, ident: str, secret: str) -> Principal:
    """The operator whose token is ``ident.secret`` (the bearer header's, or the web
    console's session cookie); 401/403 (recorded) otherwise."""
    if not ident.startswith(TOKEN_PREFIX):
        forbidden = ApiError(403, "forbidden", "this endpoint needs an operator API token")
        raise refuse(request, claimed("node", ident), forbidden)
    token_id = ident.removeprefix(TOKEN_PREFIX)
    row = find_token(database(request).read, token_id)
    if row is None or row.revoked or not verify(secret, row.secret_hash):
        raise refuse(request, claimed("token-id", token_id), _unauthenticated(), wrong_secret=True)
    return Principal("operator", row.id, row.name, row.role)


def require(role: str) -> Callable[[Request], Principal]:
    """A dependency admitting operators with ``role`` or a stronger one."""

    def check(request: Request) -> Principal:
        return at_least(request, operator(request), role)

    return check


def at_least(request: Request, who: Principal, role: str) -> Principal:
    """``who`` when its role is ``role`` or a stronger one; 403 (recorded) otherwise."""
    if ROLES.index(who.role) < ROLES.index(role):
        weak = ApiError(403, "forbidden", f"this needs the {role} role (token has {who.role})")
        raise refuse(request, claimed("token-id", who.id), weak)
    return who


async def node_credential(request: Request) -> tuple[str, KnownNode]:
    """The node id and cached node of the request's valid credential; 401/403 (recorded)
    otherwise.  Deregistered nodes are refused."""
    ident, secret = bearer(request)
    if ident.startswith(TOKEN_PREFIX):
        forbidden = ApiError(
            403, "forbidden", "this endpoint is for registered nodes (agents) only"
        )
        raise refuse(request, claimed("token-id", ident.removeprefix(TOKEN_PREFIX)), forbidden)
    found = await polling(request).nodes.known(ident, secret)
    if found is None:
        raise refuse(request, claimed("node", ident), _unauthenticated(), wrong_secret=True)
    if found.deregistered:
        gone = ApiError(403, "forbidden", f"node {ident} is deregistered")
        raise refuse(request, claimed("node", ident), gone)
    return ident, found


async def node(request: Request) -> Principal:
    """The node behind the request's credential (from the process's node cache: no
    database read once the node is known, :mod:`patchwarden.server.fleet.nodecache`)."""
    ident, found = await node_credential(request)
    await polling(request).nodes.check_in(ident, found)
    return Principal("node", ident, found.name, "node")


Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Admin = Annotated[Principal, Depends(require("admin"))]
NodeCaller = Annotated[Principal, Depends(node)]
