"""One baseline snapshot per window execution.

Every RunPatchBaseline command of an execution carries ``SnapshotId`` (the execution id
unless the task gives its own), and every node is judged by the baseline its (patch
group, operating system) resolved to the *first* time the execution needed it — a baseline
edited between two waves does not change what later waves install.  Resolving once per
(patch group, OS) rather than once per node is also what keeps a 10,000-node fan-out cheap.
Commands with a ``BaselineOverride`` pin per node through :func:`commands.send` instead.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.tables import Command, Invocation, Node, WindowExecution
from patchwarden.server.baselines import resolve


def _key(node: Node) -> str:
    return f"{node.patch_group or ''}|{node.operating_system}"


def pin(session: Session, execution: WindowExecution, cmd: Command, snapshot_id: str) -> None:
    """Give ``cmd`` the snapshot id and each of its invocations the execution's baseline."""
    cmd.parameters = {**cmd.parameters, "SnapshotId": snapshot_id}
    rows = session.execute(
        select(Invocation, Node)
        .join(Node, Node.id == Invocation.node_id)
        .where(Invocation.command_id == cmd.id)
    ).all()
    snapshot: dict[str, Any] = dict(execution.baselines or {})
    for inv, node in rows:
        key = _key(node)
        if key not in snapshot:
            document, source = resolve(session, node, None)
            snapshot[key] = [document, source]
        inv.baseline, inv.baseline_source = snapshot[key]
    if snapshot != execution.baselines:
        execution.baselines = snapshot
