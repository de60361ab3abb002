"""The image builder's storage: image documents, images (the server's image catalog), build
counters and pipeline state — repositories over one session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from patchwarden.adapters.image.catalog import from_json, to_json
from patchwarden.adapters.storage.image_tables import (
    ImageBuildCounter,
    ImageDocumentRow,
    ImagePipelineState,
    ImageRow,
)
from patchwarden.adapters.storage.tables import Invocation, Node
from patchwarden.core.imagebuild import ImageRecord
from patchwarden.pipeline.fleet.image_round import Build

VERSIONED = ("Component", "ImageRecipe")
"""Kinds stored per semantic version (immutable: the same version cannot change)."""


def version_of(kind: str, document: dict[str, Any]) -> str:
    """The stored version key of a document (its ``spec.semanticVersion`` for versioned
    kinds, else empty)."""
    if kind not in VERSIONED:
        return ""
    return str(document.get("spec", {}).get("semanticVersion", ""))


class SqlImageDocuments:
    """Image documents of one session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, kind: str, name: str, version: str = "") -> dict[str, Any] | None:
        """The stored document."""
        row = self._session.get(ImageDocumentRow, (kind, name, version))
        return row.document if row else None

    def put(
        self, kind: str, name: str, version: str, document: dict[str, Any], actor: str, at: datetime
    ) -> bool:
        """Store ``document``; True when it is new."""
        row = self._session.get(ImageDocumentRow, (kind, name, version))
        if row is None:
            self._session.add(
                ImageDocumentRow(
                    kind=kind,
                    name=name,
                    version=version,
                    document=document,
                    created_at=at,
                    modified_at=at,
                    created_by=actor,
                )
            )
            return True
        row.document = document
        row.modified_at = at
        return False

    def documents(self, kinds: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Every stored document (of ``kinds``), by kind, name and version."""
        query = select(ImageDocumentRow).order_by(
            ImageDocumentRow.kind, ImageDocumentRow.name, ImageDocumentRow.version
        )
        if kinds:
            query = query.where(ImageDocumentRow.kind.in_(kinds))
        return [row.document for row in self._session.scalars(query)]

    def listing(self, kind: str) -> list[dict[str, Any]]:
        """(name, version, modified) of every stored document of ``kind``."""
        query = (
            select(ImageDocumentRow)
            .where(ImageDocumentRow.kind == kind)
            .order_by(ImageDocumentRow.name, ImageDocumentRow.version)
        )
        return [
            {
                "name": row.name,
                "version": row.version,
                "description": row.document.get("metadata", {}).get("description", ""),
                "created_at": row.created_at,
                "modified_at": row.modified_at,
                "created_by": row.created_by,
            }
            for row in self._session.scalars(query)
        ]

    def delete(self, kind: str, name: str, version: str | None = None) -> int:
        """Delete ``name`` (one version, or every version); how many were deleted."""
        query = delete(ImageDocumentRow).where(
            ImageDocumentRow.kind == kind, ImageDocumentRow.name == name
        )
        if version is not None:
            query = query.where(ImageDocumentRow.version == version)
        return int(self._session.execute(query).rowcount or 0)  # type: ignore[attr-defined]


class SqlImageCatalog:
    """The server's :class:`~patchwarden.ports.ImageCatalog` (plus who builds what)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def next_build(self, name: str, version: str) -> int:
        """One more than any build of ``name`` ``version`` so far (the counter row is
        locked until the transaction ends, so two starts never get the same number)."""
        row = self._session.scalar(
            select(ImageBuildCounter)
            .where(ImageBuildCounter.name == name, ImageBuildCounter.semantic == version)
            .with_for_update()
        )
        if row is None:
            row = ImageBuildCounter(name=name, semantic=version, last=0)
            self._session.add(row)
        row.last += 1
        self._session.flush()
        return row.last

    def save(self, record: ImageRecord, *, node_id: str = "", command_id: str = "") -> None:
        """Create or replace the record (``node_id``/``command_id`` kept when not given)."""
        key = (record.name, str(record.version))
        row = self._session.get(ImageRow, key)
        if row is None:
            row = ImageRow(name=record.name, version=str(record.version))
            self._session.add(row)
        row.status = record.status.value
        row.pipeline = record.pipeline
        row.record = to_json(record)
        row.updated_at = record.updated
        if node_id:
            row.node_id = node_id
        if command_id:
            row.command_id = command_id
        self._session.flush()

    def get(self, name: str, version: str) -> ImageRecord | None:
        """The image ``name`` ``version`` (``x.y.z/build``)."""
        row = self._session.get(ImageRow, (name, version))
        return from_json(row.record) if row else None

    def builder(self, name: str, version: str) -> tuple[str, str] | None:
        """(builder node, command) of an image."""
        row = self._session.get(ImageRow, (name, version))
        return (row.node_id, row.command_id) if row else None

    def images(self, name: str | None = None) -> list[ImageRecord]:
        """Every image (of ``name``), by name and version."""
        query = select(ImageRow)
        if name is not None:
            query = query.where(ImageRow.name == name)
        records = [from_json(row.record) for row in self._session.scalars(query)]
        return sorted(records, key=lambda r: (r.name, r.version))


class SqlPipelineState:
    """What each pipeline's schedule remembers."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, name: str) -> ImagePipelineState:
        """The state row of ``name`` (made on first use)."""
        row = self._session.get(ImagePipelineState, name)
        if row is None:
            row = ImagePipelineState(
                name=name, status="ENABLED", consecutive_failures=0, last_inputs={}
            )
            self._session.add(row)
            self._session.flush()
        return row


class SqlBuilds:
    """The builder nodes and the builds in progress (:class:`~patchwarden.pipeline.fleet.
    image_round.Builders`) of one session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def builders(self, capability: str) -> list[tuple[str, datetime | None]]:
        """(node id, last seen) of every registered node that says it has ``capability``."""
        rows = self._session.execute(
            select(Node.id, Node.last_seen_at, Node.capabilities).where(
                Node.deregistered_at.is_(None)
            )
        )
        return [(node, seen) for node, seen, caps in rows if capability in (caps or [])]

    def in_progress(self) -> list[Build]:
        """Every image still in progress that has a build command, with its invocation's
        status and output."""
        active = ["PENDING", "BUILDING", "TESTING", "DISTRIBUTING"]
        query = select(ImageRow, Invocation.status, Invocation.output).join(
            Invocation, Invocation.command_id == ImageRow.command_id
        )
        rows = self._session.execute(query.where(ImageRow.status.in_(active)))
        return [
            Build(from_json(row.record), row.command_id or "", status, output or "")
            for row, status, output in rows
        ]
