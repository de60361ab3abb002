"""Migrations, engines and the error contract of the HTTP API."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fleet_helpers import Api, error_of

from patchwarden.adapters.storage import make_engine
from patchwarden.adapters.storage import tables as tables  # registers every table
from patchwarden.adapters.storage.base import Base
from patchwarden.adapters.storage.migrate import current, head


def test_migrations_match_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current(engine) == head()
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_sqlite_engine_is_tuned(tmp_path: object) -> None:
    from pathlib import Path

    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{Path(str(tmp_path)) / 'sub' / 'x.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_bad_database_urls_are_input_errors() -> None:
    import pytest

    from patchwarden.errors import InputError

    with pytest.raises(InputError, match="unsupported backend"):
        make_engine("mysql://x/y")
    with pytest.raises(InputError, match="cannot parse"):
        make_engine("::nonsense::")


def test_errors_have_one_shape(api: Api) -> None:
    assert error_of(api.call("GET", "/api/v1/nope")) == (404, "not_found")
    assert error_of(api.call("PATCH", "/api/v1/tokens")) == (405, "method_not_allowed")
    assert error_of(api.call("GET", "/api/v1/nodes/mi-0")) == (404, "not_found")
    assert error_of(api.call("GET", "/api/v1/audit", params={"limit": "x"})) == (
        400,
        "invalid_request",
    )


def test_openapi_and_health(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    assert "/api/v1/commands" in spec["paths"] and "/api/v1/register" in spec["paths"]
    assert api.client.get("/healthz").json()["status"] == "ok"
