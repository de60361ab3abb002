"""The local vulnerability database (stdlib ``sqlite3``): schema-versioned, indexed by
(ecosystem, package), rebuilt into a temp file and swapped in atomically on every change."""

from __future__ import annotations

from patchwarden.adapters.vulndb.store import SqliteVulnDb
from patchwarden.adapters.vulndb.transfer import is_database_file

__all__ = ["SqliteVulnDb", "is_database_file"]
