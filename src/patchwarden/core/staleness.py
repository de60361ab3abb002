"""Stale golden images, the rebuilds they call for, and the image tree — pure.

An AVAILABLE image is **stale** when something it was made from has moved on since it was
built (:func:`staleness`); each reason is one line:

(a) ``parent updated: web-base 1.0.0/3 is newer than 1.0.0/2`` — its parent image has a
    newer AVAILABLE version that the recipe's parent selector matches (:func:`parent_update`);
(b) ``zlib1g 1:1.2.13.dfsg-1 → 1:1.2.14-1 in the recipe's mirrors`` — the package sources
    the image was bootstrapped from offer a newer version of a package it carries, by dpkg's
    ordering (:func:`package_updates`);
(c) ``fix for CVE-2099-0002 in zlib1g 1:9.9.9-1 (HIGH)`` — the vulnerability database knows
    a fixed version for one of its ACTIVE findings (:func:`fix_reasons`).

What the sources offer and what the database says are gathered by
:mod:`patchwarden.pipeline.image_staleness`; here they are plain values.

:func:`rebuild_decision` is a pipeline's ``rebuildOnFix`` (:class:`RebuildOnFix`): rebuild
on a fix at or above its severity — or, for a recipe built on another image, on a parent
update ("a child image rebuilds after its parent") — unless a build of the pipeline is in
progress, the cool-down since its last build start has not passed, or its builds per UTC
day are used up.

:func:`image_tree` arranges the catalog by ancestry (roots are the bootstrap and external
parents) and :func:`render_tree` / :func:`tree_json` show it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from patchwarden.core.imagebuild import (
    IN_PROGRESS,
    ImageFix,
    ImagePackage,
    ImageRecord,
    ImageStatus,
    parent_key,
)
from patchwarden.core.recipe import RebuildOnFix
from patchwarden.core.semver import ImageVersion, VersionSelector, newest
from patchwarden.core.versions import COMPARATORS
from patchwarden.core.vuln import Severity
from patchwarden.errors import InputError


class StaleKind(StrEnum):
    """What moved on."""

    PARENT = "parent"
    PACKAGE = "package"
    FIX = "fix"


@dataclass(frozen=True)
class StaleReason:
    """One reason an image is stale (``text`` is the line shown and recorded as trigger)."""

    kind: StaleKind
    text: str
    severity: Severity | None = None
    """The finding's severity, for a fix."""


@dataclass(frozen=True)
class Staleness:
    """Whether one image is stale, and why (``warnings``: what could not be checked)."""

    image: tuple[str, str]
    reasons: tuple[StaleReason, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def stale(self) -> bool:
        """Any reason at all."""
        return bool(self.reasons)

    @property
    def first(self) -> str:
        """The first reason (``""`` when not stale)."""
        return self.reasons[0].text if self.reasons else ""


@dataclass(frozen=True)
class OfferedVersions:
    """What an image's package sources offer: the newest version per ``(name, arch)``, and
    one line per index that could not be read."""

    versions: Mapping[tuple[str, str], str]
    warnings: tuple[str, ...] = ()


def parent_update(
    record: ImageRecord, selector: VersionSelector, candidates: Iterable[ImageRecord]
) -> StaleReason | None:
    """(a): the newest AVAILABLE image of the parent's name that ``selector`` matches, when
    it is newer than the parent ``record`` was built on."""
    key = parent_key(record)
    if key is None:
        return None
    name, version = key
    built_on = ImageVersion.parse(version)
    available = [
        r.version for r in candidates if r.name == name and r.status is ImageStatus.AVAILABLE
    ]
    best = newest(selector, available)
    if best is None or best <= built_on:
        return None
    return StaleReason(StaleKind.PARENT, f"parent updated: {name} {best} is newer than {built_on}")


def package_updates(
    packages: Iterable[ImagePackage],
    offered: Mapping[tuple[str, str], str],
    where: str = "the recipe's mirrors",
    scheme: str = "deb",
) -> list[StaleReason]:
    """(b): one reason per package of the image for which ``offered`` (the newest version
    per ``(name, arch)`` in its sources) is newer.  Malformed versions are skipped."""
    compare = COMPARATORS[scheme]
    reasons = []
    for package in packages:
        newer = offered.get((package.name, package.arch))
        if newer is None:
            continue
        try:
            if compare(newer, package.version) <= 0:
                continue
        except InputError:
            continue
        reasons.append(
            StaleReason(StaleKind.PACKAGE, f"{package.name} {package.version} → {newer} in {where}")
        )
    return reasons


def fix_reasons(fixes: Iterable[ImageFix]) -> list[StaleReason]:
    """(c): one reason per fixable finding, the most severe first."""
    ordered = sorted(fixes, key=lambda f: (-f.severity.rank, f.vulnerability_id, f.package))
    return [
        StaleReason(
            StaleKind.FIX,
            f"fix for {f.vulnerability_id} in {f.package} {f.fixed} ({f.severity.value})",
            f.severity,
        )
        for f in ordered
    ]


def staleness(
    record: ImageRecord,
    *,
    parent: StaleReason | None = None,
    packages: Sequence[StaleReason] = (),
    fixes: Sequence[StaleReason] = (),
    warnings: Sequence[str] = (),
) -> Staleness:
    """The staleness of ``record`` from its reasons (fixes first, then the parent, then
    packages); an image that is not AVAILABLE is never stale."""
    if record.status is not ImageStatus.AVAILABLE:
        return Staleness(record.key)
    reasons = (*fixes, *([parent] if parent else []), *packages)
    return Staleness(record.key, tuple(reasons), tuple(warnings))


@dataclass(frozen=True)
class RebuildDecision:
    """Whether rebuildOnFix starts a build now: ``trigger`` when it does; ``skipped`` says
    why not when a reason qualifies but a limit holds (both empty: nothing to do)."""

    start: bool
    trigger: str = ""
    skipped: str = ""


def qualifying(
    policy: RebuildOnFix, reasons: Iterable[StaleReason], *, child: bool
) -> list[StaleReason]:
    """The reasons rebuildOnFix acts on: fixes at or above its severity; parent updates when
    the recipe's parent is another image (``child``)."""
    return [
        r
        for r in reasons
        if (
            r.kind is StaleKind.FIX
            and r.severity is not None
            and r.severity.rank >= policy.severity.rank
        )
        or (r.kind is StaleKind.PARENT and child)
    ]


def rebuild_decision(
    policy: RebuildOnFix,
    reasons: Iterable[StaleReason],
    *,
    child: bool,
    starts: Sequence[datetime],
    building: bool,
    now: datetime,
    last_trigger: str = "",
) -> RebuildDecision:
    """rebuildOnFix for one pipeline: ``reasons`` are its newest AVAILABLE image's,
    ``starts`` when each of its builds started, ``building`` whether one is in progress,
    ``last_trigger`` the trigger of that newest image (a rebuild for a reason that image
    was itself built for did not help: it is not tried again)."""
    due = qualifying(policy, reasons, child=child)
    due = [r for r in due if r.text != last_trigger]
    if not due:
        return RebuildDecision(False)
    trigger = due[0].text
    if building:
        return RebuildDecision(False, skipped="a build of the pipeline is in progress")
    last = max(starts, default=None)
    cool_down = timedelta(minutes=policy.cool_down_minutes)
    if last is not None and now - last < cool_down:
        left = cool_down - (now - last)
        return RebuildDecision(
            False,
            skipped=f"cool-down: the last build started {_minutes(now - last)} ago "
            f"(coolDownMinutes {policy.cool_down_minutes}; {_minutes(left)} left)",
        )
    today = now.astimezone(UTC).date()
    count = sum(1 for s in starts if s.astimezone(UTC).date() == today)
    if count >= policy.max_builds_per_day:
        return RebuildDecision(
            False,
            skipped=f"{count} build{'' if count == 1 else 's'} started today (UTC) "
            f"(maxBuildsPerDay {policy.max_builds_per_day})",
        )
    return RebuildDecision(True, trigger=trigger)


def _minutes(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    return f"{minutes} min"


@dataclass(frozen=True)
class TreeNode:
    """An image and the images built on it."""

    record: ImageRecord
    children: tuple[TreeNode, ...] = ()


@dataclass(frozen=True)
class TreeRoot:
    """A parent that is no image of the catalog (``bootstrap bookworm (minbase)``, an
    external reference, or a parent image no longer in the catalog) and what was built on
    it."""

    parent: str
    images: tuple[TreeNode, ...]


def image_tree(
    records: Iterable[ImageRecord], name: str | None = None, *, deleted: bool = False
) -> tuple[TreeRoot, ...]:
    """The catalog by ancestry: roots by parent text, images by name then version.  With
    ``name``, only the images of that name, their ancestors and their descendants; DELETED
    images only with ``deleted``."""
    kept = [r for r in records if deleted or r.status is not ImageStatus.DELETED]
    by_key = {r.key: r for r in kept}
    children: dict[tuple[str, str], list[ImageRecord]] = {}
    roots: dict[str, list[ImageRecord]] = {}
    for record in kept:
        key = parent_key(record)
        if key is not None and key in by_key and key != record.key:
            children.setdefault(key, []).append(record)
        else:
            label = record.parent or "unknown parent"
            if key is not None:
                label = f"{key[0]} {key[1]} (not in the catalog)"
            roots.setdefault(label, []).append(record)
    wanted: set[tuple[str, str]] | None = None
    if name is not None:
        wanted = set()
        for record in kept:
            if record.name != name:
                continue
            wanted |= _descendants(record.key, children)
            key = parent_key(record)
            seen = {record.key}
            while key is not None and key in by_key and key not in seen:
                seen.add(key)
                wanted.add(key)
                key = parent_key(by_key[key])

    def node(record: ImageRecord, path: frozenset[tuple[str, str]]) -> TreeNode:
        below = [
            c
            for c in _ordered(children.get(record.key, []))
            if c.key not in path and (wanted is None or c.key in wanted)
        ]
        return TreeNode(record, tuple(node(c, path | {c.key}) for c in below))

    found = []
    for label in sorted(roots):
        images = [r for r in _ordered(roots[label]) if wanted is None or r.key in wanted]
        if images:
            found.append(TreeRoot(label, tuple(node(r, frozenset({r.key})) for r in images)))
    return tuple(found)


def tree_keys(roots: Iterable[TreeRoot]) -> Iterator[tuple[str, str]]:
    """The key of every image in the tree."""
    todo = [n for r in roots for n in r.images]
    while todo:
        node = todo.pop()
        yield node.record.key
        todo.extend(node.children)


def _ordered(records: Iterable[ImageRecord]) -> list[ImageRecord]:
    return sorted(records, key=lambda r: (r.name, r.version))


def _descendants(
    key: tuple[str, str], children: Mapping[tuple[str, str], Sequence[ImageRecord]]
) -> set[tuple[str, str]]:
    found = {key}
    todo = [key]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child.key not in found:
                found.add(child.key)
                todo.append(child.key)
    return found


MAX_REASONS = 3
"""A tree line names at most this many reasons (``-f json`` has them all)."""


def _line(record: ImageRecord, stale: Staleness | None) -> str:
    parts = [
        f"{record.name} {record.version}",
        record.status.value,
        record.digest[:19] or "-",
        record.created.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
        record.trigger or "-",
    ]
    if stale is not None and stale.stale:
        texts = [r.text for r in stale.reasons]
        more = len(texts) - MAX_REASONS
        parts.append(
            "STALE: " + "; ".join(texts[:MAX_REASONS]) + (f" (and {more} more)" if more > 0 else "")
        )
    return "  ".join(parts)


def render_tree(
    roots: Sequence[TreeRoot], stale: Mapping[tuple[str, str], Staleness] | None = None
) -> list[str]:
    """The tree as lines: each root's parent, then its images indented two spaces per
    generation (name version, status, digest, created, trigger, ``STALE: …``)."""
    marks = stale or {}
    lines: list[str] = []

    def walk(node: TreeNode, depth: int) -> None:
        lines.append("  " * depth + _line(node.record, marks.get(node.record.key)))
        for child in node.children:
            walk(child, depth + 1)

    for root in roots:
        lines.append(root.parent)
        for image in root.images:
            walk(image, 1)
    return lines


def tree_json(
    roots: Sequence[TreeRoot], stale: Mapping[tuple[str, str], Staleness] | None = None
) -> list[dict[str, Any]]:
    """The tree as JSON: ``[{parent, images: [{name, version, …, stale, reasons,
    warnings, children}]}]``."""
    marks = stale or {}

    def view(node: TreeNode) -> dict[str, Any]:
        record = node.record
        found = marks.get(record.key)
        return {
            "name": record.name,
            "version": str(record.version),
            "status": record.status.value,
            "digest": record.digest,
            "dateCreated": record.created.isoformat(),
            "trigger": record.trigger,
            "pipeline": record.pipeline,
            "stale": bool(found and found.stale),
            "reasons": [
                {"kind": r.kind.value, "text": r.text} for r in (found.reasons if found else ())
            ],
            "warnings": list(found.warnings) if found else [],
            "children": [view(c) for c in node.children],
        }

    return [{"parent": r.parent, "images": [view(i) for i in r.images]} for r in roots]


def starts_of(records: Iterable[ImageRecord], pipeline: str) -> list[datetime]:
    """When each build of ``pipeline`` started (its records' creation times)."""
    return [r.created for r in records if r.pipeline == pipeline]


def building(records: Iterable[ImageRecord], pipeline: str) -> bool:
    """Whether a build of ``pipeline`` is in progress."""
    return any(r.pipeline == pipeline and r.status in IN_PROGRESS for r in records)


def newest_available(
    records: Iterable[ImageRecord], name: str, pipeline: str | None = None
) -> ImageRecord | None:
    """The newest AVAILABLE image named ``name`` (of ``pipeline`` when given)."""
    found = [
        r
        for r in records
        if r.name == name
        and r.status is ImageStatus.AVAILABLE
        and (pipeline is None or r.pipeline == pipeline)
    ]
    return max(found, key=lambda r: r.version, default=None)
