"""``/api/v1/agent/inventory``: a node uploads its own inventory, in full or as a delta."""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import APIRouter

from patchwarden.adapters.storage.inventories import HashMismatch, apply_delta, full_upload
from patchwarden.server import governance, vulns
from patchwarden.server.auth import NodeCaller
from patchwarden.server.db import Now, WriteDB
from patchwarden.server.errors import ApiError
from patchwarden.server.schemas import DeltaInventory, FullInventory

router = APIRouter(prefix="/api/v1/agent/inventory", tags=["agent"])


class _Header(Protocol):
    """What the answer shows of the stored inventory's header."""

    @property
    def content_hash(self) -> str: ...
    @property
    def installed_count(self) -> int: ...
    @property
    def update_count(self) -> int: ...


def _answer(header: _Header) -> dict[str, Any]:
    return {
        "content_hash": header.content_hash,
        "installed_count": header.installed_count,
        "update_count": header.update_count,
    }


def _mismatch(exc: HashMismatch) -> ApiError:
    return ApiError(409, "inventory_mismatch", str(exc))


@router.put("", response_model=None)
def upload_full(body: FullInventory, who: NodeCaller, session: WriteDB, at: Now) -> dict[str, Any]:
    """Replace the node's inventory (and its facts, when given); its vulnerabilities are
    reassessed in the background (:mod:`patchwarden.server.vulns`)."""
    # the check-in itself is the auth dependency's (nodecache)
    facts = body.facts.model_dump() if body.facts is not None else None
    items = [i.model_dump() for i in body.items]
    try:
        header = full_upload(
            session, who.id, facts, items, body.content_hash, body.collected_at, at
        )
    except HashMismatch as exc:
        raise ApiError(400, "invalid_request", f"content_hash: {exc}") from None
    vulns.inventory_changed(session, header)  # pending for the background assessment
    governance.changed(session, who.id, at)  # change-triggered rules
    return _answer(header)


@router.patch("", response_model=None)
def upload_delta(
    body: DeltaInventory, who: NodeCaller, session: WriteDB, at: Now
) -> dict[str, Any]:
    """Apply changes on top of ``base_hash``; 409 ``inventory_mismatch`` means: send it all.
    A changed inventory is reassessed in the background; an unchanged one (a heartbeat)
    only when the vulnerability database is newer than the node's last assessment."""
    added = [i.model_dump() for i in body.added]
    try:
        header = apply_delta(
            session,
            who.id,
            body.base_hash,
            added,
            body.removed,
            body.content_hash,
            body.collected_at,
            at,
        )
    except HashMismatch as exc:
        raise _mismatch(exc) from None
    if body.base_hash != body.content_hash or body.added or body.removed:
        vulns.inventory_changed(session, header)  # pending for the background assessment
    governance.changed(session, who.id, at)  # change-triggered rules
    return _answer(header)
