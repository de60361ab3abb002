"""What an import keeps of what an earlier one said: when the resource was first seen,
and since when each pending maintenance action has been pending (AWS does not say)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from patchwarden.core.rules import ResourceSnapshot

PENDING = "pending_maintenance"


def _key(action: Mapping[str, object]) -> tuple[str, str]:
    return str(action.get("action", "")), str(action.get("description", ""))


def _pending(value: object) -> list[Mapping[str, object]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def merge(
    previous: ResourceSnapshot | None, incoming: ResourceSnapshot, now: datetime
) -> ResourceSnapshot:
    """``incoming`` as stored: observed ``now``, first seen when ``previous`` was (or now),
    each pending maintenance action stamped ``first_seen`` (kept from ``previous`` for the
    same action and description)."""
    first_seen = previous.first_seen if previous and previous.first_seen else now
    attributes = dict(incoming.attributes)
    if PENDING in attributes:
        seen = {
            _key(action): action.get("first_seen")
            for action in _pending(previous.attributes.get(PENDING) if previous else None)
        }
        stamped = []
        for action in _pending(attributes[PENDING]):
            since = seen.get(_key(action)) or now.isoformat()
            stamped.append({**action, "first_seen": since})
        attributes[PENDING] = stamped
    return replace(incoming, attributes=attributes, first_seen=first_seen, observed_at=now)
