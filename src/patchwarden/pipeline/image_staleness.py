"""Are golden images stale, and which rebuilds does that call for — the use cases over
:mod:`patchwarden.core.staleness` (which decides) and two ports defined here:

- :class:`PackageSources` — what a recipe's bootstrap mirrors offer now
  (:class:`patchwarden.adapters.image.mirrors.MirrorIndex`);
- an :class:`~patchwarden.ports.AdvisoryStore` — the vulnerability database the image's
  recorded package list is assessed against again (:func:`reassess`: no need to read the
  image, which may live only in a registry by now).

For an image built on another image, its packages came from the root ancestor's bootstrap:
:func:`root_bootstrap` walks the recipes (through the documents) up to it.  Records and
recipes are plain inputs, so the CLI (local catalog, documents from PATH) and the server
(its catalog and stored documents) share every rule; nothing here raises for a source that
cannot be read — it becomes a warning of the result.

- :func:`judge` — one image's :class:`~patchwarden.core.staleness.Staleness`;
- :func:`stale_trigger` — ``image build --if-stale``: the trigger of the build to run, or
  why there is nothing to do;
- :func:`plan_rebuilds` — the server's rebuildOnFix round: one decision per pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from patchwarden.core.imagebuild import (
    ImageFix,
    ImageRecord,
    active_counts,
    image_fixes,
    parent_key,
)
from patchwarden.core.model import InstalledPackage, Inventory, Package
from patchwarden.core.recipe import Bootstrap, ExternalImage, ImagePipeline, ImageSelector, Recipe
from patchwarden.core.semver import ImageVersion, VersionSelector
from patchwarden.core.staleness import (
    OfferedVersions,
    RebuildDecision,
    Staleness,
    StaleReason,
    building,
    fix_reasons,
    newest_available,
    package_updates,
    parent_update,
    rebuild_decision,
    staleness,
    starts_of,
)
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.assess import assess
from patchwarden.ports import AdvisoryStore

RecipeOf = Callable[[str, VersionSelector], Recipe | None]
"""The newest recipe ``name`` the selector matches (``None``: no such recipe)."""

SCHEMES = {"debian": "deb", "rhel": "rpm", "suse": "rpm", "alpine": "apk"}
"""The version scheme of an OS family (an image's recorded OS)."""


class PackageSources(Protocol):
    """What package archives offer now (the newest version per ``(name, arch)``)."""

    def offered(
        self,
        mirrors: Sequence[str],
        suite: str,
        architectures: Sequence[str],
        names: Collection[str] | None = None,
    ) -> OfferedVersions: ...


def root_bootstrap(
    record: ImageRecord, recipe: Recipe | None, recipe_of: RecipeOf
) -> Bootstrap | str:
    """The bootstrap the image's packages came from: its recipe's, or — built on another
    image — the root ancestor recipe's.  A string says why it is not known."""
    current = recipe
    key = parent_key(record)
    seen: set[str] = set()
    if current is None:
        if key is None:
            return f"no recipe {record.name} {record.version.semantic} among the documents"
        current = recipe_of(key[0], _exact(key[1]))
        if current is None:
            return f"no recipe {key[0]} {key[1].partition('/')[0]} among the documents"
    while True:
        parent = current.parent
        if isinstance(parent, Bootstrap):
            return parent
        if isinstance(parent, ExternalImage):
            return f"built on the external image {parent.description or parent.reference}"
        if current.name in seen:
            return f"the recipes' parents form a cycle at {current.name}"
        seen.add(current.name)
        # the first hop: the parent version the image was really built on, when recorded
        selector = parent.version
        if key is not None and key[0] == parent.name and current is recipe:
            selector = _exact(key[1])
        found = recipe_of(parent.name, selector)
        if found is None:
            return f"no recipe {parent.name}:{selector} among the documents"
        current = found


def _exact(version: str) -> VersionSelector:
    """The selector of exactly the semantic version of ``x.y.z/build``."""
    return VersionSelector.parse(str(ImageVersion.parse(version).semantic))


def reassess(
    record: ImageRecord, store: AdvisoryStore, now: datetime
) -> tuple[tuple[tuple[str, int], ...], tuple[ImageFix, ...]] | None:
    """The ACTIVE findings by severity and the fixable ones of the image's recorded package
    list against ``store`` (``None``: no package list or OS recorded)."""
    info = record.os_info
    if not record.packages or info is None:
        return None
    inventory = Inventory(
        os=info,
        hostname=record.name,
        root="/",
        scheme=SCHEMES.get(info.family, "deb"),
        installed=tuple(
            InstalledPackage(
                Package(p.name, p.arch, p.version, source_name=p.source_name or p.name)
            )
            for p in record.packages
        ),
        updates=(),
    )
    found = assess(inventory, now, store=store, node_names=(record.digest,))
    return active_counts(found.findings), image_fixes(found.findings)


@dataclass
class Judge:
    """What judging images needs: every record, the recipes, the package sources and the
    database (each optional: what is missing is not checked)."""

    records: Sequence[ImageRecord]
    now: datetime
    recipe_of: RecipeOf | None = None
    sources: PackageSources | None = None
    advisories: AdvisoryStore | None = None
    _offered: dict[tuple[tuple[str, ...], str, tuple[str, ...]], OfferedVersions] = field(
        default_factory=dict
    )

    def recipe(self, record: ImageRecord) -> Recipe | None:
        """The recipe version the image was built from (``None``: not among the documents)."""
        if self.recipe_of is None:
            return None
        found = self.recipe_of(record.name, _exact(str(record.version)))
        return found if found is not None and found.version == record.version.semantic else None

    def __call__(self, record: ImageRecord) -> Staleness:
        """The staleness of ``record``."""
        recipe = self.recipe(record)
        warnings: list[str] = []
        key = parent_key(record)
        parent = None
        if recipe is not None and isinstance(recipe.parent, ImageSelector):
            parent = parent_update(record, recipe.parent.version, self.records)
        elif recipe is None and key is not None:  # no documents: newer builds of that version
            parent = parent_update(record, _exact(key[1]), self.records)
        packages: list[StaleReason] = []
        if self.sources is not None and record.packages:
            packages, why = self._packages(record, recipe)
            warnings += why
        fixes = record.fixes
        if self.advisories is not None:
            try:
                again = reassess(record, self.advisories, self.now)
            except PatchwardenError as exc:
                warnings.append(f"vulnerability database: {exc}")
                again = None
            if again is not None:
                fixes = again[1]
        return staleness(
            record,
            parent=parent,
            packages=packages,
            fixes=fix_reasons(fixes),
            warnings=warnings,
        )

    def _packages(
        self, record: ImageRecord, recipe: Recipe | None
    ) -> tuple[list[StaleReason], list[str]]:
        assert self.sources is not None
        if self.recipe_of is None:
            return [], ["package sources: no documents to find the recipe's mirrors in"]
        root = root_bootstrap(record, recipe, self.recipe_of)
        if isinstance(root, str):
            return [], [f"package sources: {root}"]
        if not root.mirrors:
            return [], ["package sources: the bootstrap uses mmdebstrap's default mirror"]
        archs = tuple(sorted({p.arch for p in record.packages if p.arch != "all"}))
        if not archs and root.architecture:
            archs = (root.architecture,)
        cache = (root.mirrors, root.suite, archs)
        if cache not in self._offered:
            self._offered[cache] = self.sources.offered(root.mirrors, root.suite, archs)
        offered = self._offered[cache]
        where = (
            "the recipe's mirrors"
            if recipe is not None and recipe.parent is root
            else ("the root recipe's mirrors")
        )
        return package_updates(record.packages, offered.versions, where), [
            f"package sources: {w}" for w in offered.warnings
        ]


@dataclass(frozen=True)
class IfStale:
    """``image build --if-stale``: the ``trigger`` of the build to run, or (``None``) the
    ``message`` saying why there is nothing to do."""

    trigger: str | None
    message: str = ""
    staleness: Staleness | None = None


def stale_trigger(recipe: Recipe, pipeline: ImagePipeline | None, judge: Judge) -> IfStale:
    """Whether ``image build --if-stale`` builds: when there is no AVAILABLE image of the
    recipe (of the pipeline) yet, when the recipe resolves to a newer version than the
    newest image was built from, or when that image is stale."""
    newest = newest_available(judge.records, recipe.name, pipeline.name if pipeline else None)
    if newest is None:
        return IfStale(f"stale: no AVAILABLE image of {recipe.name} yet")
    if recipe.version > newest.version.semantic:
        return IfStale(f"dependency update: recipe {recipe.name} {recipe.version}")
    found = judge(newest)
    if not found.stale:
        return IfStale(None, f"{newest.name} {newest.version} is not stale: nothing to do", found)
    return IfStale(f"stale: {found.first}", staleness=found)


@dataclass(frozen=True)
class RebuildPlan:
    """rebuildOnFix's decision for one pipeline (``image``: its newest AVAILABLE image)."""

    pipeline: str
    image: ImageRecord
    decision: RebuildDecision


def plan_rebuilds(
    pipelines: Sequence[tuple[ImagePipeline, Recipe]],
    records: Sequence[ImageRecord],
    now: datetime,
) -> list[RebuildPlan]:
    """One plan per enabled pipeline with rebuildOnFix whose newest AVAILABLE image is stale
    by a fix at or above its severity or (a recipe built on another image) by a parent
    update.  The image's fixes are the recorded ones (the server's rescans keep them
    current); its pipeline's builds give the cool-down and the day's count."""
    plans = []
    for pipeline, recipe in pipelines:
        policy = pipeline.rebuild_on_fix
        if policy is None or not pipeline.enabled:
            continue
        newest = newest_available(records, recipe.name, pipeline.name)
        if newest is None:
            continue
        child = isinstance(recipe.parent, ImageSelector)
        parent = (
            parent_update(newest, recipe.parent.version, records)
            if isinstance(recipe.parent, ImageSelector)
            else None
        )
        found = staleness(newest, parent=parent, fixes=fix_reasons(newest.fixes))
        decision = rebuild_decision(
            policy,
            found.reasons,
            child=child,
            starts=starts_of(records, pipeline.name),
            building=building(records, pipeline.name),
            now=now,
            last_trigger=newest.trigger,
        )
        if decision.start or decision.skipped:
            plans.append(RebuildPlan(pipeline.name, newest, decision))
    return plans
