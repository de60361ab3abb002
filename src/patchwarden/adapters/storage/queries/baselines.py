"""Stored baselines and their registrations, as the API lists them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.baselines import baseline_record
from patchwarden.adapters.storage.tables import Baseline, DefaultBaseline, PatchGroupRegistration
from patchwarden.pipeline.fleet.records import GroupRegistration, StoredBaseline


@dataclass(frozen=True)
class BaselineDetail:
    """A baseline with the patch groups it is registered for and whether it is its OS's
    default."""

    baseline: StoredBaseline
    patch_groups: list[str]
    default_for_operating_system: bool


def baselines(session: Session) -> list[StoredBaseline]:
    """Every stored baseline, by name."""
    return [baseline_record(r) for r in session.scalars(select(Baseline).order_by(Baseline.name))]


def baseline_detail(session: Session, name: str) -> BaselineDetail | None:
    """The baseline called ``name`` with its registrations."""
    row = session.scalar(select(Baseline).where(Baseline.name == name))
    if row is None:
        return None
    groups = session.scalars(
        select(PatchGroupRegistration.patch_group).where(
            PatchGroupRegistration.baseline_id == row.id
        )
    ).all()
    default = session.get(DefaultBaseline, row.operating_system)
    return BaselineDetail(
        baseline_record(row),
        sorted(groups),
        default is not None and default.baseline_id == row.id,
    )


def patch_groups(session: Session) -> list[GroupRegistration]:
    """Every (patch group, OS) → baseline registration."""
    rows = session.execute(
        select(PatchGroupRegistration, Baseline)
        .join(Baseline, Baseline.id == PatchGroupRegistration.baseline_id)
        .order_by(PatchGroupRegistration.patch_group, PatchGroupRegistration.operating_system)
    )
    return [GroupRegistration(r.patch_group, r.operating_system, b.name, b.id) for r, b in rows]


def default_baselines(session: Session) -> list[dict[str, str]]:
    """The operator's default baseline per OS: ``operating_system``, ``baseline`` (its
    name), ``baseline_id``."""
    rows = session.execute(
        select(DefaultBaseline, Baseline).join(Baseline, Baseline.id == DefaultBaseline.baseline_id)
    )
    return [
        {"operating_system": d.operating_system, "baseline": b.name, "baseline_id": b.id}
        for d, b in rows
    ]


def baseline_by_id(session: Session, baseline_id: str) -> StoredBaseline | None:
    """The stored baseline ``baseline_id`` (``pb-…``)."""
    row = session.get(Baseline, baseline_id)
    return baseline_record(row) if row is not None else None
