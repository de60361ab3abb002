"""Request bodies shared by several routers (pydantic, strict about unknown fields)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

TagKey = Annotated[str, Field(min_length=1, max_length=128)]
TagValue = Annotated[str, Field(max_length=256)]
Tags = dict[TagKey, TagValue]
Short = Annotated[str, Field(max_length=256)]


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


class InventoryItem(Body):
    """One installed package (``kind: installed``) or available update (``update``)."""

    kind: Annotated[str, Field(pattern=r"^(installed|update)$")]
    name: Annotated[str, Field(min_length=1, max_length=256)]
    arch: Annotated[str, Field(max_length=32)] = ""
    version: Annotated[str, Field(max_length=256)] = ""
    source_name: Short = ""
    repository: Short = ""
    classification: Annotated[str, Field(max_length=64)] = ""


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
