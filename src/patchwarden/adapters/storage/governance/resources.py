"""Imported resources: the :class:`~patchwarden.pipeline.governance.ports.ResourceStore`
over the ``resources`` table."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.resource_tables import ResourceRow
from patchwarden.core.rules import ResourceSnapshot


def snapshot(row: ResourceRow) -> ResourceSnapshot:
    """What the rules see of a stored resource."""
    return ResourceSnapshot(
        resource_id=row.resource_id,
        resource_type=row.resource_type,
        name=row.name,
        source=row.source,
        tags={str(k): str(v) for k, v in (row.tags or {}).items()},
        attributes=dict(row.attributes or {}),
        first_seen=row.first_seen,
        observed_at=row.observed_at,
    )


class SqlResources:
    """Imported resources of one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def of_source(self, source: str) -> dict[str, ResourceSnapshot]:
        """Resource id → the stored resource, of one source."""
        rows = self.session.scalars(select(ResourceRow).where(ResourceRow.source == source))
        return {row.resource_id: snapshot(row) for row in rows}

    def put(self, resource: ResourceSnapshot) -> None:
        """Create or replace one resource."""
        assert resource.first_seen is not None and resource.observed_at is not None
        self.session.merge(
            ResourceRow(
                resource_id=resource.resource_id,
                source=resource.source,
                resource_type=resource.resource_type,
                name=resource.name,
                tags=dict(resource.tags),
                attributes=dict(resource.attributes),
                first_seen=resource.first_seen,
                observed_at=resource.observed_at,
            )
        )

    def delete(self, resource_ids: Collection[str]) -> None:
        """Remove resources."""
        if resource_ids:
            self.session.execute(
                delete(ResourceRow).where(ResourceRow.resource_id.in_(list(resource_ids)))
            )

    def all(self) -> list[ResourceSnapshot]:
        """Every imported resource, by id."""
        rows = self.session.scalars(select(ResourceRow).order_by(ResourceRow.resource_id))
        return [snapshot(row) for row in rows]

    def sources(self) -> dict[str, tuple[int, datetime]]:
        """Source → how many resources it holds and when it was last imported."""
        rows = self.session.execute(
            select(ResourceRow.source, func.count(), func.max(ResourceRow.observed_at))
            .group_by(ResourceRow.source)
            .order_by(ResourceRow.source)
        )
        return {source: (int(count), at) for source, count, at in rows}
