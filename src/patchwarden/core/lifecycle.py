"""EC2 Image Builder lifecycle policies (reference §11), pure: which images a policy
deprecates, disables or deletes now (:func:`plan`).

Differences from AWS, on purpose:

- selection by recipe takes a version selector with ``x`` wildcards (``1.x.x``), so images
  of newer recipe versions stay covered (AWS users complain that a policy tied to one recipe
  version misses them, reference §13);
- only container images (``CONTAINER_IMAGE``) exist here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from patchwarden.core.semver import ImageVersion, VersionSelector

COUNTED_STATUSES = ("AVAILABLE", "DEPRECATED", "DISABLED")
"""The only statuses a policy counts and touches."""
NON_FINAL_STATUSES = ("PENDING", "CREATING", "BUILDING", "TESTING", "DISTRIBUTING", "INTEGRATING")
"""Images still in the making: never counted, never touched."""
IMAGE_STATUSES = (*NON_FINAL_STATUSES, *COUNTED_STATUSES, "DELETED", "FAILED", "CANCELLED")

UNIT_DAYS = {"DAYS": 1, "WEEKS": 7, "MONTHS": 30, "YEARS": 365}
"""An AGE filter's units in days: a month is 30 days, a year 365 days."""
FILTER_TYPES = ("AGE", "COUNT")


@dataclass(frozen=True)
class LifecycleImage:
    """An image as a lifecycle policy sees it."""

    name: str
    """The image name (its recipe's name)."""
    version: ImageVersion
    status: str
    """AVAILABLE, DEPRECATED, DISABLED, DELETED, FAILED, CANCELLED, PENDING, BUILDING,
    TESTING, DISTRIBUTING."""
    created: datetime
    tags: tuple[tuple[str, str], ...] = ()


class LifecycleAction(StrEnum):
    """A policy detail's ``action.type``, least severe first."""

    DEPRECATE = "DEPRECATE"
    DISABLE = "DISABLE"
    DELETE = "DELETE"

    @property
    def severity(self) -> int:
        """DEPRECATE 1 < DISABLE 2 < DELETE 3 (the most severe wins)."""
        return _SEVERITY[self]

    @property
    def applies_to(self) -> tuple[str, ...]:
        """The statuses this action changes: DEPRECATE only AVAILABLE images; DISABLE
        AVAILABLE or DEPRECATED; DELETE AVAILABLE, DEPRECATED or DISABLED."""
        return COUNTED_STATUSES[: _SEVERITY[self]]


_SEVERITY = {LifecycleAction.DEPRECATE: 1, LifecycleAction.DISABLE: 2, LifecycleAction.DELETE: 3}


@dataclass(frozen=True)
class PolicyDetail:
    """One ``policyDetails`` entry: an action and the filter choosing its images."""

    action: LifecycleAction
    filter_type: str
    """``AGE`` or ``COUNT``."""
    value: int
    """AGE: 1..1000 units; COUNT: 1..1000 images to keep."""
    unit: str = ""
    """AGE: DAYS, WEEKS, MONTHS (30 days) or YEARS (365 days)."""
    retain_at_least: int | None = None
    """AGE only, 1..10: the newest N images of each name are kept whatever their age."""
    exclude_tags: tuple[tuple[str, str], ...] = ()
    """``exclusionRules.tagMap``: an image with any of these tag=value is never touched by
    this detail (it still counts among the newest of its name)."""


@dataclass(frozen=True)
class ResourceSelection:
    """Which images a policy covers: by recipe (name + version selector) or by tags."""

    recipes: tuple[tuple[str, VersionSelector], ...] = ()
    """(recipe name, semantic version selector); ``1.x.x`` covers images of every 1.* recipe
    version, including versions made after the policy."""
    tag_map: tuple[tuple[str, str], ...] = ()
    """An image with any of these tag=value pairs."""

    def selects(self, image: LifecycleImage) -> bool:
        """Whether ``image`` is covered."""
        if any(name == image.name and sel.matches(image.version) for name, sel in self.recipes):
            return True
        return any(pair in image.tags for pair in self.tag_map)


@dataclass(frozen=True)
class LifecyclePolicy:
    """A lifecycle policy: 1..3 details (at most one per action) over a selection."""

    name: str
    details: tuple[PolicyDetail, ...]
    selection: ResourceSelection
    enabled: bool = True
    description: str = ""
    resource_type: str = "CONTAINER_IMAGE"


@dataclass(frozen=True)
class PlannedAction:
    """What a policy does to one image now, and why."""

    image: LifecycleImage
    action: LifecycleAction
    reason: str
    """``older than 30 days (created 2026-10-01)``, ``beyond the newest 3 of web-base``."""


def _age(detail: PolicyDetail) -> timedelta:
    if detail.unit not in UNIT_DAYS:
        raise ValueError(f"unit must be one of {', '.join(UNIT_DAYS)}, got {detail.unit!r}")
    return timedelta(days=detail.value * UNIT_DAYS[detail.unit])


def _unit_words(detail: PolicyDetail) -> str:
    unit = detail.unit.lower()
    return f"{detail.value} {unit[:-1] if detail.value == 1 else unit}"


def _reason(detail: PolicyDetail, image: LifecycleImage, rank: int, now: datetime) -> str | None:
    """Why ``detail`` chooses ``image`` (the ``rank``-th newest of its name, 0 = newest),
    or None when it does not."""
    if detail.filter_type == "COUNT":
        if rank < detail.value:
            return None
        return f"beyond the newest {detail.value} of {image.name}"
    if detail.filter_type != "AGE":
        raise ValueError(f"filter type must be AGE or COUNT, got {detail.filter_type!r}")
    if now - image.created <= _age(detail) or rank < (detail.retain_at_least or 0):
        return None
    return f"older than {_unit_words(detail)} (created {image.created.date().isoformat()})"


def plan(
    policy: LifecyclePolicy, images: Iterable[LifecycleImage], now: datetime
) -> list[PlannedAction]:
    """The actions ``policy`` takes on ``images`` at ``now``, in (name, version) order.

    - A disabled policy plans nothing; only images its selection covers are considered.
    - Only AVAILABLE, DEPRECATED and DISABLED images are counted and touched: images still
      in the making (PENDING, BUILDING, TESTING, DISTRIBUTING…), DELETED images and
      FAILED or CANCELLED builds are neither counted nor touched.
    - Images are counted per image name, newest first by (semantic version, build) — not by
      creation time.  COUNT n: every image after the newest n is chosen; AGE: every image
      older than value * unit (``now - created`` strictly greater; a month is 30 days, a
      year 365 days), except the newest ``retain_at_least`` of its name.
    - An image with one of a detail's ``exclude_tags`` is not touched by that detail.
    - An action applies only where it changes something: DEPRECATE only to AVAILABLE images,
      DISABLE to AVAILABLE or DEPRECATED, DELETE to AVAILABLE, DEPRECATED or DISABLED.
    - When several details choose an image, the most severe action wins (DELETE > DISABLE >
      DEPRECATE): one PlannedAction per image.

    ``now`` and the images' ``created`` must be alike (both aware, or both naive).
    """
    if not policy.enabled:
        return []
    by_name: dict[str, list[LifecycleImage]] = defaultdict(list)
    for image in images:
        if image.status in COUNTED_STATUSES and policy.selection.selects(image):
            by_name[image.name].append(image)
    planned: list[PlannedAction] = []
    for name in sorted(by_name):
        newest_first = sorted(by_name[name], key=lambda i: i.version, reverse=True)
        for rank, image in enumerate(newest_first):
            best: PlannedAction | None = None
            for detail in policy.details:
                if image.status not in detail.action.applies_to:
                    continue
                if any(pair in image.tags for pair in detail.exclude_tags):
                    continue
                reason = _reason(detail, image, rank, now)
                if reason is None:
                    continue
                if best is None or detail.action.severity > best.action.severity:
                    best = PlannedAction(image, detail.action, reason)
            if best is not None:
                planned.append(best)
    planned.sort(key=lambda p: (p.image.name, p.image.version))
    return planned
