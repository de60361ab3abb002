"""Stored baselines for the server's other modules: validation through the document loader,
create-or-replace, and per-node resolution (reference §2: BaselineOverride → patch group →
the OS default), over :mod:`patchwarden.pipeline.fleet` and its SQL adapters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from patchwarden.adapters.storage.baselines import SqlBaselines
from patchwarden.documents import BaselineDocument
from patchwarden.pipeline.fleet.baseline_resolution import Resolved, resolve_baseline
from patchwarden.pipeline.fleet.baseline_resolution import parse_baseline as parse_baseline
from patchwarden.pipeline.fleet.baselines import store_baseline
from patchwarden.pipeline.fleet.records import StoredBaseline
from patchwarden.server.db import ReadDB, WriteDB
from patchwarden.server.outcomes import answered


class Placed(Protocol):
    """What resolution needs of a node: its OS and its patch group."""

    @property
    def operating_system(self) -> str:
        """The node's operating system (AWS name)."""
        ...

    @property
    def patch_group(self) -> str | None:
        """The node's patch group, if any."""
        ...


def store(session: WriteDB, doc: BaselineDocument, at: datetime) -> tuple[StoredBaseline, bool]:
    """Create or replace a baseline (400 when its OperatingSystem would change, as AWS);
    whether it was created."""
    with answered():
        return store_baseline(SqlBaselines(session), doc, at)


def resolve(
    session: ReadDB, node: Placed, override: Sequence[Mapping[str, Any]] | None
) -> Resolved:
    """The baseline document for ``node`` and where it came from."""
    return resolve_baseline(
        SqlBaselines(session), node.operating_system, node.patch_group, override
    )
