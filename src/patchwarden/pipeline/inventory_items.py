"""An inventory as the items of the wire protocol (:data:`patchwarden.wire.ITEM_FIELDS`):
what the agent uploads and what the server stores of a node component's facts."""

from __future__ import annotations

from patchwarden import wire
from patchwarden.core.model import Inventory, Package


def inventory_items(inventory: Inventory) -> list[wire.InventoryItem]:
    """The installed packages (``kind: installed``) and updates (``kind: update``, with
    their update notices' severity, notice ids and CVE ids on rpm)."""

    def item(kind: str, pkg: Package) -> wire.InventoryItem:
        return wire.InventoryItem(
            kind,
            pkg.name,
            pkg.arch,
            pkg.version,
            pkg.source_name,
            pkg.repository,
            pkg.classification,
            pkg.severity,
            " ".join(pkg.advisory_ids),
            " ".join(pkg.cve_ids),
        )

    items = [item("installed", ip.package) for ip in inventory.installed if ip.is_installed]
    items.extend(item("update", u) for u in inventory.updates)
    return items


def keyed_items(inventory: Inventory) -> dict[str, wire.InventoryItem]:
    """The items by their hash (a duplicate item counts once)."""
    return {wire.item_hash(i._asdict()): i for i in inventory_items(inventory)}
