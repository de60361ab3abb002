"""Moving whole databases: export a consistent copy, restore (import) a copy, validated."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from patchwarden.adapters.vulndb import schema
from patchwarden.adapters.vulndb.build import locked, new_file
from patchwarden.errors import AdapterError, InputError


def is_database_file(path: Path) -> bool:
    """Whether ``path`` starts like an SQLite database."""
    try:
        with path.open("rb") as handle:
            return handle.read(len(schema.SQLITE_MAGIC)) == schema.SQLITE_MAGIC
    except OSError:
        return False


def validate(path: Path) -> None:
    """Raise :class:`InputError` unless ``path`` is an intact database of this schema."""
    if not is_database_file(path):
        raise InputError(f"{path}: not an SQLite database")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise InputError(f"{path}: cannot open: {exc}") from exc
    try:
        problem = schema.schema_problem(path, conn)
        if problem is None:
            check = conn.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                problem = f"{path}: damaged database ({check[0] if check else 'no answer'})"
    except sqlite3.DatabaseError as exc:
        problem = f"{path}: damaged database ({exc})"
    finally:
        conn.close()
    if problem:
        raise InputError(problem)


def restore(target: Path, file: Path) -> None:
    """Replace ``target`` by a validated copy of the database ``file``."""
    validate(file)
    with locked(target), new_file(target) as tmp:
        try:
            shutil.copyfile(file, tmp)
        except OSError as exc:
            raise AdapterError(f"cannot copy {file} to {target.parent}: {exc.strerror}") from exc
        validate(tmp)


def export(source: Path, file: Path) -> None:
    """A consistent copy of ``source`` (SQLite online backup) at ``file``, atomically."""
    if not source.exists():
        raise InputError(f"no vulnerability database at {source}: run `patchwarden db update`")
    validate(source)
    if file.is_dir():
        raise InputError(f"{file}: is a directory (give the file to write)")
    file.parent.mkdir(parents=True, exist_ok=True)
    with new_file(file) as tmp:
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
        except sqlite3.Error as exc:
            raise AdapterError(f"cannot export {source} to {file}: {exc}") from exc
        finally:
            dst.close()
            src.close()
