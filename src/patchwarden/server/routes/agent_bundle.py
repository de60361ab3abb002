"""``/agent``: the node component's bundles and its installer, without credentials (a node
fetches them before it has one).  GET only; nothing here reads the database.

- ``GET /agent/bundles``: every bundle the server holds, newest first;
- ``GET /agent/bundle/{version}.pyz`` and ``….pyz.sha256``: one bundle and its checksum;
- ``GET /agent/install.sh``: the installer, with this server's URL and its own bundle's
  version and SHA-256 written in.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response

from patchwarden.adapters.bundle import Bundle, install_script, sha256_line, valid_version
from patchwarden.server.db import settings
from patchwarden.server.errors import ApiError, bad_request, not_found
from patchwarden.server.fleet.agent_update import bundles

router = APIRouter(prefix="/agent", tags=["node bundle"])

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_TEXT = {"schema": {"type": "string"}}


def _bundle(request: Request, version: str) -> Bundle:
    if not valid_version(version):
        raise bad_request(f"{version!r} is not a node bundle version")
    found = bundles(request).get(version)
    if found is None:
        raise not_found(f"node bundle {version}")
    return found


@router.get("/bundles")
def list_bundles(request: Request) -> list[dict[str, Any]]:
    """The node bundles the server holds (its own version and any older or newer one left
    in its ``bundles`` directory), newest version first."""
    return [
        {"version": b.version, "sha256": b.sha256, "size": b.size} for b in bundles(request).list()
    ]


@router.get(
    "/bundle/{version}.pyz",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": _BINARY}}},
)
def download_bundle(request: Request, version: str) -> FileResponse:
    """The bundle ``patchwarden-node-<version>.pyz`` (``python3 BUNDLE.pyz version``)."""
    found = _bundle(request, version)
    return FileResponse(found.path, media_type="application/zip", filename=found.file_name)


@router.get(
    "/bundle/{version}.pyz.sha256",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": _TEXT}}},
)
def bundle_checksum(request: Request, version: str) -> PlainTextResponse:
    """``<sha256>  patchwarden-node-<version>.pyz`` (as ``sha256sum -c`` reads it)."""
    return PlainTextResponse(sha256_line(_bundle(request, version)))


@router.get(
    "/install.sh",
    response_class=Response,
    responses={200: {"content": {"text/x-shellscript": _TEXT}}},
)
def install_sh(request: Request) -> Response:
    """The installer of the server's own bundle: ``curl -fsS URL/agent/install.sh | sudo sh
    -s -- --activation-id ID --activation-code CODE [--tag K=V]...`` (``PATCHWARDEN_PUBLIC_URL``
    names the server in it; otherwise the URL this request was sent to)."""
    store = bundles(request)
    current = store.current()
    if current is None:
        raise ApiError(503, "unavailable", "the server has not built its node bundle; see its log")
    url = settings(request).public_url or str(request.base_url).rstrip("/")
    try:
        script = install_script(url, current)
    except ValueError as exc:
        raise bad_request(f"{exc}; set PATCHWARDEN_PUBLIC_URL on the server") from None
    return Response(script, media_type="text/x-shellscript")
