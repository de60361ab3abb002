"""Server storage: SQLAlchemy engines, tables, Alembic migrations and repositories.

- :mod:`.engine` — :func:`make_engine` (SQLite file by default, PostgreSQL by URL);
- :mod:`.tables` — the typed models;
- :mod:`.migrate` — :func:`upgrade` (Alembic);
- :mod:`.ids`, :mod:`.secrets` — identifiers and credential hashing.
"""

from __future__ import annotations

from patchwarden.adapters.storage.engine import (
    default_url,
    is_sqlite,
    make_engine,
    read_engine,
    sqlstate,
)
from patchwarden.adapters.storage.migrate import upgrade

__all__ = ["default_url", "is_sqlite", "make_engine", "read_engine", "sqlstate", "upgrade"]
