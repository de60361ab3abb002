"""``POST /aws/ssm`` (and ``/aws/ssm/``, where botocore sends JSON protocols): verify the
request's SigV4 signature against the access key's secret, find the token behind the key,
dispatch ``X-Amz-Target: AmazonSSM.<Operation>`` to its registered handler with the role
it needs, and answer ``application/x-amz-json-1.1`` with an ``x-amzn-RequestId``.

Errors are AWS's: ``{"__type": "<Type>", "message": "..."}``, HTTP 400 for the caller's
mistakes (signature, key, role, parameters, unknown operations), 503
``ServiceUnavailable`` when the database is out of reach, 500 ``InternalServerError``
for anything else — logged here with its request id, never answered with a traceback.
Signature and key refusals are recorded like the bearer credentials' ones (audited per
client address, and counted against the address's wrong-secret budget).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from patchwarden.adapters.aws.sigv4 import SignatureError, verify
from patchwarden.adapters.storage.aws_keys import KeyOwner, key_lookup
from patchwarden.server import auth
from patchwarden.server.aws_api.protocol import OPERATIONS, TARGET_PREFIX, AwsError, Context
from patchwarden.server.db import connected, database, is_unavailable, settings
from patchwarden.server.refusals import AUTH, claimed, source_of

log = logging.getLogger("patchwarden.server.aws")
router = APIRouter(tags=["aws"])
CONTENT_TYPE = "application/x-amz-json-1.1"
SERVICE = "ssm"


def _signer(request: Request, body: bytes) -> KeyOwner:
    """The token behind the request's valid signature; AwsError (recorded) otherwise."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    lookup = key_lookup(database(request).read)
    owners: dict[str, KeyOwner] = {}

    def secret_for(access_key_id: str) -> str | None:
        found = lookup(access_key_id)
        if found is None:
            return None
        owners[access_key_id] = found[1]
        return found[0]

    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    try:
        signed = verify(
            method=request.method,
            raw_path=raw_path.decode("latin-1").partition("?")[0],
            query=request.url.query,
            headers=headers,
            body=body,
            now=settings(request).clock.now(),
            service=SERVICE,
            secret_for=secret_for,
        )
    except SignatureError as exc:
        credential = headers.get("authorization", "").partition("Credential=")[2]
        key = credential.partition("/")[0]
        actor = claimed("aws-key", key) if key else "anonymous"
        wrong = exc.error_type in ("InvalidSignatureException", "UnrecognizedClientException")
        auth.refusals(request).refused(
            source_of(request), AUTH, actor, 400, exc.error_type, wrong_secret=wrong
        )
        raise AwsError(exc.error_type, exc.message) from None
    return owners[signed.access_key_id]


def _params(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise AwsError("SerializationException", "The request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise AwsError("SerializationException", "The request body must be a JSON object")
    return value


def _handle(request: Request, body: bytes) -> dict[str, Any]:
    """The operation's answer (AwsError for a refusal)."""
    owner = _signer(request, body)
    target = request.headers.get("x-amz-target", "")
    name = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else ""
    op = OPERATIONS.get(name)
    if op is None:
        shown = target[:128] or "(no X-Amz-Target)"
        raise AwsError(
            "UnknownOperationException",
            f"{shown} is not supported by Patchwarden's SSM endpoint (docs/aws-api.md)",
        )
    who = auth.Principal("operator", owner.token_id, owner.name, owner.role)
    if auth.ROLES.index(who.role) < auth.ROLES.index(op.role):
        auth.refusals(request).refused(
            source_of(request), AUTH, claimed("token-id", who.id), 400, "AccessDeniedException"
        )
        raise AwsError(
            "AccessDeniedException",
            f"User: {who.actor} is not authorized to perform: ssm:{op.name} "
            f"(it needs the {op.role} role; the token has {who.role})",
        )
    params = _params(body)
    db = database(request)
    conf = settings(request)
    with connected(db.write if op.writes else db.read) as session:
        answer = op.handler(Context(session, conf, who, conf.clock.now()), params)
        if op.writes:
            session.commit()
    return answer


def _render(status: int, payload: dict[str, Any], request_id: str) -> Response:
    return Response(
        json.dumps(payload, separators=(",", ":")),
        status_code=status,
        media_type=CONTENT_TYPE,
        headers={"x-amzn-RequestId": request_id},
    )


def error_response(error: AwsError, request_id: str | None = None) -> Response:
    """An AWS error answer."""
    payload = {"__type": error.type, "message": error.message}
    return _render(error.status, payload, request_id or str(uuid.uuid4()))


@router.post("/aws/ssm", include_in_schema=False)
@router.post("/aws/ssm/", include_in_schema=False)
async def ssm(request: Request) -> Response:
    """One call of the AWS Systems Manager API (JSON 1.1, SigV4)."""
    request_id = str(uuid.uuid4())
    try:
        body = await request.body()
        answer = await run_in_threadpool(_handle, request, body)
    except AwsError as exc:
        return error_response(exc, request_id)
    except Exception as exc:
        if is_unavailable(exc):
            unavailable = AwsError(
                "ServiceUnavailable", "The database is unavailable; retry later", 503
            )
            return error_response(unavailable, request_id)
        log.exception("aws ssm request %s failed", request_id)
        internal = AwsError(
            "InternalServerError", f"An internal error occurred (request id {request_id})", 500
        )
        return error_response(internal, request_id)
    return _render(200, answer, request_id)
