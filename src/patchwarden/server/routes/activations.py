"""``/api/v1/activations``: hybrid activations (admin only; reference §7)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from patchwarden.adapters.storage.secrets import hash_secret, new_uuid
from patchwarden.adapters.storage.tables import Activation
from patchwarden.server import audit
from patchwarden.server.auth import Admin
from patchwarden.server.db import Now, ReadDB, WriteDB
from patchwarden.server.errors import not_found

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


def _view(row: Activation, now: Any) -> dict[str, Any]:
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
    code = secrets.token_urlsafe(24)
    row = Activation(
        id=new_uuid(),
        code_hash=hash_secret(code),
        description=body.description,
        default_instance_name=body.default_instance_name,
        registration_limit=body.registration_limit,
        registration_count=0,
        expires_at=at + timedelta(seconds=body.expires_in_seconds),
        tags=dict(body.tags),
        created_at=at,
        created_by=who.actor,
    )
    session.add(row)
    audit.record(
        session,
        who,
        "activation.create",
        row.id,
        at,
        {"registration_limit": row.registration_limit, "tags": row.tags},
    )
    return {**_view(row, at), "activation_code": code}


@router.get("")
def list_activations(_: Admin, session: ReadDB, at: Now) -> list[dict[str, Any]]:
    """Every activation (never the codes)."""
    rows = session.scalars(select(Activation).order_by(Activation.created_at))
    return [_view(r, at) for r in rows]


@router.delete("/{activation_id}")
def delete_activation(activation_id: str, who: Admin, session: WriteDB, at: Now) -> dict[str, Any]:
    """Expire an activation now (registered nodes stay registered)."""
    row = session.get(Activation, activation_id)
    if row is None:
        raise not_found(f"activation {activation_id}")
    row.expires_at = min(row.expires_at, at)
    audit.record(session, who, "activation.delete", row.id, at)
    return _view(row, at)
