"""Content hashes of an inventory, shared by the agent (which uploads deltas) and the server
(which checks that a delta applies to what it holds).

Each package slot becomes a small item (``kind``, ``name``, ``arch``, ``version``, …) with its
own hash; the inventory's hash is the SHA-256 of the sorted item hashes, so a delta is
"these item hashes went away, these items arrived" and both sides can verify the result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

from patchwarden.core.model import Inventory, Package

ITEM_FIELDS = ("kind", "name", "arch", "version", "source_name", "repository", "classification")
"""The fields of an inventory item (all strings)."""


def _item(kind: str, pkg: Package) -> dict[str, str]:
    return {
        "kind": kind,
        "name": pkg.name,
        "arch": pkg.arch,
        "version": pkg.version,
        "source_name": pkg.source_name,
        "repository": pkg.repository,
        "classification": pkg.classification,
    }


def inventory_items(inventory: Inventory) -> list[dict[str, str]]:
    """The installed packages (``kind: installed``) and updates (``kind: update``)."""
    items = [_item("installed", ip.package) for ip in inventory.installed if ip.is_installed]
    items.extend(_item("update", u) for u in inventory.updates)
    return items


def item_hash(item: Mapping[str, str]) -> str:
    """32 hex characters identifying one item's content."""
    canonical = json.dumps([item.get(f, "") for f in ITEM_FIELDS], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def content_hash(item_hashes: Iterable[str]) -> str:
    """The inventory's hash from its items' hashes (order does not matter)."""
    digest = hashlib.sha256()
    for h in sorted(item_hashes):
        digest.update(h.encode())
    return digest.hexdigest()
