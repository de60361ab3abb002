"""Request bodies shared by several routers (pydantic, strict about unknown fields)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

TagKey = Annotated[str, Field(min_length=1, max_length=128)]
TagValue = Annotated[str, Field(max_length=256)]
Tags = dict[TagKey, TagValue]
Short = Annotated[str, Field(max_length=256)]
_IDS = r"^[A-Za-z0-9:._/+-]+( [A-Za-z0-9:._/+-]+)*$|^$"
"""Space-separated identifiers (notice and CVE ids)."""


class Body(BaseModel):
    """Base of request bodies: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid")


class NodeFacts(Body):
    """What an agent says about its node."""

    hostname: Short = ""
    os_id: Annotated[str, Field(max_length=64)] = ""
    os_version: Annotated[str, Field(max_length=64)] = ""
    operating_system: Annotated[str, Field(max_length=64)] = ""
    product: Annotated[str, Field(max_length=64)] = ""
    agent_version: Annotated[str, Field(max_length=32)] = ""
    capabilities: Annotated[str, Field(max_length=256, pattern=r"^[a-z0-9,-]*$")] = ""


class InventoryItem(Body):
    """One installed package (``kind: installed``) or available update (``update``)."""

    kind: Annotated[str, Field(pattern=r"^(installed|update)$")]
    name: Annotated[str, Field(min_length=1, max_length=256)]
    arch: Annotated[str, Field(max_length=32)] = ""
    version: Annotated[str, Field(max_length=256)] = ""
    source_name: Short = ""
    repository: Short = ""
    classification: Annotated[str, Field(max_length=64)] = ""
    severity: Annotated[str, Field(max_length=64)] = ""
    advisories: Annotated[str, Field(max_length=4096, pattern=_IDS)] = ""
    """Space-separated ids of the rpm update notices covering this update."""
    cves: Annotated[str, Field(max_length=65536, pattern=_IDS)] = ""
    """Space-separated CVE ids of those notices (a kernel notice names hundreds)."""


class FullInventory(Body):
    """``PUT /api/v1/agent/inventory``."""

    facts: NodeFacts | None = None
    collected_at: datetime | None = None
    content_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    items: Annotated[list[InventoryItem], Field(max_length=200_000)]


class DeltaInventory(Body):
    """``PATCH /api/v1/agent/inventory``: changes since ``base_hash``."""

    collected_at: datetime | None = None
    base_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    content_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    added: list[InventoryItem] = Field(default_factory=list, max_length=200_000)
    removed: list[Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]] = Field(default_factory=list)


# -- the node component (``wire.RootFacts`` …): facts of a root, evaluation on the server --

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
MAX_FACT_FILES = 50_000
"""Files of one fact set (a node with every Debian suite and architecture lists a few
hundred)."""
MAX_BLOB_QUERY = 20_000
"""Hashes of one ``blobs/missing`` question."""


class FactFile(Body):
    """One file the package manager reads: its path in the root, SHA-256 and size."""

    path: Annotated[str, Field(min_length=1, max_length=4096)]
    sha256: Sha256
    size: Annotated[int, Field(ge=0)]


class RootFacts(Body):
    """``POST /api/v1/agent/facts``: what a node's package manager reads from its root."""

    manager: Literal["apt", "dnf", "apk", "zypper"]
    root: Annotated[str, Field(max_length=4096)]
    hostname: Short = ""
    files: Annotated[list[FactFile], Field(max_length=MAX_FACT_FILES)]
    boot_time: int | None = None
    in_chroot: bool = False
    arch: Annotated[str, Field(max_length=32)] = ""
    agent_version: Annotated[str, Field(max_length=32)] = ""
    collected_at: datetime | None = None


class BlobQuery(Body):
    """``POST /api/v1/agent/blobs/missing``: which of these blobs the server lacks."""

    hashes: Annotated[list[Sha256], Field(max_length=MAX_BLOB_QUERY)]


class PlannedPackage(Body):
    """One exact version of an Install order."""

    name: Short
    arch: Annotated[str, Field(max_length=32)] = ""
    version: Short
    spec: Annotated[str, Field(min_length=1, max_length=600)]


class BlockedPackage(Body):
    """A missing patch an order leaves out, and why."""

    name: Short
    arch: Annotated[str, Field(max_length=32)] = ""
    reason: Annotated[str, Field(max_length=4000)] = ""


class InstallOrder(Body):
    """What a node carries out for an Install (as the ``plan`` phase answered it)."""

    packages: Annotated[list[PlannedPackage], Field(max_length=MAX_FACT_FILES)] = []
    blocked: Annotated[list[BlockedPackage], Field(max_length=MAX_FACT_FILES)] = []
    lock_timeout: Annotated[int, Field(ge=0, le=86_400)] = 300


class PackageResult(Body):
    """How installing one ordered package went on the node."""

    name: Short
    arch: Annotated[str, Field(max_length=32)] = ""
    returncode: int
    error: Annotated[str, Field(max_length=4000)] = ""


class EvaluateRequest(Body):
    """``POST /api/v1/agent/invocations/{id}/evaluate``."""

    phase: Literal["scan", "plan", "conclude"]
    facts: RootFacts
    order: InstallOrder | None = None
    results: Annotated[list[PackageResult], Field(max_length=MAX_FACT_FILES)] | None = None
