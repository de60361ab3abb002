"""Fixtures for the fleet server: one database per backend and test session, emptied
between tests, and an API client with tokens and registered nodes.

``db_url`` is parametrised over SQLite and PostgreSQL.  PostgreSQL tests use the local
server (127.0.0.1:5432, database ``test``) inside a schema of their own, named after the
xdist worker and a random suffix and dropped at the end; ``PATCHWARDEN_TEST_PG_URL``
points them elsewhere.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fleet_helpers import Api, FakeClock
from sqlalchemy import Engine, create_engine, delete, text

from patchwarden.adapters.storage import make_engine, upgrade
from patchwarden.adapters.storage.tables import Base

PG_BASE_URL = os.environ.get(
    "PATCHWARDEN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    """Starlette 1.x deprecates httpx in its TestClient (it suggests httpx2); the tests
    keep httpx, the agent's own HTTP client."""
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_BASE_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return str(exc).splitlines()[0]
    return None


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema (dropped afterwards)."""
    problem = _pg_available()
    if problem:
        message = f"PostgreSQL at {PG_BASE_URL} is not reachable: {problem}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    schema = f"pw_test_{worker}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_BASE_URL else "?"
    try:
        yield f"{PG_BASE_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def _databases() -> dict[str, str]:
    """Backend → URL of this session's migrated database."""
    return {}


@pytest.fixture(params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest,
    _databases: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """A migrated, empty database of each backend."""
    backend: str = request.param
    if backend not in _databases:
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("server-db") / "server.db"
            url = f"sqlite:///{path}"
        else:
            url = request.getfixturevalue("pg_schema_url")
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        _databases[backend] = url
    url = _databases[backend]
    yield url
    engine = make_engine(url)
    _empty(engine)
    engine.dispose()


def _empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(delete(table))


@pytest.fixture(autouse=True)
def _assessment_driven_by_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """No background vulnerability assessment: tests call ``vulns.assess_pending``."""
    monkeypatch.setenv("PATCHWARDEN_ASSESS_INTERVAL", "0")
    monkeypatch.setenv("PATCHWARDEN_IMAGES_INTERVAL", "0")  # tests call images.images_round


@pytest.fixture
def clock() -> FakeClock:
    """The server's clock (tests move it; nothing waits on wall-clock time)."""
    return FakeClock()


@pytest.fixture
def api(db_url: str, clock: FakeClock) -> Iterator[Api]:
    """A TestClient on a fresh app over ``db_url`` with an admin token."""
    from fastapi.testclient import TestClient

    from patchwarden.server.app import bootstrap_admin, create_app
    from patchwarden.server.settings import ServerSettings

    settings = ServerSettings(
        database_url=db_url,
        clock=clock,
        migrate=False,
        replica_id="test-replica",
        poll_check_interval=0.05,
    )
    app = create_app(settings)
    admin = bootstrap_admin(app.state.db, settings)
    assert admin is not None
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, admin, clock)


@pytest.fixture
def data_dir() -> Path:
    """tests/data."""
    return Path(__file__).parent.parent / "data"
