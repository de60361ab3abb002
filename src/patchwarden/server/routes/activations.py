"""``/api/v1/activations``: hybrid activations (admin only; reference §7)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from patchwarden.adapters.storage.activations import SqlActivations
from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.queries import access as reads
from patchwarden.pipeline.fleet import access
from patchwarden.pipeline.fleet.records import ActivationRecord, ActivationSpec
from patchwarden.server.auth import Admin
from patchwarden.server.db import Now, ReadDB, WriteDB
from patchwarden.server.outcomes import answered

router = APIRouter(prefix="/api/v1/activations", tags=["activations"])
MAX_EXPIRY = timedelta(days=30)
TagKey = Annotated[str, Field(min_length=1, max_length=128)]
TagValue = Annotated[str, Field(max_length=256)]


class ActivationCreate(BaseModel):
    """CreateActivation: limit 1-1000 (default 1), expiry up to 30 days (default 24 h)."""

    model_config = ConfigDict(extra="forbid")
    description: str = Field(default="", max_length=256)
    default_instance_name: str = Field(default="", max_length=256)
    registration_limit: int = Field(default=1, ge=1, le=1000)
    expires_in_seconds: int = Field(default=86400, ge=60, le=int(MAX_EXPIRY.total_seconds()))
    tags: dict[TagKey, TagValue] = Field(default_factory=dict, max_length=50)


def _view(row: ActivationRecord, now: datetime) -> dict[str, Any]:
    return {
        "activation_id": row.id,
        "description": row.description,
        "default_instance_name": row.default_instance_name,
        "registration_limit": row.registration_limit,
        "registration_count": row.registration_count,
        "expires_at": row.expires_at,
        "expired": now >= row.expires_at,
        "tags": row.tags,
        "created_at": row.created_at,
        "created_by": row.created_by,
    }


@router.post("", status_code=201)
def create_activation(
    body: ActivationCreate, who: Admin, session: WriteDB, at: Now
) -> dict[str, Any]:
    """Create an activation; ``activation_code`` is shown only this once."""
    spec = ActivationSpec(
        description=body.description,
        default_instance_name=body.default_instance_name,
        registration_limit=body.registration_limit,
        expires_at=at + timedelta(seconds=body.expires_in_seconds),
        tags=dict(body.tags),
    )
    activations, audit = SqlActivations(session), SqlAuditLog(session)
    row, code = access.create_activation(activations, audit, spec, who.actor, at)
    return {**_view(row, at), "activation_code": code}


@router.get("")
def list_activations(_: Admin, session: ReadDB, at: Now) -> list[dict[str, Any]]:
    """Every activation (never the codes)."""
    return [_view(r, at) for r in reads.activations(session)]


@router.delete("/{activation_id}")
def delete_activation(activation_id: str, who: Admin, session: WriteDB, at: Now) -> dict[str, Any]:
    """Expire an activation now (registered nodes stay registered)."""
    with answered():
        row = access.expire_activation(
            SqlActivations(session), SqlAuditLog(session), activation_id, who.actor, at
        )
    return _view(row, at)
