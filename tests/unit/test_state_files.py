"""The server's SQLite database and a machine's local state are created for their owner
only: 0600 files in a 0700 directory, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from patchwarden.adapters.state import LocalState
from patchwarden.adapters.storage import make_engine


@pytest.fixture(autouse=True)
def _permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_server_database_and_its_wal_are_0600_in_a_0700_directory(tmp_path: Path) -> None:
    path = tmp_path / "data" / "server.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        assert mode(path.parent) == 0o700
        made = [p for p in path.parent.iterdir() if p.name.startswith("server.db")]
        assert {p.name for p in made} >= {"server.db", "server.db-wal", "server.db-shm"}
        for p in made:
            assert mode(p) == 0o600, p
    finally:
        engine.dispose()


def test_an_existing_directory_and_database_are_left_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "server.db"
    path.touch(mode=0o640)
    os.chmod(path, 0o640)
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    assert mode(path) == 0o640
    assert mode(tmp_path) == 0o755 or mode(tmp_path) == 0o700


def test_the_local_state_is_0600_in_a_0700_directory(tmp_path: Path) -> None:
    path = tmp_path / "agent" / "state.db"
    state = LocalState(path)
    try:
        state.record_boot("/sandbox", datetime(2026, 1, 1, tzinfo=UTC))
    finally:
        state.close()
    assert mode(path.parent) == 0o700
    assert mode(path) == 0o600
