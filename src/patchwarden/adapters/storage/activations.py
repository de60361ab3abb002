"""Hybrid activations: created with a one-time code (stored as SHA-256 only), expired, and
claimed one registration at a time."""

from __future__ import annotations

import secrets
import string
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.secrets import hash_secret, new_uuid
from patchwarden.adapters.storage.tables import Activation
from patchwarden.pipeline.fleet.records import ActivationGrant, ActivationRecord, ActivationSpec


def activation_record(row: Activation) -> ActivationRecord:
    """The row as a plain value."""
    return ActivationRecord(
        id=row.id,
        description=row.description,
        default_instance_name=row.default_instance_name,
        registration_limit=row.registration_limit,
        registration_count=row.registration_count,
        expires_at=row.expires_at,
        tags=row.tags,
        created_at=row.created_at,
        created_by=row.created_by,
    )


CODE_ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 32
"""An activation code: 32 letters and digits (190 bits).  Never a ``-`` or ``_``: a code is
typed after ``--activation-code``, where one starting with ``-`` reads as an option."""


class SqlActivations:
    """The :class:`~patchwarden.pipeline.fleet.ports.ActivationRepository` of a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def create(
        self, spec: ActivationSpec, created_by: str, at: datetime
    ) -> tuple[ActivationRecord, str]:
        """Store a new activation; with its code."""
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        row = Activation(
            id=new_uuid(),
            code_hash=hash_secret(code),
            description=spec.description,
            default_instance_name=spec.default_instance_name,
            registration_limit=spec.registration_limit,
            registration_count=0,
            expires_at=spec.expires_at,
            tags=dict(spec.tags),
            created_at=at,
            created_by=created_by,
        )
        self._session.add(row)
        return activation_record(row), code

    def expire(self, activation_id: str, at: datetime) -> ActivationRecord | None:
        """Let the activation expire at ``at`` at the latest."""
        row = self._session.get(Activation, activation_id)
        if row is None:
            return None
        row.expires_at = min(row.expires_at, at)
        return activation_record(row)

    def grant(self, activation_id: str) -> ActivationGrant | None:
        """What registering with the activation checks."""
        row = self._session.get(Activation, activation_id)
        if row is None:
            return None
        return ActivationGrant(
            id=row.id,
            code_hash=row.code_hash,
            expires_at=row.expires_at,
            registration_limit=row.registration_limit,
            default_instance_name=row.default_instance_name,
            tags=row.tags,
        )

    def claim_slot(self, activation_id: str) -> bool:
        """Count one more registration unless the limit is reached, in one statement (two
        registrations racing for the last slot cannot both get it)."""
        claimed = self._session.execute(
            update(Activation)
            .where(
                Activation.id == activation_id,
                Activation.registration_count < Activation.registration_limit,
            )
            .values(registration_count=Activation.registration_count + 1)
        )
        return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]
