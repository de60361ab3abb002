"""The server's vulnerability assessment of a node's uploaded inventory (Inspector's
agent-based mode: every inventory change rescans the node).

Called inside the upload request, before the change-triggered rules run, so
``no-active-findings`` judges the fresh findings.  No suppressions apply on the server yet.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from patchwarden.adapters.storage.findings import (
    NodeAssessmentRow,
    NodeFindingState,
    record_assessment,
)
from patchwarden.adapters.storage.inventories import stored_inventory
from patchwarden.adapters.storage.tables import Node
from patchwarden.adapters.vulndb import SqliteVulnDb
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.assess import assess
from patchwarden.server.settings import ServerSettings

log = logging.getLogger("patchwarden.server.vulns")


def assess_node(
    session: Session, node: Node, at: datetime, settings: ServerSettings, *, changed: bool = True
) -> bool:
    """Assess ``node``'s stored inventory and store its findings; False when it was not
    assessed (no vulnerability database yet, no inventory, the database is unreadable, or
    nothing ``changed`` in the inventory since an assessment newer than the database)."""
    path = settings.vulndb_path
    try:
        db_time = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:  # no database yet: nothing to assess against
        return False
    if not changed:
        last = session.get(NodeAssessmentRow, node.id)
        if last is not None and last.assessed_at >= db_time:
            return False
    inventory = stored_inventory(session, node)
    if inventory is None:
        return False
    store = SqliteVulnDb(path)
    try:
        result = assess(
            inventory,
            at,
            store=store,
            state=NodeFindingState(session),
            suppressions=(),
            node_names=(node.id, node.hostname),
        )
    except PatchwardenError as exc:  # e.g. a database of another schema version
        log.warning("vulnerability assessment of %s failed: %s", node.id, exc)
        return False
    finally:
        store.close()
    record_assessment(session, node.id, at, result.assessed, result.warnings)
    return True
