"""Deleting images and running lifecycle policies over the image catalog.

The decisions are :func:`patchwarden.core.lifecycle.plan`; this applies them: DEPRECATE and
DISABLE change the image's status, DELETE removes the image from the local layout and its
manifests from every registry it was pushed to, then marks it DELETED (the record and its
history stay).  Every action joins the image's history with the policy and the reason.

A registry deletes manifests, not tags, and reproducible builds give two builds of the same
inputs the same digest: a manifest still used by another image that is not deleted stays
in that registry (the deletion says so).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from patchwarden.core.imagebuild import IN_PROGRESS, Distributed, ImageRecord, ImageStatus
from patchwarden.core.lifecycle import (
    LifecycleAction,
    LifecycleImage,
    LifecyclePolicy,
    PlannedAction,
    plan,
)
from patchwarden.errors import InputError, PatchwardenError
from patchwarden.ports import ImageCatalog


class ImageRemover(Protocol):
    """Removes an image's copies: from its local layout, and a manifest from a registry."""

    def remove_local(self, record: ImageRecord) -> None: ...

    def remove_remote(self, target: Distributed) -> str | None:
        """Delete ``target.digest`` from ``target.destination``; the digest deleted, or
        ``None`` when the registry no longer had it."""
        ...


@dataclass(frozen=True)
class Deletion:
    """What deleting one image did."""

    record: ImageRecord
    removed: tuple[str, ...]
    """``destination@digest`` deleted from registries."""
    kept: tuple[str, ...]
    """``destination@digest`` kept, and why."""


STATUS_OF = {
    LifecycleAction.DEPRECATE: ImageStatus.DEPRECATED,
    LifecycleAction.DISABLE: ImageStatus.DISABLED,
    LifecycleAction.DELETE: ImageStatus.DELETED,
}


def delete_image(
    record: ImageRecord,
    catalog: ImageCatalog,
    remover: ImageRemover,
    now: datetime,
    *,
    actor: str = "",
    reason: str = "deleted",
    registries: bool = True,
) -> Deletion:
    """Delete ``record``'s image (locally, and with ``registries`` from every registry it
    was pushed to); the record ends DELETED.  A build still running cannot be deleted."""
    if record.status in IN_PROGRESS:
        raise InputError(
            f"image {record.name} {record.version} is {record.status.value}: "
            "a build still running cannot be deleted"
        )
    if record.status is ImageStatus.DELETED:
        raise InputError(f"image {record.name} {record.version} is already DELETED")
    removed: list[str] = []
    kept: list[str] = []
    if registries:
        others = [
            r
            for r in catalog.images()
            if r.key != record.key and r.status is not ImageStatus.DELETED
        ]
        for target in record.distributed:
            where = f"{target.destination}@{target.digest}"
            users = [
                f"{r.name} {r.version}"
                for r in others
                for d in r.distributed
                if d.destination == target.destination and d.digest == target.digest
            ]
            if users:
                kept.append(f"{where} (also image {', '.join(users)})")
                continue
            try:
                gone = remover.remove_remote(target)
            except PatchwardenError as exc:
                raise PatchwardenError(
                    f"image {record.name} {record.version}: {target.destination}: {exc}"
                ) from None
            (removed if gone else kept).append(where if gone else f"{where} (not there)")
    remover.remove_local(record)
    note = "; ".join(
        [f"removed {', '.join(removed)}"] * bool(removed) + [f"kept {', '.join(kept)}"] * bool(kept)
    )
    final = record.moved(ImageStatus.DELETED, now, f"{reason}{': ' + note if note else ''}", actor)
    catalog.save(final)
    return Deletion(final, tuple(removed), tuple(kept))


def run_lifecycle(
    policy: LifecyclePolicy,
    catalog: ImageCatalog,
    remover: ImageRemover,
    now: datetime,
    *,
    dry_run: bool = False,
    actor: str = "",
    on_action: Callable[[PlannedAction], None] | None = None,
) -> list[PlannedAction]:
    """Plan ``policy`` over the catalog at ``now`` and (unless ``dry_run``) apply it; the
    actions planned, in (name, version) order."""
    records = {r.key: r for r in catalog.images()}
    images = [
        LifecycleImage(r.name, r.version, r.status.value, r.created, r.labels)
        for r in records.values()
    ]
    planned = plan(policy, images, now)
    if dry_run:
        return planned
    for action in planned:
        record = records[(action.image.name, str(action.image.version))]
        why = f"lifecycle policy {policy.name}: {action.reason}"
        if action.action is LifecycleAction.DELETE:
            delete_image(record, catalog, remover, now, actor=actor, reason=why)
        else:
            catalog.save(record.moved(STATUS_OF[action.action], now, why, actor))
        if on_action is not None:
            on_action(action)
    return planned


def find_image(catalog: ImageCatalog, name: str, version: str) -> ImageRecord:
    """The image ``name`` ``version`` (``x.y.z/build``; or a selector such as ``1.x.x`` or
    ``1.0.0``: its newest build), or an InputError saying what exists."""
    from patchwarden.core.semver import ImageVersion, VersionSelector, newest

    records = catalog.images(name)
    if not records:
        raise InputError(f"no image named {name!r} (patchwarden image list shows them)")
    try:
        exact = ImageVersion.parse(version)
    except ValueError:
        exact = None
    if exact is not None:
        found = catalog.get(name, str(exact))
    else:
        try:
            selector = VersionSelector.parse(version)
        except ValueError as exc:
            raise InputError(f"version {version!r}: {exc}") from None
        chosen = newest(selector, [r.version for r in records])
        found = next((r for r in records if r.version == chosen), None)
    if found is None:
        known = ", ".join(str(r.version) for r in records[-10:])
        raise InputError(f"no image {name} {version} (builds: {known})")
    return found
