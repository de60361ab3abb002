"""Alembic migrations from every earlier schema revision, with data in the database.

For each revision R of the chain (read from Alembic's ScriptDirectory, so revisions added
later are covered without touching this file) and each backend (SQLite, PostgreSQL — a
schema of its own per test on the server the other storage tests use):

- upgrade: an empty database is migrated to R (by the server's own ``migrate.upgrade``),
  every table gets a row (:mod:`migration_data` introspects the columns as they are at R),
  the database is migrated to head; every row is still there (by primary key), the schema
  is the models' (``compare_metadata`` from the first revision, table and column names
  from the others), and the server started on it answers its read endpoints with 200, the
  rows R wrote included;
- downgrade: at head the database gets more data (the server's, a row in every table R
  lacks, and a row with every column at its widest in every table), is migrated down to R
  (R's tables and columns again, none of R's rows lost), up to head again with that data
  (nothing lost, the head schema again) and down to base (no table left).

A revision whose ``downgrade()`` is a no-op or raises cannot be passed on the way down:
the test goes as far as it can and is skipped naming that revision (none today).

The chain has no ``0003``: ``0004_governance`` revises ``0002`` (both were added in one
commit; no revision 0003 ever existed), so the revisions are taken from Alembic, never
from file names.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import os
import textwrap
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from alembic import command, op
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fleet_helpers import FakeClock
from migration_data import NODE_ID, fill, fill_wide, primary_keys, reflect
from sqlalchemy import Connection, Engine, MetaData, create_engine, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import make_url

from patchwarden.adapters.storage import make_engine, upgrade
from patchwarden.adapters.storage import tables as tables  # registers every table
from patchwarden.adapters.storage.base import Base
from patchwarden.adapters.storage.migrate import alembic_config, current, head

BACKENDS = ("sqlite", "postgresql")
SCRIPTS = ScriptDirectory.from_config(alembic_config())
CHAIN = [script.revision for script in reversed(list(SCRIPTS.walk_revisions("base", "heads")))]
"""Every revision, base first."""

LISTS = (
    "/healthz",
    "/api/v1/nodes",
    "/api/v1/baselines",
    "/api/v1/patch-groups",
    "/api/v1/default-baselines",
    "/api/v1/compliance",
    "/api/v1/compliance/summary",
    "/api/v1/commands",
    "/api/v1/windows",
    "/api/v1/rules",
    "/api/v1/evaluations",
    "/api/v1/rule-compliance",
    "/api/v1/runbooks",
    "/api/v1/remediations",
    "/api/v1/remediation-exceptions",
    "/api/v1/conformance-packs",
    "/api/v1/governance/settings",
    "/api/v1/findings",
    "/api/v1/suppressions",
    "/api/v1/images",
    "/api/v1/deployments",
    "/api/v1/events",
    "/api/v1/notifications/targets",
    "/api/v1/notifications/deliveries",
    "/api/v1/audit",
    "/api/v1/tokens",
    "/api/v1/activations",
)
"""Read endpoints every upgraded database must answer with 200."""

DETAILS: dict[str, tuple[str, str]] = {
    "nodes": ("SELECT id FROM nodes", "/api/v1/nodes/{}"),
    "inventories": ("SELECT node_id FROM inventories", "/api/v1/nodes/{}/inventory"),
    "node_assessments": ("SELECT node_id FROM node_assessments", "/api/v1/nodes/{}/findings"),
    "commands": ("SELECT id FROM commands", "/api/v1/commands/{}"),
    "baselines": ("SELECT name FROM baselines", "/api/v1/baselines/{}"),
    "maintenance_windows": ("SELECT name FROM maintenance_windows", "/api/v1/windows/{}"),
    "gov_rules": ("SELECT name FROM gov_rules", "/api/v1/rules/{}"),
}
"""Table → (its row's key, the endpoint reading that row): asked when R wrote the row."""


def test_the_chain_is_linear_and_complete() -> None:
    assert len(SCRIPTS.get_heads()) == 1
    assert CHAIN[-1] == head()
    assert SCRIPTS.get_revision(CHAIN[0]).down_revision is None
    for lower, upper in itertools.pairwise(CHAIN):
        assert SCRIPTS.get_revision(upper).down_revision == lower


def unsupported_downgrade(revision: str) -> str | None:
    """Why ``revision``'s ``downgrade()`` cannot be run (a no-op or a raise), or None."""
    why = unsupported(SCRIPTS.get_revision(revision).module.downgrade)
    return f"the downgrade() of revision {revision} {why}" if why else None


def unsupported(downgrade: Callable[[], None]) -> str | None:
    """``is a no-op`` or ``raises`` for a ``downgrade()`` that does nothing or raises."""
    function = ast.parse(textwrap.dedent(inspect.getsource(downgrade))).body[0]
    assert isinstance(function, ast.FunctionDef)
    body = [
        statement
        for statement in function.body
        if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))
    ]
    if all(isinstance(statement, ast.Pass) for statement in body):
        return "is a no-op"
    if any(isinstance(statement, ast.Raise) for statement in body):
        return "raises (not supported)"
    return None


def test_unsupported_downgrades_are_recognised() -> None:
    def no_op() -> None:
        """Nothing to undo."""

    def passes() -> None:
        pass

    def raises() -> None:
        raise NotImplementedError("one way")

    def drops() -> None:
        op.drop_table("x")

    assert unsupported(no_op) == unsupported(passes) == "is a no-op"
    assert unsupported(raises) == "raises (not supported)"
    assert unsupported(drops) is None


# --- databases ----------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """An empty database of each backend, of this test alone (PostgreSQL: a new schema on
    the server the other storage tests use, skipped like them when it is unreachable)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'server.db'}"
        return
    shared = make_url(request.getfixturevalue("pg_schema_url"))
    base = shared.difference_update_query(["options"])
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    schema = f"pw_mig_{worker}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(empty_url: str) -> Iterator[Engine]:
    found = make_engine(empty_url)
    yield found
    found.dispose()


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate down to ``revision`` the way :func:`migrate.upgrade` migrates up."""
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


Keys = dict[str, set[tuple[Any, ...]]]


def tables_of(engine: Engine) -> MetaData:
    """The tables as they are now (reflected once per schema, reused while it holds)."""
    with engine.connect() as conn:
        return reflect(conn)


def row_keys(engine: Engine, metadata: MetaData) -> Keys:
    """Table → the primary keys of its rows."""
    with engine.connect() as conn:
        return primary_keys(conn, metadata)


def write_rows(
    engine: Engine, metadata: MetaData, rows: Callable[[Connection, MetaData], list[str]] = fill
) -> list[str]:
    with engine.begin() as conn:
        return rows(conn, metadata)


def assert_kept(old: Keys, new: Keys) -> None:
    """Every row of ``old`` is in ``new`` (tables of ``old`` only)."""
    lost = {table: keys - new.get(table, set()) for table, keys in old.items()}
    assert {table: keys for table, keys in lost.items() if keys} == {}


def columns(engine: Engine) -> dict[str, set[str]]:
    """Table → its column names (Alembic's own table left out)."""
    found = sa_inspect(engine)
    return {
        table: {column["name"] for column in found.get_columns(table)}
        for table in found.get_table_names()
        if table != "alembic_version"
    }


def assert_models_schema(engine: Engine, *, fully: bool) -> dict[str, set[str]]:
    """The database is at head with the models' tables and columns (``fully``: and their
    types, indexes and constraints, by Alembic's comparison) — its columns."""
    assert current(engine) == head()
    found = columns(engine)
    assert found == {t.name: {c.name for c in t.columns} for t in Base.metadata.sorted_tables}
    if fully:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    return found


def filled_at(engine: Engine, revision: str) -> tuple[MetaData, Keys]:
    """Migrate the empty database to ``revision`` and give every table a row."""
    upgrade(engine, revision)
    assert current(engine) == revision
    metadata = tables_of(engine)
    written = write_rows(engine, metadata)
    before = row_keys(engine, metadata)
    assert set(written) == set(before)
    assert all(len(keys) == 1 for keys in before.values())
    return metadata, before


# --- the server on the upgraded database ----------------------------------------------------


def serve_reads(url: str, written: set[str]) -> None:
    """Start the server on ``url`` and read: every list endpoint answers 200, and the rows
    the old revision wrote are found (by list and by their own endpoint)."""
    from fastapi.testclient import TestClient

    from patchwarden.adapters.storage.tokens import make_token
    from patchwarden.server.app import create_app
    from patchwarden.server.settings import ServerSettings

    clock = FakeClock()
    settings = ServerSettings(
        database_url=url, clock=clock, migrate=False, replica_id="test-replica"
    )
    app = create_app(settings)
    row, admin = make_token("migration-admin", "admin", "system", clock.now())
    with app.state.db.write() as session, session.begin():
        session.add(row)
    with app.state.db.read() as session:
        keys = {
            table: session.execute(text(query)).scalar_one()
            for table, (query, _) in DETAILS.items()
            if table in written
        }
    headers = {"Authorization": f"Bearer {admin}"}
    with TestClient(app, raise_server_exceptions=False) as client:
        failed = []
        for path in LISTS + tuple(DETAILS[table][1].format(key) for table, key in keys.items()):
            response = client.get(path, headers=headers)
            if response.status_code != 200:
                failed.append(f"GET {path}: {response.status_code} {response.text[:200]}")
        assert failed == []
        if "nodes" in written:
            listed = client.get("/api/v1/nodes", headers=headers).json()
            assert NODE_ID in str(listed)


# --- the test ----------------------------------------------------------------------------


@pytest.mark.parametrize("revision", CHAIN)
def test_upgrade_and_downgrade_with_data(revision: str, engine: Engine, empty_url: str) -> None:
    # upgrade: R's rows survive, the schema is the models', the server reads them
    tables_at_revision, at_revision = filled_at(engine, revision)
    schema_at_revision = columns(engine)
    upgrade(engine)
    tables_at_head = tables_of(engine)
    assert_kept(at_revision, row_keys(engine, tables_at_head))
    # the same migrations run whatever R is: the full comparison once per backend
    schema_at_head = assert_models_schema(engine, fully=revision == CHAIN[0])
    serve_reads(empty_url, set(at_revision))

    # down to R with data written at head: the server's, a row in each table R lacks, and a
    # row with every column at its widest in every table; R's rows survive (a downgrade may
    # drop head rows that no longer fit, as 0013 drops governance rows of long resource ids)
    newer = write_rows(engine, tables_at_head)
    assert not set(newer) & set(at_revision)
    write_rows(engine, tables_at_head, fill_wide)
    above = CHAIN[CHAIN.index(revision) + 1 :]
    blocked = [r for r in reversed(above) if unsupported_downgrade(r)]
    if blocked:
        downgrade(engine, blocked[0])
        reason = unsupported_downgrade(blocked[0])
        pytest.skip(f"upgrade checked; cannot go down to {revision}: {reason}")
    downgrade(engine, revision)
    assert current(engine) == revision
    assert columns(engine) == schema_at_revision
    down = row_keys(engine, tables_at_revision)
    assert set(down) == set(at_revision)
    assert_kept(at_revision, down)

    # up again with that data (nothing lost), then down to base
    upgrade(engine)
    assert current(engine) == head()
    assert columns(engine) == schema_at_head
    assert_kept(down, row_keys(engine, tables_at_head))
    below = [r for r in reversed(CHAIN[: CHAIN.index(revision) + 1]) if unsupported_downgrade(r)]
    if below:
        reason = unsupported_downgrade(below[0])
        pytest.skip(f"checked down to {revision} and up again; not to base: {reason}")
    downgrade(engine, "base")
    assert current(engine) is None
    assert sa_inspect(engine).get_table_names() == ["alembic_version"]
