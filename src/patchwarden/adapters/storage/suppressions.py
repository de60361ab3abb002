"""The fleet's ``Suppression`` documents, kept with the other stored documents, and the time
they last changed (an apply, a delete): nodes assessed before it are assessed again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from patchwarden.adapters.storage.image_tables import ImagePipelineState
from patchwarden.adapters.storage.images import SqlImageDocuments, SqlPipelineState

KIND = "Suppression"
_CHANGED = "suppressions/changed"
"""The state row whose ``last_started_at`` is the last change of the suppressions."""


def stored_suppressions(session: Session) -> list[dict[str, Any]]:
    """Every stored Suppression document, by name."""
    return SqlImageDocuments(session).documents((KIND,))


def suppressions_changed_at(session: Session) -> datetime | None:
    """When a Suppression was last applied, changed or deleted (None: never)."""
    row = session.get(ImagePipelineState, _CHANGED)
    return row.last_started_at if row is not None else None


def mark_suppressions_changed(session: Session, at: datetime) -> None:
    """Record a change of the suppressions at ``at`` (every node becomes pending)."""
    SqlPipelineState(session).get(_CHANGED).last_started_at = at
