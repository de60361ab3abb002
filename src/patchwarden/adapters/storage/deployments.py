"""Deployment runs and live sets in the server's database.

:class:`SqlDeploymentStore` is the :class:`patchwarden.pipeline.deploy.DeploymentStore` of
the server: each call is its own short transaction (a run is carried out on a background
thread, for minutes, and every step must be visible to the API at once).
:class:`SqlImages` is the image catalog read the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from patchwarden.adapters.deployers.catalog import group_json, group_of, run_json, run_of
from patchwarden.adapters.storage.deployment_tables import DeploymentGroupRow, DeploymentRunRow
from patchwarden.adapters.storage.images import SqlImageCatalog
from patchwarden.core.deploy.model import DeploymentRun
from patchwarden.core.imagebuild import ImageRecord
from patchwarden.pipeline.deploy import GroupState

Sessions = Callable[[], Session]
"""A session factory (``sessionmaker``)."""


def _now() -> datetime:
    return datetime.now(UTC)


def save_run(session: Session, run: DeploymentRun) -> None:
    """Create or replace ``run`` in ``session`` (a stop request is kept)."""
    row = session.get(DeploymentRunRow, run.id)
    if row is None:
        session.add(
            DeploymentRunRow(
                id=run.id,
                grp=run.group,
                deployment=run.deployment,
                status=run.status.value,
                created_at=run.created,
                updated_at=run.updated,
                stop_requested=False,
                record=run_json(run),
            )
        )
        return
    row.status = run.status.value
    row.updated_at = run.updated
    row.record = run_json(run)


def runs_of(session: Session, group: str | None = None) -> list[DeploymentRun]:
    """Every run (of ``group``), oldest first."""
    query = select(DeploymentRunRow.record).order_by(
        DeploymentRunRow.created_at, DeploymentRunRow.id
    )
    if group is not None:
        query = query.where(DeploymentRunRow.grp == group)
    return [run_of(record) for record in session.scalars(query)]


def run_record(session: Session, run_id: str) -> dict[str, Any] | None:
    """The stored record of run ``run_id`` (the API's view)."""
    row = session.get(DeploymentRunRow, run_id)
    return dict(row.record) if row else None


def group_state(session: Session, name: str) -> GroupState:
    """The live set of ``name``."""
    row = session.get(DeploymentGroupRow, name)
    return group_of(row.state) if row else GroupState(name)


class SqlDeploymentStore:
    """Runs and live sets, a transaction per call."""

    def __init__(self, write: Sessions, read: Sessions) -> None:
        self._write = write
        self._read = read

    def save(self, run: DeploymentRun) -> None:
        """Create or replace ``run``."""
        with self._write() as session, session.begin():
            save_run(session, run)

    def get(self, run_id: str) -> DeploymentRun | None:
        """The run ``run_id``."""
        with self._read() as session:
            row = session.get(DeploymentRunRow, run_id)
            return run_of(row.record) if row else None

    def runs(self, group: str | None = None) -> list[DeploymentRun]:
        """Every run (of ``group``), oldest first."""
        with self._read() as session:
            return runs_of(session, group)

    def group(self, name: str) -> GroupState:
        """The live set of ``name``."""
        with self._read() as session:
            return group_state(session, name)

    def set_group(self, state: GroupState) -> None:
        """Replace the live set of ``state.group``."""
        with self._write() as session, session.begin():
            row = session.get(DeploymentGroupRow, state.group)
            if row is None:
                session.add(
                    DeploymentGroupRow(name=state.group, state=group_json(state), updated_at=_now())
                )
            else:
                row.state = group_json(state)
                row.updated_at = _now()

    def request_stop(self, run_id: str) -> None:
        """Ask the owner of ``run_id`` to stop and roll back."""
        with self._write() as session, session.begin():
            session.execute(
                update(DeploymentRunRow)
                .where(DeploymentRunRow.id == run_id)
                .values(stop_requested=True)
            )

    def stop_requested(self, run_id: str) -> bool:
        """Whether someone asked ``run_id`` to stop."""
        with self._read() as session:
            return bool(
                session.scalar(
                    select(DeploymentRunRow.stop_requested).where(DeploymentRunRow.id == run_id)
                )
            )


class SqlImages:
    """The server's image catalog for a background run: a read session per call."""

    def __init__(self, read: Sessions) -> None:
        self._read = read

    def get(self, name: str, version: str) -> ImageRecord | None:
        """The image ``name`` ``version``."""
        with self._read() as session:
            return SqlImageCatalog(session).get(name, version)

    def images(self, name: str | None = None) -> list[ImageRecord]:
        """Every image (of ``name``)."""
        with self._read() as session:
            return SqlImageCatalog(session).images(name)
