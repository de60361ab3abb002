"""Patch group registrations (one baseline per group and OS) and the default baseline per
OS."""

from __future__ import annotations

from sqlalchemy.orm import Session

from patchwarden.adapters.storage.tables import Baseline, DefaultBaseline, PatchGroupRegistration
from patchwarden.pipeline.fleet.records import GroupRegistration


class SqlPatchGroups:
    """The :class:`~patchwarden.pipeline.fleet.ports.PatchGroupRepository` of a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def registration(self, patch_group: str, operating_system: str) -> GroupRegistration | None:
        """The baseline registered for (patch group, OS)."""
        reg = self._session.get(PatchGroupRegistration, (patch_group, operating_system))
        if reg is None:
            return None
        baseline = self._session.get(Baseline, reg.baseline_id)
        assert baseline is not None
        return GroupRegistration(reg.patch_group, reg.operating_system, baseline.name, baseline.id)

    def register(self, registration: GroupRegistration) -> None:
        """Add a (patch group, OS) registration."""
        self._session.add(
            PatchGroupRegistration(
                patch_group=registration.patch_group,
                operating_system=registration.operating_system,
                baseline_id=registration.baseline_id,
            )
        )

    def deregister(self, patch_group: str, operating_system: str) -> None:
        """Remove the (patch group, OS) registration."""
        reg = self._session.get(PatchGroupRegistration, (patch_group, operating_system))
        if reg is not None:
            self._session.delete(reg)

    def set_default(self, operating_system: str, baseline_id: str) -> None:
        """Make the baseline the default of the OS."""
        row = self._session.get(DefaultBaseline, operating_system)
        if row is None:
            self._session.add(
                DefaultBaseline(operating_system=operating_system, baseline_id=baseline_id)
            )
        else:
            row.baseline_id = baseline_id

    def reset_default(self, operating_system: str) -> bool:
        """Drop the OS's default; False when it had none."""
        row = self._session.get(DefaultBaseline, operating_system)
        if row is None:
            return False
        self._session.delete(row)
        return True
