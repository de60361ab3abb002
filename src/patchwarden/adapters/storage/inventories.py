"""Inventories: a full upload, then deltas checked against the content hash."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from patchwarden.adapters.os.osrelease import os_info_from_fields
from patchwarden.adapters.storage.tables import Inventory, InventoryItem, Node
from patchwarden.core import model
from patchwarden.wire import ITEM_FIELDS, content_hash, item_hash


class HashMismatch(Exception):
    """The stored inventory is not the delta's base, or the result is not the stated hash."""


def _rows(node_id: str, items: Iterable[Mapping[str, str]]) -> dict[str, InventoryItem]:
    rows = {}
    for item in items:
        h = item_hash(item)
        rows[h] = InventoryItem(
            node_id=node_id, item_hash=h, **{f: item.get(f, "") for f in ITEM_FIELDS}
        )
    return rows


def _header(session: Session, node_id: str, at: datetime) -> Inventory:
    header = session.get(Inventory, node_id)
    if header is None:
        header = Inventory(
            node_id=node_id,
            content_hash="",
            installed_count=0,
            update_count=0,
            collected_at=None,
            uploaded_at=at,
        )
        session.add(header)
    return header


def _finish(
    session: Session, header: Inventory, expected: str, collected: datetime | None, at: datetime
) -> None:
    session.flush()
    hashes = session.scalars(
        select(InventoryItem.item_hash).where(InventoryItem.node_id == header.node_id)
    ).all()
    actual = content_hash(hashes)
    if actual != expected:
        raise HashMismatch(f"content hash after upload is {actual}, not {expected}")
    counts = dict(
        session.execute(
            select(InventoryItem.kind, func.count())
            .where(InventoryItem.node_id == header.node_id)
            .group_by(InventoryItem.kind)
        ).all()
    )
    header.content_hash = actual
    header.installed_count = counts.get("installed", 0)
    header.update_count = counts.get("update", 0)
    header.collected_at = collected
    header.uploaded_at = at


def replace_all(
    session: Session,
    node_id: str,
    items: Sequence[Mapping[str, str]],
    expected_hash: str,
    collected: datetime | None,
    at: datetime,
) -> Inventory:
    """A full upload: the node's items become exactly ``items``."""
    header = _header(session, node_id, at)
    session.execute(delete(InventoryItem).where(InventoryItem.node_id == node_id))
    session.add_all(_rows(node_id, items).values())
    _finish(session, header, expected_hash, collected, at)
    return header


def capability_list(text: str) -> list[str]:
    """``"image-builder,x"`` as a sorted list without duplicates."""
    return sorted({c for c in text.split(",") if c})


NODE_FACTS = ("hostname", "os_id", "os_version", "operating_system", "product", "agent_version")
"""The node columns an agent's facts set."""


def full_upload(
    session: Session,
    node_id: str,
    facts: Mapping[str, str] | None,
    items: Sequence[Mapping[str, str]],
    expected_hash: str,
    collected: datetime | None,
    at: datetime,
) -> Inventory:
    """:func:`replace_all`, after setting the node's facts when the agent sent them."""
    if facts is not None:
        node = session.get(Node, node_id)
        assert node is not None
        for key, value in facts.items():
            if key in NODE_FACTS:
                setattr(node, key, value)
        node.capabilities = capability_list(facts.get("capabilities", ""))
    return replace_all(session, node_id, items, expected_hash, collected, at)


def apply_delta(
    session: Session,
    node_id: str,
    base_hash: str,
    added: Sequence[Mapping[str, str]],
    removed: Sequence[str],
    expected_hash: str,
    collected: datetime | None,
    at: datetime,
) -> Inventory:
    """A delta upload on top of ``base_hash``; :class:`HashMismatch` when it does not fit."""
    header = session.get(Inventory, node_id)
    if header is None or header.content_hash != base_hash:
        raise HashMismatch("the server holds a different inventory: upload it in full")
    if removed:
        session.execute(
            delete(InventoryItem).where(
                InventoryItem.node_id == node_id, InventoryItem.item_hash.in_(list(removed))
            )
        )
    rows = _rows(node_id, added)
    if rows:
        session.execute(
            delete(InventoryItem).where(
                InventoryItem.node_id == node_id, InventoryItem.item_hash.in_(list(rows))
            )
        )
        session.add_all(rows.values())
    if not removed and not rows and base_hash == expected_hash:
        return header  # unchanged: ``uploaded_at`` dates the last change (see server.vulns)
    _finish(session, header, expected_hash, collected, at)
    return header


def stored_inventory(session: Session, node: Node) -> model.Inventory | None:
    """The node's uploaded inventory as a :class:`patchwarden.core.model.Inventory` (what
    :func:`patchwarden.pipeline.assess.assess` judges), ``None`` before any upload.

    The OS comes from the node's facts (``os_id``, ``os_version``); the root is the node id.
    Only what the agent uploads is known: no origins or priorities; an rpm update keeps
    its notices' ids, severity and CVE ids (what ``updateinfo`` said on the node).
    """
    header = session.get(Inventory, node.id)
    if header is None:
        return None
    os_info = os_info_from_fields(
        {"ID": node.os_id, "VERSION_ID": node.os_version, "PRETTY_NAME": node.product}
    )
    installed: list[model.InstalledPackage] = []
    updates: list[model.Package] = []
    rows = session.scalars(
        select(InventoryItem)
        .where(InventoryItem.node_id == node.id)
        .order_by(InventoryItem.name, InventoryItem.arch, InventoryItem.version)
    )
    for row in rows:
        pkg = model.Package(
            name=row.name,
            arch=row.arch,
            version=row.version,
            source_name=row.source_name,
            repository=row.repository,
            classification=row.classification,
            severity=row.severity,
            update_notice=bool(row.advisories),
            advisory_ids=tuple(row.advisories.split()),
            cve_ids=tuple(row.cves.split()),
        )
        if row.kind == "update":
            updates.append(pkg)
        else:
            installed.append(model.InstalledPackage(pkg))
    return model.Inventory(
        os=os_info,
        hostname=node.hostname,
        root=node.id,
        scheme=_SCHEMES.get(os_info.family, ""),
        installed=tuple(installed),
        updates=tuple(updates),
        collected_at=header.collected_at,
    )


_SCHEMES = {"debian": "deb", "rhel": "rpm", "suse": "rpm", "alpine": "apk"}
