"""``/api/v1/inventory``: which nodes have package X (at version Y)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from patchwarden.adapters.storage.queries import nodes as reads
from patchwarden.server.auth import Viewer
from patchwarden.server.db import ReadDB

router = APIRouter(prefix="/api/v1/inventory", tags=["inventory"])


@router.get("/packages")
def nodes_with_package(
    _: Viewer,
    session: ReadDB,
    name: Annotated[str, Query(min_length=1, max_length=256)],
    version: Annotated[str | None, Query(max_length=256)] = None,
    kind: Annotated[str, Query(pattern="^(installed|update)$")] = "installed",
) -> list[dict[str, Any]]:
    """Nodes whose inventory has ``name`` (at ``version``) installed (or as an update)."""
    return reads.nodes_with_package(session, name, version, kind)
