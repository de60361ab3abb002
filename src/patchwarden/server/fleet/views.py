"""JSON views of stored nodes and compliance, and query-string helpers shared by the
routers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from patchwarden.adapters.storage.queries.compliance import Compliance
from patchwarden.core.presence import ping_status
from patchwarden.pipeline.fleet.records import NodeRecord
from patchwarden.server.errors import bad_request
from patchwarden.server.settings import ServerSettings


def tag_filters(raw: Sequence[str] | None) -> dict[str, list[str]]:
    """``["Env=prod", "Env=stage", "Role=web"]`` → ``{"Env": ["prod","stage"], "Role": ["web"]}``
    (values OR-ed within a key, keys AND-ed)."""
    found: dict[str, list[str]] = {}
    for item in raw or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise bad_request(f"tag: expected KEY=VALUE, got {item!r}")
        found.setdefault(key, []).append(value)
    return found


def node_view(node: NodeRecord, now: datetime, settings: ServerSettings) -> dict[str, Any]:
    """A node as the API shows it."""
    status = ping_status(
        last_seen_at=node.last_seen_at,
        registered_at=node.registered_at,
        deregistered_at=node.deregistered_at,
        now=now,
        online_seconds=settings.online_seconds,
        inactive_days=settings.inactive_days,
    )
    return {
        "node_id": node.id,
        "name": node.name,
        "hostname": node.hostname,
        "ping_status": status,
        "last_ping_at": node.last_seen_at,
        "registered_at": node.registered_at,
        "deregistered_at": node.deregistered_at,
        "activation_id": node.activation_id,
        "tags": node.tags,
        "patch_group": node.patch_group,
        "platform": {
            "os_id": node.os_id,
            "os_version": node.os_version,
            "operating_system": node.operating_system,
            "product": node.product,
        },
        "agent_version": node.agent_version,
    }


def compliance_view(record: Compliance, *, items: bool = False) -> dict[str, Any]:
    """A node's patch compliance summary (and its patch states with ``items``)."""
    view: dict[str, Any] = {
        "node_id": record.node_id,
        "compliance": record.compliance,
        "severity": record.severity,
        "baseline": record.baseline,
        "baseline_id": record.baseline_id,
        "snapshot_id": record.snapshot_id,
        "operation": record.operation,
        "command_id": record.command_id,
        "operation_time": record.generated_at,
        "reported_at": record.reported_at,
        "summary": record.summary,
    }
    if items:
        view["patches"] = record.items
    return view
