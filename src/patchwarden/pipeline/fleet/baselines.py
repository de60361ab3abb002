"""Stored baselines: create or replace one from its document (its OperatingSystem cannot
change, as in AWS), and delete one no registration uses."""

from __future__ import annotations

from datetime import datetime

from patchwarden.documents import BaselineDocument, to_document
from patchwarden.pipeline.fleet.errors import Conflict, Invalid, NotFound
from patchwarden.pipeline.fleet.ports import AuditLog, BaselineRepository
from patchwarden.pipeline.fleet.records import StoredBaseline


def store_baseline(
    baselines: BaselineRepository, doc: BaselineDocument, at: datetime
) -> tuple[StoredBaseline, bool]:
    """Create or replace the baseline ``doc`` names; whether it was created."""
    baseline = doc.baseline
    document = to_document(baseline, doc.labels or None)
    found = baselines.by_name(baseline.name)
    if found is None:
        return baselines.create(baseline.name, baseline.operating_system, document, at), True
    if found.operating_system != baseline.operating_system:
        raise Invalid(
            f"OperatingSystem: baseline {baseline.name!r} is {found.operating_system}; "
            "it cannot be changed after creation"
        )
    return baselines.replace(found.id, document, at), False


def save_baseline(
    baselines: BaselineRepository,
    audit: AuditLog,
    doc: BaselineDocument,
    actor: str,
    at: datetime,
    *,
    imported: bool = False,
) -> tuple[StoredBaseline, bool]:
    """:func:`store_baseline`, audited (``baseline.import`` for raw AWS JSON, else
    ``baseline.create`` / ``baseline.update``)."""
    stored, created = store_baseline(baselines, doc, at)
    if imported:
        audit.record(actor, "baseline.import", stored.name, at, {"created": created})
    else:
        audit.record(actor, f"baseline.{'create' if created else 'update'}", stored.name, at)
    return stored, created


def named(baselines: BaselineRepository, name: str) -> StoredBaseline:
    """The baseline called ``name``; :class:`NotFound` otherwise."""
    found = baselines.by_name(name)
    if found is None:
        raise NotFound(f"baseline {name!r}")
    return found


def delete_baseline(
    baselines: BaselineRepository, audit: AuditLog, name: str, actor: str, at: datetime
) -> StoredBaseline:
    """Delete a baseline no patch group or default registration uses; the deleted one."""
    found = named(baselines, name)
    used = baselines.first_patch_group(found.id)
    if used is not None:
        raise Conflict(f"baseline {name!r} is registered for patch group {used!r}")
    if baselines.is_default(found.id):
        raise Conflict(f"baseline {name!r} is the default for {found.operating_system}")
    baselines.delete(found.id)
    audit.record(actor, "baseline.delete", name, at)
    return found
