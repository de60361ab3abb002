"""Stored baselines: validation through the document loader, and per-node resolution
(reference §2: BaselineOverride → patch group → the OS default)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.secrets import baseline_id
from patchwarden.adapters.storage.tables import (
    Baseline,
    DefaultBaseline,
    Node,
    PatchGroupRegistration,
)
from patchwarden.core.baseline import PatchBaseline, default_baseline
from patchwarden.documents import BaselineDocument, from_aws_json, parse_documents, to_document
from patchwarden.errors import InputError, PatchwardenError
from patchwarden.server.errors import bad_request, not_found


def parse_baseline(raw: Mapping[str, Any], where: str = "document") -> BaselineDocument:
    """A PatchBaseline document (envelope) or raw ``aws ssm get-patch-baseline`` JSON."""
    text = json.dumps(raw)
    if "apiVersion" not in raw and "OperatingSystem" in raw:
        return BaselineDocument(from_aws_json(text, source=where), {}, where)
    (doc,) = parse_documents(text, where + ".json")
    if not isinstance(doc, BaselineDocument):
        raise InputError(f"{where}: expected kind PatchBaseline, got {doc.kind}")
    return doc


def by_name(session: Session, name: str) -> Baseline:
    """The stored baseline called ``name`` (404 otherwise)."""
    row = session.scalar(select(Baseline).where(Baseline.name == name))
    if row is None:
        raise not_found(f"baseline {name!r}")
    return row


def store(session: Session, doc: BaselineDocument, at: datetime) -> tuple[Baseline, bool]:
    """Create or replace a baseline; its OperatingSystem cannot change (as AWS)."""
    baseline = doc.baseline
    document = to_document(baseline, doc.labels or None)
    row = session.scalar(select(Baseline).where(Baseline.name == baseline.name))
    if row is None:
        row = Baseline(
            id=baseline_id(),
            name=baseline.name,
            operating_system=baseline.operating_system,
            document=document,
            created_at=at,
            modified_at=at,
        )
        session.add(row)
        return row, True
    if row.operating_system != baseline.operating_system:
        raise bad_request(
            f"OperatingSystem: baseline {baseline.name!r} is {row.operating_system}; "
            "it cannot be changed after creation"
        )
    row.document = document
    row.modified_at = at
    return row, False


def override_documents(raw: Sequence[Any], session: Session) -> list[dict[str, Any]]:
    """BaselineOverride: names of stored baselines, documents or AWS JSON → documents."""
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = f"Parameters.BaselineOverride[{index}]"
        if isinstance(item, str):
            document = by_name(session, item).document
        elif isinstance(item, dict):
            try:
                doc = parse_baseline(item, where)
            except PatchwardenError as exc:
                raise bad_request(str(exc)) from None
            document = to_document(doc.baseline)
        else:
            raise bad_request(f"{where}: expected a baseline name or document")
        os_name = document["spec"]["OperatingSystem"]
        if os_name in seen:
            raise bad_request(f"{where}: a second baseline for {os_name} (one per OS)")
        seen.add(os_name)
        found.append(document)
    return found


def _builtin(operating_system: str) -> dict[str, Any] | None:
    try:
        baseline: PatchBaseline = default_baseline(operating_system)
    except PatchwardenError:
        return None  # unknown OS: the agent falls back to the default of what it detects
    return to_document(baseline)


def _stored(session: Session, ident: str) -> dict[str, Any] | None:
    row = session.get(Baseline, ident)
    return row.document if row else None


def resolve(
    session: Session, node: Node, override: Sequence[Mapping[str, Any]] | None
) -> tuple[dict[str, Any] | None, str]:
    """The baseline document for ``node`` and where it came from."""
    os_name = node.operating_system
    if override is not None:
        for document in override:
            if document["spec"]["OperatingSystem"] == os_name:
                return dict(document), "BaselineOverride"
    elif node.patch_group:
        reg = session.get(PatchGroupRegistration, (node.patch_group, os_name))
        if reg is not None and (doc := _stored(session, reg.baseline_id)) is not None:
            return doc, f"PatchGroup:{node.patch_group}"
    default = session.get(DefaultBaseline, os_name)
    if default is not None and (doc := _stored(session, default.baseline_id)) is not None:
        return doc, "DefaultBaseline"
    return _builtin(os_name), "PredefinedDefault"
