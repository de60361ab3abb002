"""Imported resources: a source (``aws:ACCOUNT:REGION``…) sends its whole snapshot — of
every type, or of the types it names (an import that could read only some services) — and
what it no longer lists of those types is gone.  Added and changed resources are evaluated
by the rules that judge their types, in the transaction of the import."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from patchwarden.core.responsibility import merge
from patchwarden.core.rules import ResourceSnapshot
from patchwarden.errors import InputError
from patchwarden.pipeline.governance import evaluation
from patchwarden.pipeline.governance.context import Governance

SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._\-]{0,127}$")


@dataclass(frozen=True)
class ImportResult:
    """What one import changed."""

    source: str
    added: int
    updated: int
    removed: int
    resources: int


def _same(a: ResourceSnapshot, b: ResourceSnapshot) -> bool:
    return (a.resource_type, a.name, dict(a.tags), dict(a.attributes)) == (
        b.resource_type,
        b.name,
        dict(b.tags),
        dict(b.attributes),
    )


def import_source(
    gov: Governance,
    source: str,
    incoming: Sequence[ResourceSnapshot],
    actor: str,
    at: datetime,
    types: Collection[str] | None = None,
) -> ImportResult:
    """Replace what ``source`` holds (of ``types``, default all) with ``incoming``
    (audited ``resources.import``)."""
    if not SOURCE.match(source):
        raise InputError(
            f"source: letters, digits and :._- only, at most 128 characters, got {source!r}"
        )
    ids = [r.resource_id for r in incoming]
    duplicate = (
        next((i for i in ids if ids.count(i) > 1), None) if len(set(ids)) < len(ids) else None
    )
    if duplicate is not None:
        raise InputError(f"resources: {duplicate!r} is listed twice")
    if types is not None:
        stray = sorted({r.resource_type for r in incoming} - set(types))
        if stray:
            raise InputError(f"resources: {stray[0]} is not among resource_types")
    before = {
        rid: r
        for rid, r in gov.resources.of_source(source).items()
        if types is None or r.resource_type in types
    }
    others = {r.resource_id for r in gov.resources.all() if r.source != source}
    taken = sorted(set(ids) & others)
    if taken:
        raise InputError(f"resources: {taken[0]!r} belongs to another source")
    changed, added = [], 0
    for resource in incoming:
        previous = before.get(resource.resource_id)
        stored = merge(previous, replace(resource, source=source), at)
        gov.resources.put(stored)
        if previous is None or not _same(previous, stored):
            added += previous is None
            changed.append(stored)
    gone = sorted(set(before) - set(ids))
    gov.resources.delete(gone)
    gov.results.forget(gone)
    evaluation.imported(gov, changed, at)
    result = ImportResult(source, added, len(changed) - added, len(gone), len(incoming))
    detail: dict[str, object] = {
        "added": result.added,
        "updated": result.updated,
        "removed": result.removed,
    }
    if types is not None:
        detail["resource_types"] = sorted(types)
    gov.audit.record(actor, "resources.import", source, at, detail)
    return result
