"""Build a golden image from a recipe (EC2 Image Builder's image pipeline run, reference §11).

The stages and the statuses they give the image::

    PENDING       the build number is assigned (x.y.z/build)
    BUILDING      the parent becomes a root filesystem (mmdebstrap, or an unpacked image);
                  each component's build and validate phases run in it, in recipe order —
                  UpdateOS through the same apt/dnf adapters as a host, with the pipeline's
                  patch baseline if it names one; the package managers' downloads and logs
                  are removed; the root is packed as a one-layer OCI image (reproducible:
                  same inputs and SOURCE_DATE_EPOCH, same digest)
    TESTING       each component's test phase runs in a fresh copy of that root; the image
                  is scanned and judged by the pipeline's gate
    DISTRIBUTING  the image is pushed to every registry of the distribution configuration
    AVAILABLE

Any stage that fails ends the image FAILED with the reason (a failed test or gate is never
distributed); an interrupted build ends CANCELLED.  The catalog hears every change as it
happens, so a concurrent ``image list`` shows the build's progress.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from patchwarden.core.component import StepLog
from patchwarden.core.image import ImageContents
from patchwarden.core.imagebuild import (
    TRIGGER_MANUAL,
    USABLE_PARENTS,
    BuildStep,
    Distributed,
    ImageRecord,
    ImageStatus,
    active_counts,
    epoch_time,
    image_fixes,
    image_labels,
    image_packages,
    package_digest,
)
from patchwarden.core.recipe import (
    Bootstrap,
    BuildInputs,
    ContainerConfig,
    Distribution,
    ExternalImage,
    ImagePipeline,
    ImageSelector,
    Recipe,
    gate_failures,
    render_tag,
)
from patchwarden.core.semver import ImageVersion, newest
from patchwarden.errors import InputError, PatchwardenError
from patchwarden.pipeline.component_run import ActionRunner, run_component
from patchwarden.pipeline.image_scan import assess_image
from patchwarden.ports import AdvisoryStore, ImageCatalog, PackageManager, StateStore

BUILD_PHASES = ("build", "validate")
TEST_PHASES = ("test",)


class BuildTools(Protocol):
    """Root filesystems and OCI layouts (:class:`patchwarden.adapters.image.oci_build.OciTools`)."""

    def check(self, *tools: str) -> None: ...

    def bootstrap(self, spec: Bootstrap, root: Path, epoch: int) -> None: ...

    def fetch(self, reference: str, layout: Path, tag: str, *, tls_verify: bool = True) -> None: ...

    def unpack(self, layout: Path, tag: str, bundle: Path) -> Path: ...

    def pack(
        self,
        root: Path,
        layout: Path,
        tag: str,
        *,
        epoch: int,
        labels: Sequence[tuple[str, str]],
        config: ContainerConfig,
        architecture: str,
        work: Path,
    ) -> str: ...

    def remove(self, layout: Path, tag: str) -> None: ...

    def copy_tree(self, source: Path, target: Path) -> None: ...

    def clean(self, root: Path) -> int: ...

    def architecture(self, layout: Path | None = None, tag: str = "") -> str: ...

    def digest(self, layout: Path, tag: str) -> str: ...


class Pusher(Protocol):
    """Pushes an image of a layout to a registry (skopeo); the pushed manifest digest."""

    def __call__(
        self,
        layout: Path,
        tag: str,
        destination: str,
        *,
        tags: Sequence[str],
        tls_verify: bool,
        credentials_file: str,
    ) -> str: ...


@dataclass
class BuildDeps:
    """The adapters a build uses."""

    catalog: ImageCatalog
    tools: BuildTools
    actions: Callable[[str], ActionRunner]
    package_manager: Callable[[str], PackageManager]
    read_image: Callable[[str], ImageContents]
    advisories: Callable[[], AdvisoryStore | None]
    push: Pusher
    layouts: Path
    """Images live in ``layouts/<name>`` (an OCI layout per image name, tag ``x.y.z-build``)."""
    work: Path
    """Scratch space for root filesystems (removed after each build)."""
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    state: StateStore | None = None
    progress: Callable[[str], None] = lambda _line: None


@dataclass(frozen=True)
class BuildOptions:
    """Choices of one build."""

    epoch: int
    """SOURCE_DATE_EPOCH: file times are clamped to it and it is the image's creation time."""
    tests: bool | None = None
    """Override the pipeline's imageTestsEnabled (``None``: the pipeline's; default on)."""
    distribute: bool = True
    force_parent: bool = False
    """Build on a DEPRECATED parent image."""
    actor: str = ""
    trigger: str = TRIGGER_MANUAL
    """Why the build runs (recorded in the image): ``manual``, ``schedule``, ``stale: …``."""
    parent_image: tuple[str, str] | None = None
    """The parent image's key when the parent is given as a reference to it (a fleet build:
    the server resolved the parent and the builder fetches it from a registry)."""


class BuildFailed(PatchwardenError):
    """A stage failed: the image ends FAILED with this reason."""


class _Build:
    """One build in progress: the record, kept in the catalog as it changes."""

    def __init__(self, deps: BuildDeps, record: ImageRecord, actor: str) -> None:
        self.deps = deps
        self.record = record
        self.actor = actor
        deps.catalog.save(record)

    def move(self, status: ImageStatus, reason: str = "") -> None:
        self.record = self.record.moved(status, self.deps.clock(), reason, self.actor)
        self.deps.catalog.save(self.record)
        self.deps.progress(f"{status.value}{': ' + reason if reason else ''}")

    def update(self, **changes: object) -> None:
        self.record = replace(self.record, updated=self.deps.clock(), **changes)  # type: ignore[arg-type]
        self.deps.catalog.save(self.record)

    def step(self, step: BuildStep) -> None:
        self.update(steps=(*self.record.steps, step))
        where = f"{step.component} {step.phase}/{step.step}" if step.component else step.phase
        tail = f": {step.error}" if step.error else ""
        self.deps.progress(f"  {where} {step.action} {step.status} {step.duration:.1f}s{tail}")

    @contextmanager
    def stage(self, name: str, action: str) -> Iterator[None]:
        """A builder stage in the log (``bootstrap``, ``pack``, ``scan`` …)."""
        began = time.monotonic()
        try:
            yield
        except PatchwardenError as exc:
            self.step(
                BuildStep("", name, name, action, "Failed", 1, time.monotonic() - began, str(exc))
            )
            raise BuildFailed(f"{name}: {exc}") from None
        self.step(BuildStep("", name, name, action, "Success", 1, time.monotonic() - began))


def resolve_parent(catalog: ImageCatalog, parent: ImageSelector, *, force: bool) -> ImageRecord:
    """The newest AVAILABLE image matching ``parent`` (with ``force``: the newest AVAILABLE
    or DEPRECATED one)."""
    usable = {ImageStatus.AVAILABLE} if not force else USABLE_PARENTS
    records = [r for r in catalog.images(parent.name) if r.status in usable]
    version = newest(parent.version, [r.version for r in records])
    if version is None and not force:
        deprecated = [r for r in catalog.images(parent.name) if r.status in USABLE_PARENTS]
        found = newest(parent.version, [r.version for r in deprecated])
        if found is not None:
            raise InputError(
                f"parent image {parent.name} {found} is DEPRECATED: refused as a parent "
                "(build with --force-parent to use it anyway)"
            )
    if version is None:
        known = ", ".join(f"{r.version} {r.status.value}" for r in catalog.images(parent.name))
        raise InputError(
            f"parent image {parent.name}:{parent.version.text}: no AVAILABLE image matches"
            + (f" (images: {known})" if known else " (no image of that name was built)")
        )
    return next(r for r in records if r.version == version)


def build_image(inputs: BuildInputs, deps: BuildDeps, options: BuildOptions) -> ImageRecord:
    """Build ``inputs.recipe``; the final record (AVAILABLE, FAILED or CANCELLED)."""
    recipe = inputs.recipe
    pipeline = inputs.pipeline
    tools = deps.tools
    needed = ["umoci"]
    if isinstance(recipe.parent, Bootstrap):
        needed.append("mmdebstrap")
    if isinstance(recipe.parent, ExternalImage) or (
        options.distribute and inputs.distribution is not None
    ):
        needed.append("skopeo")
    tools.check(*needed)
    parent_record = (
        resolve_parent(deps.catalog, recipe.parent, force=options.force_parent)
        if isinstance(recipe.parent, ImageSelector)
        else None
    )
    semantic = str(recipe.version)
    version = ImageVersion(recipe.version, deps.catalog.next_build(recipe.name, semantic))
    layout = deps.layouts / recipe.name
    now = deps.clock()
    build = _Build(
        deps,
        ImageRecord(
            name=recipe.name,
            version=version,
            status=ImageStatus.PENDING,
            created=now,
            updated=now,
            pipeline=pipeline.name if pipeline else "",
            layout=str(layout),
            trigger=options.trigger,
            parent_image=parent_record.key if parent_record is not None else options.parent_image,
        ),
        options.actor,
    )
    build.move(ImageStatus.PENDING)
    work = deps.work / f"{recipe.name}-{version.tag}"
    try:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        _run_stages(build, inputs, options, parent_record, layout, work)
    except BuildFailed as exc:
        build.move(ImageStatus.FAILED, str(exc))
    except KeyboardInterrupt:
        build.move(ImageStatus.CANCELLED, "interrupted")
        raise
    except PatchwardenError as exc:  # refused before any stage: a bad parent, a tool
        build.move(ImageStatus.FAILED, str(exc))
    except Exception as exc:  # a defect: the record must not stay BUILDING
        build.move(ImageStatus.FAILED, f"internal error: {type(exc).__name__}: {exc}")
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return build.record


def _run_stages(
    build: _Build,
    inputs: BuildInputs,
    options: BuildOptions,
    parent_record: ImageRecord | None,
    layout: Path,
    work: Path,
) -> None:
    deps, tools, recipe, pipeline = build.deps, build.deps.tools, inputs.recipe, inputs.pipeline
    tag = build.record.version.tag
    build.move(ImageStatus.BUILDING)
    root, parent, parent_digest, architecture = _prepare_root(
        build, recipe, parent_record, work, options.epoch
    )
    build.update(parent=parent, parent_digest=parent_digest)
    _components(build, inputs, root, BUILD_PHASES)
    with build.stage("pack", "umoci"):
        removed = tools.clean(root)
        inventory = deps.package_manager(str(root)).collect()
        packages = inventory.installed
        packages_digest = package_digest(packages)
        labels = image_labels(
            recipe.name,
            str(recipe.version),
            parent_digest,
            packages_digest,
            recipe.labels,
            created=epoch_time(options.epoch),
        )
        digest = tools.pack(
            root,
            layout,
            tag,
            epoch=options.epoch,
            labels=labels,
            config=recipe.config,
            architecture=architecture,
            work=work,
        )
    build.update(
        digest=digest,
        labels=labels,
        package_digest=packages_digest,
        package_count=len(packages),
        packages=image_packages(packages),
        os_info=inventory.os,
    )
    deps.progress(f"  packed {digest} ({len(packages)} packages; {removed} volatile files removed)")
    tests = (
        options.tests
        if options.tests is not None
        else (pipeline.tests_enabled if pipeline else True)
    )
    scanning = pipeline.scanning_enabled if pipeline else True
    if tests or scanning:
        build.move(ImageStatus.TESTING)
    if tests and any(p.name in TEST_PHASES for _, c, _ in inputs.components for p in c.phases):
        copy = work / "test-root"
        copy.mkdir()
        with build.stage("test-copy", "cp"):
            tools.copy_tree(root, copy)
        _components(build, inputs, copy, TEST_PHASES)
        shutil.rmtree(copy, ignore_errors=True)
    if scanning:
        _scan(build, pipeline, f"oci:{layout}:{tag}")
    if options.distribute and inputs.distribution is not None:
        build.move(ImageStatus.DISTRIBUTING)
        _distribute(build, inputs.distribution, layout, tag)
    build.move(ImageStatus.AVAILABLE)


def _prepare_root(
    build: _Build, recipe: Recipe, parent_record: ImageRecord | None, work: Path, epoch: int
) -> tuple[Path, str, str, str]:
    """(root, parent description, parent digest, architecture)."""
    tools = build.deps.tools
    parent = recipe.parent
    if isinstance(parent, Bootstrap):
        root = work / "rootfs"
        root.mkdir()
        with build.stage("bootstrap", "mmdebstrap"):
            tools.bootstrap(parent, root, epoch)
        return (
            root,
            f"bootstrap {parent.suite} ({parent.variant})",
            "",
            (parent.architecture or tools.architecture()),
        )
    if parent_record is not None:
        source, tag = Path(parent_record.layout), parent_record.version.tag
        described = f"{parent_record.name} {parent_record.version}"
    else:
        assert isinstance(parent, ExternalImage)
        source, tag = work / "parent", "parent"
        described = parent.description or parent.reference
        with build.stage("fetch", "skopeo"):
            tools.fetch(parent.reference, source, tag, tls_verify=parent.tls_verify)
    with build.stage("unpack", "umoci"):
        digest = tools.digest(source, tag)
        root = tools.unpack(source, tag, work / "bundle")
        architecture = tools.architecture(source, tag)
    return root, described, digest, architecture


def _components(build: _Build, inputs: BuildInputs, root: Path, phases: Sequence[str]) -> None:
    """Run ``phases`` of every component on ``root``; a failure fails the build."""
    deps = build.deps
    for name, component, parameters in inputs.components:
        chosen = [p.name for p in component.phases if p.name in phases]
        if not chosen:
            continue

        def log(entry: StepLog, component_name: str = name) -> None:
            build.step(
                BuildStep(
                    component_name,
                    entry.phase,
                    entry.step,
                    entry.action,
                    entry.status.value,
                    entry.attempts,
                    entry.duration,
                    entry.error,
                )
            )

        result = run_component(
            component,
            deps.actions(str(root)),
            root=str(root),
            now=deps.clock(),
            name=name,
            parameters=dict(parameters),
            phases=chosen,
            package_manager=lambda: deps.package_manager(str(root)),
            state=deps.state,
            on_step=log,
            baseline=inputs.baseline,
        )
        if not result.succeeded:
            failed = [s for s in result.steps if s.status.value == "Failed"]
            where = f"step {failed[0].step} ({failed[0].phase})" if failed else "a step"
            error = f": {failed[0].error}" if failed and failed[0].error else ""
            stage = "test" if "test" in phases else "build"
            raise BuildFailed(f"{stage} failed: component {name} {where}{error}")


def _scan(build: _Build, pipeline: ImagePipeline | None, reference: str) -> None:
    deps = build.deps
    gate = pipeline.gate if pipeline else None
    store = deps.advisories()
    began = time.monotonic()
    if store is None:
        if gate is not None and not gate.empty:
            build.step(
                BuildStep(
                    "", "scan", "scan", "image scan", "Failed", 1, 0.0, "no vulnerability database"
                )
            )
            raise BuildFailed(
                "scan: no vulnerability database to judge the gate by "
                "(patchwarden db update, or db import FILE offline)"
            )
        build.step(
            BuildStep(
                "", "scan", "scan", "image scan", "Skipped", 0, 0.0, "no vulnerability database"
            )
        )
        return
    with build.stage("scan", "image scan"):
        contents = deps.read_image(reference)
        if contents.inventory is None and gate is not None and not gate.empty:
            why = "; ".join(contents.warnings) or "no package database that can be assessed"
            raise PatchwardenError(f"the gate cannot judge this image: {why}")
        report = assess_image(
            contents,
            deps.clock(),
            store=store,
            ignore_unfixed=gate.ignore_unfixed if gate else False,
        )
    findings = report.vulnerabilities or ()
    counts = active_counts(findings)
    build.update(findings=counts, fixes=image_fixes(findings))
    deps.progress("  findings: " + (", ".join(f"{n} {s}" for s, n in counts) or "none"))
    if gate is None:
        return
    failures = gate_failures(gate, findings)
    if failures:
        build.step(
            BuildStep(
                "",
                "gate",
                "gate",
                "scan gate",
                "Failed",
                1,
                time.monotonic() - began,
                "; ".join(failures),
            )
        )
        raise BuildFailed("scan gate: " + "; ".join(failures))
    build.step(BuildStep("", "gate", "gate", "scan gate", "Success", 1, time.monotonic() - began))


def _distribute(build: _Build, distribution: Distribution, layout: Path, tag: str) -> None:
    deps = build.deps
    built = deps.clock()
    pushed = list(build.record.distributed)
    for target in distribution.targets:
        destination = f"{target.registry}/{target.repository}"
        try:
            tags = [render_tag(t, build.record.version, built) for t in target.tags]
        except ValueError as exc:
            raise BuildFailed(f"distribution {distribution.name}: {exc}") from None
        with build.stage(f"push {destination}", "skopeo copy"):
            digest = deps.push(
                layout,
                tag,
                destination,
                tags=tags,
                tls_verify=target.tls_verify,
                credentials_file=target.credentials_file,
            )
        pushed.append(
            Distributed(
                destination, tuple(tags), digest, target.tls_verify, target.credentials_file
            )
        )
        build.update(distributed=tuple(pushed))
        deps.progress(f"  pushed {destination}:{','.join(tags)} {digest}")
