"""Window targets in SQL: the active nodes a selection picks, with what a window's plan
and its start need (:class:`~patchwarden.pipeline.windows.ports.TargetResolver`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from patchwarden.adapters.storage.targets import target_rows
from patchwarden.pipeline.fleet.records import TargetSelection
from patchwarden.pipeline.windows.records import WindowTarget


class SqlWindowTargets:
    """The target resolver of a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def targets(self, selection: TargetSelection) -> list[WindowTarget]:
        """Active nodes matching ``selection``, by id."""
        return [
            WindowTarget(
                id=n.id,
                patch_group=n.patch_group,
                registered_at=n.registered_at,
                last_seen_at=n.last_seen_at,
                deregistered_at=n.deregistered_at,
            )
            for n in target_rows(self._session, selection)
        ]
