"""``/api/v1/agent`` for the node component: fact files by content, facts as the node's
inventory, and the evaluation of its invocations on the server (:mod:`patchwarden.wire`,
"the node component"; the use cases are :mod:`patchwarden.pipeline.fleet.remote`).

The evaluation of facts (reading the rebuilt root, ``apt-get -s``) runs outside any
database transaction: only the invocation is read before it and the inventory written
after it, each in a short transaction of its own.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from patchwarden import wire
from patchwarden.adapters.blobs import BlobRefused, BlobStore, BlobTooLarge
from patchwarden.adapters.os.remote import RemoteRoots
from patchwarden.adapters.storage import deliveries
from patchwarden.adapters.storage.inventories import HashMismatch, full_upload
from patchwarden.errors import AdapterError, EnvironmentProblem, InputError
from patchwarden.pipeline.fleet import remote
from patchwarden.pipeline.fleet.errors import FleetError
from patchwarden.render.json import report_dict
from patchwarden.server import governance, vulns
from patchwarden.server.auth import NodeCaller, refusals
from patchwarden.server.db import Now, database, settings
from patchwarden.server.errors import ApiError
from patchwarden.server.fleet.claims import delivery_body
from patchwarden.server.outcomes import api_error
from patchwarden.server.refusals import ACCESS, claimed, source_of
from patchwarden.server.schemas import BlobQuery, EvaluateRequest, RootFacts

router = APIRouter(prefix="/api/v1/agent", tags=["agent"])

GZIP_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _blobs(request: Request) -> BlobStore:
    return BlobStore(settings(request).data_dir / "blobs")


def _roots(request: Request) -> RemoteRoots:
    data_dir = settings(request).data_dir
    return RemoteRoots(data_dir, BlobStore(data_dir / "blobs"))


def _refused(exc: Exception) -> ApiError:
    """A use case's refusal (or a problem with the facts) as the API's answer."""
    if isinstance(exc, remote.MissingBlobs):
        return ApiError(409, exc.code, exc.message, {"missing": exc.missing})
    if isinstance(exc, FleetError):
        return api_error(exc)
    if isinstance(exc, wire.WireError | InputError):
        return ApiError(400, "invalid_request", str(exc).splitlines()[0])
    if isinstance(exc, EnvironmentProblem | AdapterError):  # not a root apt can read
        return ApiError(400, "invalid_request", f"facts: {str(exc).splitlines()[0]}")
    raise exc


@router.post("/blobs/missing", response_model=None)
def missing_blobs(request: Request, body: BlobQuery, who: NodeCaller) -> dict[str, Any]:
    """The blobs among ``hashes`` the server lacks (PUT each of them)."""
    return {"missing": _blobs(request).missing(body.hashes)}


@router.put("/blobs/{sha256}", response_model=None, status_code=201, openapi_extra=GZIP_BODY)
async def put_blob(request: Request, sha256: str, who: NodeCaller) -> JSONResponse:
    """Store one fact file: its gzip-compressed content (``Content-Type: application/gzip``),
    checked against ``sha256``.  201 when stored now, 200 when the server held it already;
    400 when the body is not gzip or has another hash, 413 past 1 GiB decompressed."""
    if not wire.is_sha256(sha256):
        raise ApiError(400, "invalid_request", "sha256: must be 64 lower-case hex characters")
    body = await request.body()
    store = _blobs(request)
    try:
        size, created = await run_in_threadpool(store.put_gzip, sha256, [body])
    except BlobTooLarge as exc:
        raise ApiError(413, "too_large", str(exc)) from None
    except BlobRefused as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None
    return JSONResponse({"sha256": sha256, "size": size}, status_code=201 if created else 200)


def _decode_facts(body: RootFacts) -> wire.RootFacts:
    try:
        return wire.RootFacts.from_json(body.model_dump(mode="json"))
    except wire.WireError as exc:
        raise _refused(exc) from None


@router.post("/facts", response_model=None)
def upload_facts(request: Request, body: RootFacts, who: NodeCaller, at: Now) -> dict[str, Any]:
    """The node's fact set becomes its inventory (as ``PUT /api/v1/agent/inventory`` stores
    a full agent's) and sets its facts; 409 ``missing_blobs`` names the files to upload
    first."""
    facts = _decode_facts(body)
    try:
        found = remote.facts_inventory(_roots(request), who.id, facts)
    except (FleetError, InputError, EnvironmentProblem, AdapterError) as exc:
        raise _refused(exc) from None
    items = [i.to_json() for i in found.items]
    with database(request).write() as session, session.begin():
        try:
            header = full_upload(
                session,
                who.id,
                found.facts.to_json(),
                items,
                found.content_hash,
                found.collected_at,
                at,
            )
        except HashMismatch as exc:  # pragma: no cover - the hash is computed here
            raise ApiError(400, "invalid_request", f"content_hash: {exc}") from None
        vulns.inventory_changed(session, header)  # pending for the background assessment
        governance.changed(session, who.id, at)  # change-triggered rules
        return {
            "content_hash": header.content_hash,
            "installed_count": header.installed_count,
            "update_count": header.update_count,
        }


@router.post("/invocations/{invocation_id}/evaluate", response_model=None)
def evaluate(
    request: Request,
    invocation_id: str,
    body: EvaluateRequest,
    who: NodeCaller,
    at: Now,
) -> dict[str, Any]:
    """One phase of the caller's RunPatchBaseline invocation on its facts: ``scan`` (the
    report), ``plan`` (the Install order), ``conclude`` (the Install report from the facts
    after the order ran, and whether to reboot).  403 for another node's invocation, 409
    when it has ended or (``missing_blobs``) a fact file is not uploaded yet."""
    try:
        ask = wire.EvaluateRequest.from_json(body.model_dump(mode="json", exclude_none=True))
    except wire.WireError as exc:
        raise _refused(exc) from None
    with database(request).read() as session:
        found = deliveries.invocation_with_command(session, invocation_id)
    try:
        remote.check_evaluable(
            None if found is None else (found[0].node_id, found[0].status, found[1].document_name),
            who.id,
            invocation_id,
        )
    except FleetError as exc:
        refused = _refused(exc)
        if refused.status == 403:  # another node's invocation
            refusals(request).refused(
                source_of(request), ACCESS, claimed("node", who.id), refused.status, refused.code
            )
        raise refused from None
    assert found is not None
    delivery = wire.Delivery.from_json(delivery_body(*found))
    try:
        result = remote.evaluate(_roots(request), who.id, delivery, ask, at)
    except (FleetError, InputError, EnvironmentProblem, AdapterError) as exc:
        raise _refused(exc) from None
    answer = wire.Evaluation(
        None if result.report is None else report_dict(result.report),
        result.order,
        result.reboot,
    )
    return answer.to_json()
