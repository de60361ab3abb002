"""RDS DB instances: engine version, its newer upgrade targets, pending maintenance.

Calls: rds DescribeDBInstances, DescribeDBEngineVersions (once per engine and version),
DescribePendingMaintenanceActions.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from patchwarden.adapters.aws.connector.common import Resource, iso, pages, resource, tag_map
from patchwarden.core.rules.resources import RDS_INSTANCE
from patchwarden.errors import AdapterError


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Engine versions compared part by part (``8.0.36`` < ``8.0.40``; ``13.4`` < ``13.10``)."""
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.\-_]", version))


def _targets(rds: Any, engine: str, version: str) -> list[dict[str, Any]]:
    """The newer versions RDS offers for ``engine`` ``version``, oldest first."""
    found: dict[str, bool] = {}
    for described in pages(
        rds,
        "rds",
        "describe_db_engine_versions",
        "DBEngineVersions",
        Engine=engine,
        EngineVersion=version,
    ):
        for target in described.get("ValidUpgradeTarget", []):
            found[str(target["EngineVersion"])] = bool(target.get("IsMajorVersionUpgrade"))
    return [{"version": v, "major": found[v]} for v in sorted(found, key=version_key)]


def _pending(rds: Any) -> dict[str, list[dict[str, Any]]]:
    """Instance ARN → its pending maintenance actions (``first_seen`` is the server's)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for item in pages(
        rds, "rds", "describe_pending_maintenance_actions", "PendingMaintenanceActions"
    ):
        out[str(item["ResourceIdentifier"])] = [
            {
                "action": detail.get("Action"),
                "description": detail.get("Description"),
                "auto_applied_after": iso(detail.get("AutoAppliedAfterDate")),
                "forced_apply": iso(detail.get("ForcedApplyDate")),
                "current_apply": iso(detail.get("CurrentApplyDate")),
                "opt_in_status": detail.get("OptInStatus"),
            }
            for detail in item.get("PendingMaintenanceActionDetails", [])
        ]
    return out


def import_rds(clients: Any, now: datetime) -> list[Resource]:
    """The account's DB instances (``AWS::RDS::DBInstance``)."""
    rds = clients("rds")
    instances = list(pages(rds, "rds", "describe_db_instances", "DBInstances"))
    if not instances:
        return []
    pending: dict[str, list[dict[str, Any]]] | None
    try:
        pending = _pending(rds)
    except AdapterError as exc:  # refused or not offered: judged "no data", never "none"
        clients.warnings.append(f"rds: imported without pending maintenance: {exc}")
        pending = None
    targets: dict[tuple[str, str], list[dict[str, Any]] | None] = {}
    out = []
    for db in instances:
        engine, version = str(db.get("Engine", "")), str(db.get("EngineVersion", ""))
        if (engine, version) not in targets:
            try:
                targets[engine, version] = _targets(rds, engine, version)
            except AdapterError as exc:
                clients.warnings.append(f"rds: {engine} {version}: no upgrade targets: {exc}")
                targets[engine, version] = None
        arn = str(db["DBInstanceArn"])
        attributes: dict[str, Any] = {
            "engine": engine,
            "engine_version": version,
            "auto_minor_version_upgrade": bool(db.get("AutoMinorVersionUpgrade")),
            "preferred_maintenance_window": db.get("PreferredMaintenanceWindow"),
            "status": db.get("DBInstanceStatus"),
        }
        if targets[engine, version] is not None:
            attributes["upgrade_targets"] = targets[engine, version]
        if pending is not None:
            attributes["pending_maintenance"] = pending.get(arn, [])
        name = str(db.get("DBInstanceIdentifier") or arn)
        out.append(resource(arn, RDS_INSTANCE, name, tag_map(db.get("TagList")), attributes))
    return out
