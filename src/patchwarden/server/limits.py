"""The server's edge: what a request may be before anything parses it.

An ASGI middleware, outside FastAPI's routing, that for every request with a body
(any method but GET/HEAD, which pass through untouched: the idle poll costs two substring
tests):

- answers 429 ``too_many_requests`` (``Retry-After``), to every method, a request carrying a
  credential or registering from a client address past its failed-secret budget
  (:mod:`patchwarden.server.refusals`), before any secret is looked up or hashed (with no
  failure anywhere, one test of an empty dict);
- refuses a URL (path or query string) holding a NUL character: 400 ``invalid_request``
  (PostgreSQL's text columns cannot store one; SQLite could, so both backends answer alike);
- refuses at once, 401/403, a body sent to an authenticated route without a valid
  credential, before reading a byte of it (FastAPI reads and parses a body before it runs the
  route's auth dependency, so the check is made here as well);
- enforces the route's body limit (:data:`LIMITS`, default :data:`DEFAULT_LIMIT`): at once
  when ``Content-Length`` says more, else while the body streams in, 413 ``too_large``;
- answers the AWS-compatible endpoint (``/aws/…``, SigV4-signed: its credential is checked
  by the route, which needs the body) in AWS's error shape (``__type``, ``message``);
- refuses a body with a NUL character (raw, or a JSON ``\\u0000`` escape) or JSON nested
  deeper than :data:`MAX_DEPTH`: 400 ``invalid_request``, before ``json.loads`` recurses
  (not on the binary routes, :func:`is_binary`: a blob upload is gzip).

The body read here is handed on to the application as one message (no second copy).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from itertools import accumulate
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from patchwarden.adapters.storage.tokens import TOKEN_PREFIX
from patchwarden.server.auth import bearer, node_credential, operator
from patchwarden.server.db import is_unavailable
from patchwarden.server.errors import ApiError, error_body, unavailable
from patchwarden.server.fleet.polling import Polling
from patchwarden.server.refusals import AUTH, REGISTER, Refusals, claimed, source_of

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KiB = 1024
MiB = 1024 * KiB
DEFAULT_LIMIT = 64 * KiB
"""Registration, commands, tokens, activations, tags, patch groups, remediations…"""
DOCUMENT_LIMIT = 1 * MiB
"""Documents: baselines, ``apply``, maintenance windows, conformance packs, governance."""
REPORT_LIMIT = 8 * MiB
"""A result: up to 1,000,000 characters of output plus the compliance report of every
package of the node."""
INVENTORY_LIMIT = 32 * MiB
"""A full inventory: up to 200,000 items of about 150 bytes."""
FACTS_LIMIT = 16 * MiB
"""A node component's fact set (up to 50,000 files of about 150 bytes), with an evaluation's
order and results."""
IMAGE_RECORD_LIMIT = 8 * MiB
"""A builder's image record (``PUT /api/v1/agent/images``): its build log and the package
list of the image (up to some 50,000 packages of about 100 bytes)."""
BLOB_LIMIT = 256 * MiB
"""One gzip-compressed fact file (``PUT /api/v1/agent/blobs/{sha256}``)."""
MAX_DEPTH = 64
"""How deeply JSON arrays and objects may nest (the deepest document is about 8)."""

BLOBS = re.compile(r"/api/v1/agent/blobs/[^/]+/?")
"""``PUT`` of a blob: a gzip body, not JSON (no NUL or nesting check)."""
LIMITS: tuple[tuple[frozenset[str], re.Pattern[str], int], ...] = (
    (frozenset({"POST"}), re.compile(r"/api/v1/agent/invocations/[^/]+/?"), REPORT_LIMIT),
    (frozenset({"PUT"}), BLOBS, BLOB_LIMIT),
    (
        frozenset({"POST"}),
        re.compile(r"/api/v1/agent/(facts|blobs/missing|invocations/[^/]+/evaluate)/?"),
        FACTS_LIMIT,
    ),
    (frozenset({"PUT", "PATCH"}), re.compile(r"/api/v1/agent/inventory/?"), INVENTORY_LIMIT),
    (frozenset({"PUT"}), re.compile(r"/api/v1/agent/images/?"), IMAGE_RECORD_LIMIT),
    (frozenset({"PUT"}), re.compile(r"/api/v1/resources/sources/[^/]+/?"), INVENTORY_LIMIT),
    (frozenset({"POST"}), re.compile(r"/aws/ssm/?"), DOCUMENT_LIMIT),  # SigV4, no bearer
    (
        frozenset({"POST", "PUT", "PATCH"}),
        re.compile(
            r"/api/v1/(apply|baselines(/.*)?|windows(/.*)?|conformance-packs/.*"
            r"|governance/.*|rules(/.*)?)"
        ),
        DOCUMENT_LIMIT,
    ),
)
"""(methods, path, limit in bytes) of the routes allowed more than :data:`DEFAULT_LIMIT`."""
PUBLIC = frozenset({("POST", "/api/v1/register")})
"""Routes with a body that take no credential (everything else under ``/api/v1`` does)."""


def limit_for(method: str, path: str) -> int:
    """The body limit of ``method path``."""
    for methods, pattern, limit in LIMITS:
        if method in methods and pattern.fullmatch(path):
            return limit
    return DEFAULT_LIMIT


def is_binary(method: str, path: str) -> bool:
    """Whether ``method path`` takes a binary body (no JSON checks apply)."""
    return method == "PUT" and BLOBS.fullmatch(path) is not None


# -- the body's content ------------------------------------------------------------------

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NUL_ESCAPE = re.compile(rb"(?:^|[^\\])(?:\\\\)*\\u0000")
_KEEP = b'"[]{}'
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in _KEEP)
_DEPTH_STEP = [0] * 256
for _open, _close in (b"[]", b"{}"):
    _DEPTH_STEP[_open], _DEPTH_STEP[_close] = 1, -1


def nesting(body: bytes) -> int:
    """How deeply the arrays and objects of the JSON text ``body`` nest (brackets inside
    strings do not count).  Linear, in C loops but for one step per bracket."""
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:  # the common case: no scan at all
        return 0
    if b"\\" in body:
        body = _ESCAPE.sub(b"", body)  # escapes hold no quote or bracket that counts
    # quotes and brackets only; quotes alternate open/close, so an adjacent pair is an
    # empty string or two strings with nothing between them: dropping it hides no bracket
    skeleton = body.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in skeleton:  # strings holding brackets (rare)
        skeleton = _STRING.sub(b"", skeleton)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, skeleton)), default=0)


def body_problem(body: bytes) -> str | None:
    """Why ``body`` is refused (one line), or None."""
    if b"\x00" in body or (b"\\u0000" in body and _NUL_ESCAPE.search(body)):
        return "the body holds a NUL character (\\u0000), which is not accepted"
    if nesting(body) > MAX_DEPTH:
        return f"the body's JSON nests deeper than {MAX_DEPTH} levels"
    return None


def url_problem(scope: Scope) -> str | None:
    """Why the URL is refused (one line), or None."""
    query: bytes = scope.get("query_string", b"")
    if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
        return "the URL holds a NUL character (%00), which is not accepted"
    return None


# -- the middleware ----------------------------------------------------------------------


class TooLarge(Exception):
    """The body passed its limit."""


AWS_TYPES = {
    "too_large": "ValidationException",
    "invalid_request": "SerializationException",
    "too_many_requests": "ThrottlingException",
    "unavailable": "ServiceUnavailable",
}
"""The AWS error type of an edge refusal of ``/aws/…`` (AWS clients read ``__type``)."""


async def _answer(
    send: Send,
    status: int,
    code: str,
    message: str,
    retry_after: int | None = None,
    *,
    aws: bool = False,
) -> None:
    if status == 503:
        retry_after = 1
    headers = None if retry_after is None else {"Retry-After": str(retry_after)}
    body: dict[str, Any] = error_body(code, message)
    media_type = None
    if aws:  # the AWS JSON protocol's error shape
        body = {"__type": AWS_TYPES.get(code, "ValidationException"), "message": message}
        media_type = "application/x-amz-json-1.1"
        headers = {**(headers or {}), "x-amzn-RequestId": str(uuid.uuid4())}
    response = JSONResponse(body, status_code=status, headers=headers, media_type=media_type)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


async def _credential_problem(scope: Scope) -> ApiError | None:
    """401/403 when the request has no valid credential (what the route's auth dependency
    would answer, only earlier); None when it has one (the route checks the role)."""
    request = Request(scope)
    try:  # each refusal is recorded (audit, budget) by the auth module
        ident, _ = bearer(request)
        if ident.startswith(TOKEN_PREFIX):
            await run_in_threadpool(operator, request)
        else:
            await node_credential(request)
    except ApiError as exc:
        return exc
    return None


async def _read(receive: Receive, limit: int) -> bytes | None:
    """The whole body (None when the client went away); :class:`TooLarge` past ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge
        if chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class EdgeLimits:
    """The middleware (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = url_problem(scope)
        if problem:
            await _answer(send, 400, "invalid_request", problem)
            return
        method: str = scope["method"]
        refusals = _refusals(scope)
        if (
            refusals is not None
            and refusals.retry_after(source_of(scope)) is not None  # no failure: a dict test
            and await _throttled(scope, method, refusals, send)
        ):
            return
        if method in ("GET", "HEAD"):  # no body is read on these routes
            await self.app(scope, receive, send)
            return
        await self._with_body(scope, receive, send, method)

    async def _with_body(self, scope: Scope, receive: Receive, send: Send, method: str) -> None:
        path: str = scope["path"]
        limit = limit_for(method, path)
        length = _content_length(scope)
        aws = path.startswith("/aws/")
        if length is not None and length > limit:
            await _answer(send, 413, "too_large", _too_large(limit), aws=aws)
            return
        if path.startswith("/api/v1/") and (method, path.rstrip("/")) not in PUBLIC:
            try:
                refused = await _credential_problem(scope)
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                refused = unavailable()
            if refused is not None:
                await _answer(send, refused.status, refused.code, refused.message)
                return
        try:
            body = await _read(receive, limit)
        except TooLarge:
            await _answer(send, 413, "too_large", _too_large(limit), aws=aws)
            return
        if body is None:
            return  # the client is gone: nobody to answer
        problem = None if is_binary(method, path) else body_problem(body)
        if problem:
            await _answer(send, 400, "invalid_request", problem, aws=aws)
            return
        handed = False

        async def replay() -> Message:
            nonlocal handed
            if handed:
                return await receive()  # a disconnect, when the client goes away
            handed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _refusals(scope: Scope) -> Refusals | None:
    polls: Polling | None = getattr(getattr(scope.get("app"), "state", None), "polling", None)
    return None if polls is None else polls.nodes.refusals


async def _throttled(scope: Scope, method: str, refusals: Refusals, send: Send) -> bool:
    """Answer 429 when the request carries a credential or registers (its address is past
    its failed-secret budget); whether it was answered."""
    source = source_of(scope)
    header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
    registering = method == "POST" and scope["path"].rstrip("/") == "/api/v1/register"
    if header is None and not registering:
        return False
    wait = refusals.retry_after(source)
    if wait is None:
        return False
    if registering:
        action, actor = REGISTER, "anonymous"  # the body (the activation id) is not read
    else:
        ident = (header or b"").decode("latin-1").partition(" ")[2].strip().partition(".")[0]
        kind = "token-id" if ident.startswith(TOKEN_PREFIX) else "node"
        action = AUTH
        actor = claimed(kind, ident.removeprefix(TOKEN_PREFIX)) if ident else "anonymous"
    refusals.refused(source, action, actor, 429, "too_many_requests")
    message = f"too many failed credentials from {source}; retry in {wait} s"
    aws = scope["path"].startswith("/aws/")
    await _answer(send, 429, "too_many_requests", message, retry_after=wait, aws=aws)
    return True


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int) -> str:
    size = f"{limit // MiB} MiB" if limit >= MiB else f"{limit // KiB} KiB"
    return f"the request body is larger than this endpoint accepts ({size})"
