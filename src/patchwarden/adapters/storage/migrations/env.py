"""Alembic environment: runs on the connection :mod:`..migrate` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from patchwarden.adapters.storage import tables as tables  # registers every table on Base
from patchwarden.adapters.storage.base import Base

config = context.config
connection: Connection | None = config.attributes.get("connection")
if connection is None:  # pragma: no cover - always called through migrate.upgrade
    raise RuntimeError("run migrations through patchwarden.adapters.storage.migrate")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
