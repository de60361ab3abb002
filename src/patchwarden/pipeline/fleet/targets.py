"""Command targets (reference §6): ``InstanceIds``, or ``Targets`` whose keys are AND-ed and
whose values are OR-ed (``InstanceIds=*`` selects every node)."""

from __future__ import annotations

from collections.abc import Sequence

from patchwarden.pipeline.fleet.ports import NodeDirectory
from patchwarden.pipeline.fleet.records import TargetNode, TargetSelection

Target = tuple[str, Sequence[str]]
"""(Key, Values): ``InstanceIds``, ``tag:<K>``, ``tag-key`` or ``PatchGroup``."""


def selection(instance_ids: Sequence[str], targets: Sequence[Target]) -> TargetSelection:
    """What ``InstanceIds`` or ``Targets`` select (neither: every active node)."""
    if instance_ids:
        return TargetSelection(ids=tuple(instance_ids))
    ids: list[str] = []
    keys: list[str] = []
    tags: dict[str, list[str]] = {}
    groups: list[str] = []
    for key, values in targets:
        if key == "InstanceIds":
            if list(values) != ["*"]:
                ids.extend(values)
        elif key == "tag-key":
            keys.extend(values)
        elif key == "PatchGroup":
            groups.extend(values)
        else:
            tags.setdefault(key.removeprefix("tag:"), []).extend(values)
    return TargetSelection(
        ids=tuple(ids),
        tag_keys=tuple(keys),
        tags={key: tuple(values) for key, values in tags.items()},
        patch_groups=tuple(groups),
    )


def resolve_targets(
    nodes: NodeDirectory, instance_ids: Sequence[str], targets: Sequence[Target]
) -> list[TargetNode]:
    """The active nodes ``InstanceIds`` or ``Targets`` select now, by id."""
    return nodes.targets(selection(instance_ids, targets))
