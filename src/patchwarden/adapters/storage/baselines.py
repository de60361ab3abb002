"""Stored baselines and their registrations: the repository of baseline administration,
and the documents baseline resolution reads (patch group → default)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.secrets import baseline_id
from patchwarden.adapters.storage.tables import Baseline, DefaultBaseline, PatchGroupRegistration
from patchwarden.pipeline.fleet.records import StoredBaseline


def baseline_record(row: Baseline) -> StoredBaseline:
    """The row as a plain value."""
    return StoredBaseline(
        id=row.id,
        name=row.name,
        operating_system=row.operating_system,
        document=row.document,
        created_at=row.created_at,
        modified_at=row.modified_at,
    )


class SqlBaselines:
    """The :class:`~patchwarden.pipeline.fleet.ports.BaselineRepository` and
    :class:`~patchwarden.pipeline.fleet.ports.BaselineSource` of a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _row(self, name: str) -> Baseline | None:
        return self._session.scalar(select(Baseline).where(Baseline.name == name))

    def _document(self, ident: str) -> dict[str, Any] | None:
        row = self._session.get(Baseline, ident)
        return row.document if row else None

    def by_name(self, name: str) -> StoredBaseline | None:
        """The baseline called ``name``."""
        row = self._row(name)
        return baseline_record(row) if row else None

    def named_document(self, name: str) -> dict[str, Any] | None:
        """The document of the baseline called ``name``."""
        row = self._row(name)
        return row.document if row else None

    def group_document(self, patch_group: str, operating_system: str) -> dict[str, Any] | None:
        """The document registered for (patch group, OS)."""
        reg = self._session.get(PatchGroupRegistration, (patch_group, operating_system))
        return self._document(reg.baseline_id) if reg is not None else None

    def default_document(self, operating_system: str) -> dict[str, Any] | None:
        """The operator's default document for the OS."""
        default = self._session.get(DefaultBaseline, operating_system)
        return self._document(default.baseline_id) if default is not None else None

    def create(
        self, name: str, operating_system: str, document: dict[str, Any], at: datetime
    ) -> StoredBaseline:
        """Store a new baseline."""
        row = Baseline(
            id=baseline_id(),
            name=name,
            operating_system=operating_system,
            document=document,
            created_at=at,
            modified_at=at,
        )
        self._session.add(row)
        return baseline_record(row)

    def replace(self, baseline_id: str, document: dict[str, Any], at: datetime) -> StoredBaseline:
        """Replace a stored baseline's document."""
        row = self._session.get(Baseline, baseline_id)
        assert row is not None
        row.document = document
        row.modified_at = at
        return baseline_record(row)

    def first_patch_group(self, baseline_id: str) -> str | None:
        """A patch group the baseline is registered for, if any."""
        return self._session.scalar(
            select(PatchGroupRegistration.patch_group).where(
                PatchGroupRegistration.baseline_id == baseline_id
            )
        )

    def is_default(self, baseline_id: str) -> bool:
        """Whether the baseline is the default of an OS."""
        query = select(DefaultBaseline).where(DefaultBaseline.baseline_id == baseline_id)
        return self._session.scalar(query) is not None

    def delete(self, baseline_id: str) -> None:
        """Delete the baseline."""
        row = self._session.get(Baseline, baseline_id)
        if row is not None:
            self._session.delete(row)
