"""One baseline snapshot per window execution.

Every RunPatchBaseline command of an execution carries ``SnapshotId`` (the execution id
unless the task gives its own), and every node is judged by the baseline its (patch
group, operating system) resolved to the *first* time the execution needed it — a baseline
edited between two waves does not change what later waves install.  Resolving once per
(patch group, OS) rather than once per node is also what keeps a 10,000-node fan-out cheap.
Commands with a ``BaselineOverride`` pin per node when they are sent instead.
"""

from __future__ import annotations

from patchwarden.pipeline.fleet.baseline_resolution import resolve_baseline
from patchwarden.pipeline.fleet.ports import BaselineSource
from patchwarden.pipeline.windows.ports import SnapshotStore
from patchwarden.pipeline.windows.records import SnapshotInvocation


def key(invocation: SnapshotInvocation) -> str:
    """The snapshot's key of an invocation's node: ``"patch group|OS"``."""
    return f"{invocation.patch_group or ''}|{invocation.operating_system}"


def pin(
    snapshots: SnapshotStore,
    baselines: BaselineSource,
    execution_id: str,
    command_id: str,
    snapshot_id: str,
) -> None:
    """Give the command the snapshot id and each of its invocations the execution's
    baseline for its node (resolved now for a (patch group, OS) not seen before)."""
    snapshots.set_snapshot_id(command_id, snapshot_id)
    before = snapshots.baselines(execution_id)
    snapshot = dict(before)
    for invocation in snapshots.invocations(command_id):
        found = key(invocation)
        if found not in snapshot:
            document, source = resolve_baseline(
                baselines, invocation.operating_system, invocation.patch_group, None
            )
            snapshot[found] = [document, source]
        document, source = snapshot[found]
        snapshots.pin(invocation.id, document, source)
    if snapshot != before:
        snapshots.set_baselines(execution_id, snapshot)
