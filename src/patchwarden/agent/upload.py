"""Inventory uploads: a delta against the last acknowledged inventory, in full when the
server holds something else (409) or nothing was sent yet (or the last delta was refused
with another 4xx: :class:`Refused` is raised, and the next upload is a full one).

Items and hashes are those of :mod:`patchwarden.wire`: each installed package and each
available update is one item; the server checks that a delta applied to what it holds
gives the announced content hash.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path

from patchwarden import wire
from patchwarden.agent.client import NodeApi, Refused
from patchwarden.core.model import Inventory
from patchwarden.pipeline.inventory_items import keyed_items


class Uploader:
    """Uploads one root's inventories; remembers the last acknowledged one in ``record``."""

    def __init__(self, api: NodeApi, record: Path, facts: Callable[[], wire.NodeFacts]) -> None:
        self.api = api
        self.record = record
        self.facts = facts

    def upload(self, inventory: Inventory) -> wire.InventoryAck:
        """Send ``inventory`` (see the module docstring)."""
        items = keyed_items(inventory)
        digest = wire.content_hash(items)
        collected = inventory.collected_at.isoformat() if inventory.collected_at else None
        answer = None
        previous = self._previous()
        if previous is not None:
            base_hash, old = previous
            delta = wire.InventoryDelta(
                base_hash=base_hash,
                content_hash=digest,
                added=[i for h, i in items.items() if h not in old],
                removed=sorted(old - set(items)),
                collected_at=collected,
            )
            try:
                answer = self.api.upload_delta(delta)
            except Refused as exc:
                if exc.status != 409:
                    self._forget()  # whatever the server holds, the next upload is in full
                    raise
        if answer is None:
            full = wire.FullInventory(digest, list(items.values()), self.facts(), collected)
            answer = self.api.upload_full(full)
        self.record.write_text(json.dumps({"content_hash": digest, "item_hashes": sorted(items)}))
        return answer

    def _forget(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.record.unlink()

    def _previous(self) -> tuple[str, set[str]] | None:
        try:
            data = json.loads(self.record.read_text())
            return str(data["content_hash"]), set(data["item_hashes"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
