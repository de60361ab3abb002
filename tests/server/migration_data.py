"""Fill every table of a database, at whatever schema revision it is, with one valid row.

The tables are introspected (``MetaData.reflect``), never taken from the models: at an old
revision the columns are the ones that revision created.  Parents come before children
(foreign keys), every column gets a value of its type that fits its length (nullable ones
too, so a migration meets real values everywhere), a single-column integer primary key is
left to the database (its sequence stays right for the rows the application adds later),
and the few columns the application parses get a value it understands
(:data:`MEANINGFUL`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    func,
    inspect,
    select,
    table,
)

AT = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)  # before the test clock: not "today"
SKIPPED = frozenset({"alembic_version"})

NODE_ID = "mi-0123456789abcdef0"
WINDOW_NAME = "patch-web"
WINDOW_DOCUMENT = {
    "apiVersion": "patchwarden/v1",
    "kind": "MaintenanceWindow",
    "metadata": {"name": WINDOW_NAME},
    "spec": {
        "Schedule": "cron(0 2 ? * SUN *)",
        "Duration": 2,
        "Cutoff": 1,
        "Targets": [{"Key": "tag:Role", "Values": ["web"]}],
        "Tasks": [
            {
                "Name": "patch",
                "TaskArn": "AWS-RunPatchBaseline",
                "Priority": 1,
                "MaxConcurrency": "50",
                "MaxErrors": "0",
                "TaskInvocationParameters": {"RunCommand": {"Parameters": {"Operation": "Scan"}}},
            }
        ],
    },
}
FINDING = {
    "vulnerability_id": "CVE-2026-0001",
    "aliases": [],
    "package_name": "openssl",
    "package_version": "3.0.1-1",
    "package_arch": "amd64",
    "source_name": "openssl",
    "fixed_version": "3.0.2-1",
    "fix_available": "YES",
    "severity": "HIGH",
    "severity_source": "vendor",
    "advisory_status": "fixed",
    "sources": ["debian"],
    "status": "ACTIVE",
    "first_observed": AT.isoformat(),
    "last_observed": AT.isoformat(),
    "kev_due_date": None,
}
IMAGE_RECORD = {
    "name": "web",
    "version": "1.0.0/1",
    "status": "AVAILABLE",
    "dateCreated": AT.isoformat(),
    "dateUpdated": AT.isoformat(),
}

MEANINGFUL: dict[str, Any] = {
    "nodes.id": NODE_ID,
    "nodes.deregistered_at": None,  # a registered node: listed
    "*.node_id": NODE_ID,
    "baselines.id": "pb-0123456789abcdef0",
    "baselines.name": "web-baseline",
    "maintenance_windows.name": WINDOW_NAME,
    "maintenance_windows.id": "mw-0123456789abcdef0",
    "maintenance_windows.document": WINDOW_DOCUMENT,
    "commands.status": "Success",
    "invocations.status": "Success",
    "node_findings.vulnerability_id": FINDING["vulnerability_id"],
    "node_findings.package": FINDING["package_name"],
    "node_findings.arch": FINDING["package_arch"],
    "node_findings.status": FINDING["status"],
    "node_findings.severity": FINDING["severity"],
    "node_findings.fix_available": FINDING["fix_available"],
    "node_findings.finding": json.dumps(FINDING),
    "images.name": IMAGE_RECORD["name"],
    "images.version": IMAGE_RECORD["version"],
    "images.status": IMAGE_RECORD["status"],
    "images.record": IMAGE_RECORD,
}
"""Values for ``table.column`` (or ``*.column``) the application reads with meaning."""


def reflect(conn: Connection) -> MetaData:
    """The tables of the database as they are now (Alembic's own table left out)."""
    metadata = MetaData()
    metadata.reflect(bind=conn)
    for name in SKIPPED & set(metadata.tables):
        metadata.remove(metadata.tables[name])
    return metadata


def counts(conn: Connection) -> dict[str, int]:
    """Table → number of rows, for every table there is."""
    names = sorted(set(inspect(conn).get_table_names()) - SKIPPED)
    return {
        name: conn.execute(select(func.count()).select_from(table(name))).scalar_one()
        for name in names
    }


def fill(conn: Connection, metadata: MetaData | None = None) -> list[str]:
    """One row in every empty table (parents first); the names of the tables written.
    The rows are ones the application reads (:data:`MEANINGFUL`).  ``metadata``: the
    tables as :func:`reflect` found them, when the caller has them already."""
    metadata = metadata or reflect(conn)
    rows: dict[str, dict[str, Any]] = {}
    written: list[str] = []
    for each in metadata.sorted_tables:
        existing = conn.execute(select(each).limit(1)).mappings().first()
        if existing is not None:
            rows[each.name] = dict(existing)
            continue
        rows[each.name] = _insert(conn, each, rows, value_for)
        written.append(each.name)
    return written


def fill_wide(conn: Connection, metadata: MetaData | None = None) -> list[str]:
    """One more row in every table (parents first, children of the new parents): every
    string as long as its column allows, every nullable column set — the data a downgrade
    that narrows or drops a column meets.  Not meant for the application to read."""
    metadata = metadata or reflect(conn)
    rows: dict[str, dict[str, Any]] = {}
    for each in metadata.sorted_tables:
        rows[each.name] = _insert(conn, each, rows, wide_value_for)
    return list(rows)


def primary_keys(
    conn: Connection, metadata: MetaData | None = None
) -> dict[str, set[tuple[Any, ...]]]:
    """Table → the primary keys of its rows (what tells a row kept from a row lost)."""
    metadata = metadata or reflect(conn)
    return {
        each.name: {tuple(row) for row in conn.execute(select(*each.primary_key.columns))}
        for each in metadata.sorted_tables
    }


def _insert(
    conn: Connection,
    table: Table,
    rows: dict[str, dict[str, Any]],
    values: Callable[[str, Column[Any]], Any],
) -> dict[str, Any]:
    parents = _parent_values(table, rows)
    generated = _generated_key(table)
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.name == generated:
            continue
        if column.name in parents:
            row[column.name] = parents[column.name]
        else:
            row[column.name] = values(table.name, column)
    result = conn.execute(table.insert().values(**row))
    if generated is not None:
        key = result.inserted_primary_key
        assert key is not None
        row[generated] = key[0]
    return row


def _parent_values(table: Table, rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Column → the value its foreign key's parent row holds."""
    values: dict[str, Any] = {}
    for fk in table.foreign_keys:
        parent = fk.column.table.name
        if parent == table.name:  # a self-reference: leave it to the column's nullability
            continue
        if parent not in rows:
            raise AssertionError(f"{table.name}.{fk.parent.name}: parent {parent} not filled")
        values[fk.parent.name] = rows[parent][fk.column.name]
    return values


def _generated_key(table: Table) -> str | None:
    """The single integer primary key the database numbers itself, if any."""
    keys = list(table.primary_key.columns)
    if len(keys) != 1:
        return None
    key = keys[0]
    if isinstance(key.type, Integer) and not key.foreign_keys and key.autoincrement:
        return key.name
    return None


def value_for(table: str, column: Column[Any]) -> Any:
    """A valid value for ``column`` of ``table`` (by meaning, else by type)."""
    for key in (f"{table}.{column.name}", f"*.{column.name}"):
        if key in MEANINGFUL:
            value = MEANINGFUL[key]
            return value() if callable(value) else value
    kind = column.type
    if isinstance(kind, JSON):
        return {}
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, DateTime):
        return AT
    if isinstance(kind, Date):
        return AT.date()
    if isinstance(kind, Integer):
        return 1
    if isinstance(kind, Float | Numeric):
        return 1
    if isinstance(kind, LargeBinary):
        return b"\x00"
    if isinstance(kind, String):
        text = f"{table}.{column.name}"
        length = kind.length
        return text[-length:] if length else text
    raise AssertionError(f"{table}.{column.name}: no value for type {kind!r}")


def wide_value_for(table: str, column: Column[Any]) -> Any:
    """A value for ``column`` as large as its type allows, unlike :func:`value_for`'s."""
    kind = column.type
    if isinstance(kind, JSON):
        return {"wide": ["~" * 200, 2, None, {"nested": True}]}
    if isinstance(kind, Boolean):
        return True
    if isinstance(kind, DateTime):
        return AT + timedelta(days=1, microseconds=1)
    if isinstance(kind, Date):
        return AT.date() + timedelta(days=1)
    if isinstance(kind, Integer):
        return 2
    if isinstance(kind, Float | Numeric):
        return 2
    if isinstance(kind, LargeBinary):
        return b"\xff" * 1000
    if isinstance(kind, String):
        text = f"~{table}.{column.name}"  # never a value_for value: those start otherwise
        length = kind.length or 4000
        return text.ljust(length, "~")[:length]
    raise AssertionError(f"{table}.{column.name}: no value for type {kind!r}")
