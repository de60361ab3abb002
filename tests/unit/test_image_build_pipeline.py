"""``build_image`` with fakes: build tools working on directories of tmp_path, a scripted
action runner (file actions through the real :class:`RootActions`, a tiny ExecuteBash
interpreter), a package manager with two packages, a list-backed advisory store, a recording
pusher, and the real :class:`LocalImageCatalog`.  ``tests/integration/test_image_build.py``
runs the same pipeline for real."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchwarden.adapters.image.actions import RootActions
from patchwarden.adapters.image.catalog import LocalImageCatalog
from patchwarden.core.component import Attempt, Component, Outcome, parse_component
from patchwarden.core.image import ImageContents, ImageFacts
from patchwarden.core.imagebuild import (
    Distributed,
    ImageRecord,
    ImageStatus,
    package_digest,
)
from patchwarden.core.model import InstalledPackage, Inventory, OsInfo, Package
from patchwarden.core.recipe import (
    Bootstrap,
    BuildInputs,
    ComponentRef,
    ContainerConfig,
    Distribution,
    DistributionTarget,
    ExternalImage,
    Gate,
    ImagePipeline,
    ImageSelector,
    Recipe,
)
from patchwarden.core.semver import ImageVersion, SemanticVersion, VersionSelector
from patchwarden.core.vuln import Advisory, AdvisoryStatus, Severity
from patchwarden.errors import AdapterError, InputError
from patchwarden.pipeline.component_run import ActionRunner
from patchwarden.pipeline.image_build import (
    BuildDeps,
    BuildOptions,
    build_image,
    resolve_parent,
)
from patchwarden.ports import AdvisoryStore, FeedStatus, InstallOutcome, InstallPlan

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EPOCH = 1735689600  # 2025-01-01T00:00:00Z
DEBIAN = OsInfo("debian", "12", "bookworm", "Debian 12", "debian", "DEBIAN", "Debian12")
PACKAGES = (
    InstalledPackage(
        Package("bash", "amd64", "5.2.15-2", source_name="bash", source_version="5.2.15-2")
    ),
    InstalledPackage(
        Package("zlib1g", "amd64", "1:1.2.13-1", source_name="zlib", source_version="1:1.2.13-1")
    ),
)
ZLIB_HIGH = Advisory(
    "CVE-2099-0002",
    "debian-tracker",
    "Debian:12",
    "zlib",
    AdvisoryStatus.FIXED,
    "1:9.9.9-1",
    vendor_severity="high",
)
PUSHED = "sha256:" + "ab" * 32
REGISTRY = "127.0.0.1:5055"


# -- fakes ---------------------------------------------------------------------------------


def tree_digest(root: Path) -> str:
    """A digest of a directory's files (paths and contents): same tree, same digest."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return "sha256:" + h.hexdigest()


def files(root: Path) -> list[str]:
    """Every file and directory under ``root``, relative, sorted."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@dataclass
class Packed:
    root: Path
    layout: Path
    tag: str
    labels: tuple[tuple[str, str], ...]
    architecture: str
    files: list[str]
    digest: str


class FakeTools:
    """BuildTools on plain directories: a layout holds ``TAG/rootfs``, ``TAG/digest`` and
    ``TAG/architecture``."""

    def __init__(self) -> None:
        self.checked: list[tuple[str, ...]] = []
        self.bootstrapped: list[tuple[Bootstrap, Path, int]] = []
        self.fetched: list[tuple[str, Path, str, bool]] = []
        self.packed: list[Packed] = []
        self.copies: list[tuple[Path, Path]] = []
        self.pack_error: BaseException | None = None
        self.bootstrap_error: BaseException | None = None

    def check(self, *tools: str) -> None:
        self.checked.append(tools)

    def bootstrap(self, spec: Bootstrap, root: Path, epoch: int) -> None:
        self.bootstrapped.append((spec, root, epoch))
        if self.bootstrap_error is not None:
            raise self.bootstrap_error
        (root / "etc").mkdir()
        (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\n')
        (root / "bin").mkdir()
        (root / "bin/sh").write_text("#!/bin/sh\n")
        archives = root / "var/cache/apt/archives"
        archives.mkdir(parents=True)
        (archives / "zlib1g_1.2.13-1_amd64.deb").write_bytes(b"!<arch>")

    def fetch(self, reference: str, layout: Path, tag: str, *, tls_verify: bool = True) -> None:
        self.fetched.append((reference, layout, tag, tls_verify))
        rootfs = layout / tag / "rootfs"
        (rootfs / "etc").mkdir(parents=True)
        (rootfs / "etc/os-release").write_text("ID=debian\n")
        (layout / tag / "digest").write_text(tree_digest(rootfs))
        (layout / tag / "architecture").write_text("arm64")

    def unpack(self, layout: Path, tag: str, bundle: Path) -> Path:
        shutil.copytree(layout / tag / "rootfs", bundle / "rootfs")
        return bundle / "rootfs"

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
    ) -> str:
        if self.pack_error is not None:
            raise self.pack_error
        digest = tree_digest(root)
        stored = layout / tag
        shutil.rmtree(stored, ignore_errors=True)
        shutil.copytree(root, stored / "rootfs")
        (stored / "digest").write_text(digest)
        (stored / "architecture").write_text(architecture)
        self.packed.append(
            Packed(root, layout, tag, tuple(labels), architecture, files(root), digest)
        )
        return digest

    def remove(self, layout: Path, tag: str) -> None:
        shutil.rmtree(layout / tag)

    def copy_tree(self, source: Path, target: Path) -> None:
        self.copies.append((source, target))
        shutil.copytree(source, target, dirs_exist_ok=True)

    def clean(self, root: Path) -> int:
        debs = list((root / "var/cache/apt/archives").glob("*.deb"))
        for deb in debs:
            deb.unlink()
        return len(debs)

    def architecture(self, layout: Path | None = None, tag: str = "") -> str:
        if layout is None:
            return "amd64"
        return (layout / tag / "architecture").read_text()

    def digest(self, layout: Path, tag: str) -> str:
        return (layout / tag / "digest").read_text()


class FakeActions:
    """File actions through the real RootActions (no chroot needed); ExecuteBash runs a tiny
    language: ``test -s PATH``, ``touch PATH``, ``fail MESSAGE``."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)
        self.files = RootActions(root)

    def run(self, attempt: Attempt) -> Outcome:
        if attempt.action != "ExecuteBash":
            return self.files.run(attempt)
        inputs = attempt.inputs if isinstance(attempt.inputs, Mapping) else {}
        for command in inputs.get("commands", []):
            verb, _, argument = str(command).partition(" ")
            if verb == "test":
                path = self.root / argument.split(" ")[-1].lstrip("/")
                if not (path.is_file() and path.stat().st_size > 0):
                    return Outcome(exit_code=1, error=f"{argument}: no")
            elif verb == "touch":
                (self.root / argument.lstrip("/")).write_text("")
            elif verb == "fail":
                return Outcome(exit_code=1, error=argument)
            else:
                raise AssertionError(f"unknown command {command!r}")
        return Outcome(exit_code=0)


class FakePackages:
    """A PackageManager whose root holds PACKAGES (collect only)."""

    scheme = "deb"

    def __init__(self, root: str) -> None:
        self.root = root

    def collect(self) -> Inventory:
        return Inventory(DEBIAN, "image", self.root, "deb", PACKAGES, ())

    def refresh(self) -> None:
        raise AssertionError("no UpdateOS here")

    def plan(self, packages: Sequence[Package]) -> InstallPlan:
        raise AssertionError("no UpdateOS here")

    def install(self, packages: Sequence[Package]) -> list[InstallOutcome]:
        raise AssertionError("no UpdateOS here")


class ListStore:
    """An AdvisoryStore over a list."""

    def __init__(self, advisories: Iterable[Advisory]) -> None:
        self.items = list(advisories)

    def advisories(self, ecosystem: str, packages: Iterable[str]) -> list[Advisory]:
        names = set(packages)
        return [a for a in self.items if a.ecosystem == ecosystem and a.package in names]

    def feeds(self) -> list[FeedStatus]:
        return [FeedStatus("debian-tracker", NOW, len(self.items))]


@dataclass
class Push:
    layout: Path
    tag: str
    destination: str
    tags: tuple[str, ...]
    tls_verify: bool
    credentials_file: str


@dataclass
class Env:
    """Everything a build touches, with what each fake saw."""

    base: Path
    catalog: LocalImageCatalog
    tools: FakeTools = field(default_factory=FakeTools)
    store: AdvisoryStore | None = None
    action_roots: list[str] = field(default_factory=list)
    package_roots: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    pushes: list[Push] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    unassessed: bool = False
    on_line: Callable[[str], None] | None = None

    @property
    def layouts(self) -> Path:
        return self.base / "layouts"

    @property
    def work(self) -> Path:
        return self.base / "work"

    def actions(self, root: str) -> ActionRunner:
        self.action_roots.append(root)
        return FakeActions(root)

    def package_manager(self, root: str) -> FakePackages:
        self.package_roots.append(root)
        return FakePackages(root)

    def read_image(self, reference: str) -> ImageContents:
        self.reads.append(reference)
        facts = ImageFacts(reference, "sha256:" + "cd" * 32)
        if self.unassessed:  # an Alpine image: packages found, not assessable yet
            alpine = OsInfo("alpine", "3.19.1", "", "Alpine 3.19", "alpine", "ALPINE", "Alpine3.19")
            return ImageContents(facts, alpine, None, ("apk packages found but not assessed yet",))
        inventory = Inventory(DEBIAN, "image", "/", "deb", PACKAGES, ())
        return ImageContents(facts, DEBIAN, inventory)

    def push(
        self,
        layout: Path,
        tag: str,
        destination: str,
        *,
        tags: Sequence[str],
        tls_verify: bool,
        credentials_file: str,
    ) -> str:
        if destination in self.refused:
            raise AdapterError(f"{destination}: denied")
        self.pushes.append(
            Push(layout, tag, destination, tuple(tags), tls_verify, credentials_file)
        )
        return PUSHED

    def progress(self, line: str) -> None:
        self.lines.append(line)
        if self.on_line is not None:
            self.on_line(line)

    def deps(self) -> BuildDeps:
        return BuildDeps(
            catalog=self.catalog,
            tools=self.tools,
            actions=self.actions,
            package_manager=self.package_manager,
            read_image=self.read_image,
            advisories=lambda: self.store,
            push=self.push,
            layouts=self.layouts,
            work=self.work,
            clock=lambda: NOW,
            progress=self.progress,
        )

    def build(
        self,
        inputs: BuildInputs,
        options: BuildOptions | None = None,
    ) -> ImageRecord:
        return build_image(inputs, self.deps(), options or BuildOptions(epoch=EPOCH))


@pytest.fixture
def env(tmp_path: Path) -> Iterable[Env]:
    catalog = LocalImageCatalog(tmp_path / "catalog.db")
    yield Env(tmp_path, catalog, store=ListStore([ZLIB_HIGH]))
    catalog.close()


def component(**phases: list[dict[str, object]]) -> Component:
    return parse_component(
        {
            "schemaVersion": 1.0,
            "phases": [{"name": name, "steps": steps} for name, steps in phases.items()],
        }
    )


SITE = component(
    build=[
        {"name": "dir", "action": "CreateFolder", "inputs": [{"path": "/srv/www"}]},
        {
            "name": "index",
            "action": "CreateFile",
            "inputs": [{"path": "/srv/www/index.html", "content": "hello\n"}],
        },
    ],
    validate=[
        {
            "name": "present",
            "action": "ExecuteBash",
            "inputs": {"commands": ["test -s /srv/www/index.html"]},
        }
    ],
    test=[
        {
            "name": "greets",
            "action": "ExecuteBash",
            "inputs": {"commands": ["test -s /srv/www/index.html"]},
        }
    ],
)
BROKEN_BUILD = component(
    build=[
        {"name": "marker", "action": "CreateFile", "inputs": [{"path": "/m", "content": "x"}]},
        {"name": "check", "action": "ExecuteBash", "inputs": {"commands": ["fail disk full"]}},
        {"name": "never", "action": "CreateFile", "inputs": [{"path": "/n", "content": "x"}]},
    ]
)
BROKEN_TEST = component(
    test=[
        {
            "name": "absent",
            "action": "ExecuteBash",
            "inputs": {"commands": ["touch /tested", "fail no greeting"]},
        }
    ]
)

WEB = Recipe(
    name="web",
    version=SemanticVersion(1, 0, 0),
    parent=Bootstrap("bookworm"),
    components=(ComponentRef("site", VersionSelector.parse("1.x.x")),),
    labels=(("org.example.team", "platform"),),
)
DIST = Distribution(
    "lenient",
    (
        DistributionTarget(
            REGISTRY,
            "fleet/web",
            tags=("{{imagebuilder:buildVersion}}", "latest"),
            tls_verify=False,
            credentials_file="/etc/creds.json",
        ),
    ),
)


def pipeline(gate: Gate | None = None, **changes: object) -> ImagePipeline:
    made = ImagePipeline(
        "web-pipe",
        ("web", VersionSelector.parse("1.0.0")),
        gate=gate or Gate(max_findings=((Severity.CRITICAL, 0),)),
        distribution="lenient",
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def inputs(
    recipe: Recipe = WEB,
    components: Sequence[tuple[str, Component]] = (("site", SITE),),
    pipe: ImagePipeline | None = None,
    distribution: Distribution | None = DIST,
) -> BuildInputs:
    return BuildInputs(
        recipe,
        tuple((name, c, ()) for name, c in components),
        pipeline=pipe,
        distribution=distribution,
    )


def timeless(record: ImageRecord | None) -> ImageRecord | None:
    """The record with its step durations zeroed (the catalog keeps them to the ms)."""
    if record is None:
        return None
    return replace(record, steps=tuple(replace(s, duration=0.0) for s in record.steps))


def history(record: ImageRecord) -> list[str]:
    return [h.status.value for h in record.history]


def steps(record: ImageRecord) -> list[tuple[str, str, str, str, str, int, str]]:
    return [
        (s.component, s.phase, s.step, s.action, s.status, s.attempts, s.error)
        for s in record.steps
    ]


def assert_work_removed(env: Env) -> None:
    """The build's scratch directory is gone (and the build did use it)."""
    assert env.tools.bootstrapped or env.tools.fetched or env.action_roots
    assert list(env.work.iterdir()) == []


# -- a successful build --------------------------------------------------------------------


def test_a_successful_build_passes_every_status_and_records_what_it_did(env: Env) -> None:
    record = env.build(inputs(pipe=pipeline()))

    assert record.status is ImageStatus.AVAILABLE
    assert record.version == ImageVersion(SemanticVersion(1, 0, 0), 1)
    assert history(record) == ["PENDING", "BUILDING", "TESTING", "DISTRIBUTING", "AVAILABLE"]
    assert record.reason == ""
    assert record.pipeline == "web-pipe"
    assert record.parent == "bootstrap bookworm (minbase)"
    assert record.parent_digest == ""
    assert record.layout == str(env.layouts / "web")
    assert timeless(env.catalog.get("web", "1.0.0/1")) == timeless(record)
    work = env.work / "web-1.0.0-1"
    assert steps(record) == [
        ("", "bootstrap", "bootstrap", "mmdebstrap", "Success", 1, ""),
        ("site", "build", "dir", "CreateFolder", "Success", 1, ""),
        ("site", "build", "index", "CreateFile", "Success", 1, ""),
        ("site", "validate", "present", "ExecuteBash", "Success", 1, ""),
        ("", "pack", "pack", "umoci", "Success", 1, ""),
        ("", "test-copy", "test-copy", "cp", "Success", 1, ""),
        ("site", "test", "greets", "ExecuteBash", "Success", 1, ""),
        ("", "scan", "scan", "image scan", "Success", 1, ""),
        ("", "gate", "gate", "scan gate", "Success", 1, ""),
        ("", f"push {REGISTRY}/fleet/web", f"push {REGISTRY}/fleet/web", "skopeo copy",
         "Success", 1, ""),
    ]  # fmt: skip
    assert env.tools.checked == [("umoci", "mmdebstrap", "skopeo")]
    assert env.tools.bootstrapped == [(Bootstrap("bookworm"), work / "rootfs", EPOCH)]
    # the package manager's downloads were removed before the root was packed
    [packed] = env.tools.packed
    assert packed.root == work / "rootfs"
    assert (packed.layout, packed.tag, packed.architecture) == (env.layouts / "web", "1.0.0-1",
                                                                 "amd64")  # fmt: skip
    assert packed.files == [
        "bin", "bin/sh", "etc", "etc/os-release", "srv", "srv/www", "srv/www/index.html",
        "var", "var/cache", "var/cache/apt", "var/cache/apt/archives",
    ]  # fmt: skip
    assert record.digest == packed.digest
    assert (env.layouts / "web/1.0.0-1/rootfs/srv/www/index.html").read_text() == "hello\n"
    packages = package_digest(PACKAGES)
    assert record.package_digest == packages
    assert record.package_count == 2
    assert record.labels == (
        ("dev.patchwarden.image.packages", packages),
        ("dev.patchwarden.image.recipe", "web/1.0.0"),
        ("org.example.team", "platform"),
        ("org.opencontainers.image.created", "2025-01-01T00:00:00Z"),
        ("org.opencontainers.image.title", "web"),
        ("org.opencontainers.image.version", "1.0.0"),
    )
    assert packed.labels == record.labels
    assert env.reads == [f"oci:{env.layouts / 'web'}:1.0.0-1"]
    assert record.findings == (("HIGH", 1),)
    assert env.pushes == [
        Push(env.layouts / "web", "1.0.0-1", f"{REGISTRY}/fleet/web", ("1.0.0-1", "latest"),
             False, "/etc/creds.json"),
    ]  # fmt: skip
    assert record.distributed == (
        Distributed(f"{REGISTRY}/fleet/web", ("1.0.0-1", "latest"), PUSHED, False,
                    "/etc/creds.json"),
    )  # fmt: skip
    assert env.action_roots == [str(work / "rootfs"), str(work / "test-root")]
    assert env.tools.copies == [(work / "rootfs", work / "test-root")]
    assert env.lines[0] == "PENDING"
    assert env.lines[-1] == "AVAILABLE"
    assert "  packed " + record.digest + " (2 packages; 1 volatile files removed)" in env.lines
    assert "  findings: 1 HIGH" in env.lines
    assert_work_removed(env)


def test_build_numbers_increase_per_name_and_version_and_are_never_reused(env: Env) -> None:
    first = env.build(inputs(distribution=None))
    second = env.build(inputs(distribution=None))
    other = env.build(inputs(replace(WEB, version=SemanticVersion(1, 1, 0)), distribution=None))
    assert [str(r.version) for r in (first, second, other)] == ["1.0.0/1", "1.0.0/2", "1.1.0/1"]
    # the same tree gives the same digest
    assert first.digest == second.digest == other.digest
    assert first.digest.startswith("sha256:") and len(first.digest) == 71
    # a record marked DELETED still holds its number
    env.catalog.save(second.moved(ImageStatus.DELETED, NOW, "deleted"))
    third = env.build(inputs(distribution=None))
    assert str(third.version) == "1.0.0/3"
    assert [str(r.version) for r in env.catalog.images("web")] == [
        "1.0.0/1",
        "1.0.0/2",
        "1.0.0/3",
        "1.1.0/1",
    ]
    assert_work_removed(env)


def test_a_build_numbers_survives_a_failed_build(env: Env) -> None:
    failed = env.build(inputs(components=(("broken", BROKEN_BUILD),)))
    again = env.build(inputs())
    assert (str(failed.version), failed.status) == ("1.0.0/1", ImageStatus.FAILED)
    assert (str(again.version), again.status) == ("1.0.0/2", ImageStatus.AVAILABLE)


# -- failures ------------------------------------------------------------------------------


def test_a_failing_build_step_fails_the_image_and_nothing_is_pushed(env: Env) -> None:
    record = env.build(inputs(components=(("site", SITE), ("broken", BROKEN_BUILD))))

    assert record.status is ImageStatus.FAILED
    assert (
        record.reason == "build failed: component broken step check (build): exit code 1: disk full"
    )
    assert history(record) == ["PENDING", "BUILDING", "FAILED"]
    assert record.history[-1].reason == record.reason
    assert steps(record)[-3:] == [
        ("broken", "build", "marker", "CreateFile", "Success", 1, ""),
        ("broken", "build", "check", "ExecuteBash", "Failed", 1, "exit code 1: disk full"),
        ("broken", "build", "never", "CreateFile", "Skipped", 0, ""),
    ]
    assert env.tools.packed == []
    assert env.pushes == []
    assert env.reads == []
    assert record.distributed == ()
    assert timeless(env.catalog.get("web", "1.0.0/1")) == timeless(record)
    assert env.lines[-1] == "FAILED: " + record.reason
    assert_work_removed(env)


def test_a_failing_test_phase_fails_the_image_and_ran_on_a_copy(env: Env) -> None:
    work = env.work / "web-1.0.0-1"
    seen: dict[str, list[str]] = {}

    def snapshot(line: str) -> None:
        if line.startswith("FAILED"):
            seen["rootfs"] = files(work / "rootfs")
            seen["test-root"] = files(work / "test-root")

    env.on_line = snapshot
    record = env.build(
        inputs(components=(("site", SITE), ("broken-test", BROKEN_TEST)), pipe=pipeline())
    )

    assert record.status is ImageStatus.FAILED
    assert record.reason == (
        "test failed: component broken-test step absent (test): exit code 1: no greeting"
    )
    assert history(record) == ["PENDING", "BUILDING", "TESTING", "FAILED"]
    assert steps(record)[-3:] == [
        ("", "test-copy", "test-copy", "cp", "Success", 1, ""),
        ("site", "test", "greets", "ExecuteBash", "Success", 1, ""),
        ("broken-test", "test", "absent", "ExecuteBash", "Failed", 1, "exit code 1: no greeting"),
    ]
    assert env.tools.copies == [(work / "rootfs", work / "test-root")]
    assert env.action_roots == [
        str(work / "rootfs"),  # site: build, validate
        str(work / "test-root"),  # site: test
        str(work / "test-root"),  # broken-test: test
    ]
    # the test wrote into the copy; the root that was packed never saw it
    assert "tested" in seen["test-root"]
    assert "tested" not in seen["rootfs"]
    assert env.tools.packed[0].files == seen["rootfs"]
    assert env.pushes == []
    assert env.reads == []  # a failed test is not scanned either
    assert record.distributed == ()
    assert_work_removed(env)


def test_tests_can_be_turned_off_by_the_options_or_the_pipeline(env: Env) -> None:
    components = (("site", SITE), ("broken-test", BROKEN_TEST))
    off = env.build(
        inputs(components=components, pipe=pipeline()), BuildOptions(EPOCH, tests=False)
    )
    by_pipeline = env.build(inputs(components=components, pipe=pipeline(tests_enabled=False)))
    assert (off.status, by_pipeline.status) == (ImageStatus.AVAILABLE, ImageStatus.AVAILABLE)
    assert [s.phase for s in off.steps if s.phase in ("test", "test-copy")] == []
    assert env.tools.copies == []
    # tests=True overrides a pipeline that turned them off
    forced = env.build(
        inputs(components=components, pipe=pipeline(tests_enabled=False)),
        BuildOptions(EPOCH, tests=True),
    )
    assert forced.status is ImageStatus.FAILED
    assert forced.reason.startswith("test failed: component broken-test step absent (test)")


def test_a_gate_exceeded_fails_the_image_and_nothing_is_pushed(env: Env) -> None:
    record = env.build(inputs(pipe=pipeline(Gate(max_findings=((Severity.HIGH, 0),)))))

    assert record.status is ImageStatus.FAILED
    assert record.reason == "scan gate: 1 HIGH finding (at most 0 allowed): CVE-2099-0002 in zlib1g"
    assert history(record) == ["PENDING", "BUILDING", "TESTING", "FAILED"]
    assert record.findings == (("HIGH", 1),)
    assert steps(record)[-2:] == [
        ("", "scan", "scan", "image scan", "Success", 1, ""),
        (
            "",
            "gate",
            "gate",
            "scan gate",
            "Failed",
            1,
            "1 HIGH finding (at most 0 allowed): CVE-2099-0002 in zlib1g",
        ),
    ]
    assert env.pushes == []
    assert record.distributed == ()
    assert_work_removed(env)


def test_a_gate_without_a_database_fails_the_image(env: Env) -> None:
    env.store = None
    record = env.build(inputs(pipe=pipeline()))

    assert record.status is ImageStatus.FAILED
    assert record.reason == (
        "scan: no vulnerability database to judge the gate by "
        "(patchwarden db update, or db import FILE offline)"
    )
    assert history(record) == ["PENDING", "BUILDING", "TESTING", "FAILED"]
    assert steps(record)[-1] == (
        "", "scan", "scan", "image scan", "Failed", 1, "no vulnerability database"
    )  # fmt: skip
    assert env.reads == []
    assert env.pushes == []
    assert_work_removed(env)


@pytest.mark.parametrize(
    "pipe",
    [None, pipeline(Gate())],
    ids=["no pipeline", "empty gate"],
)
def test_no_gate_and_no_database_skips_the_scan(env: Env, pipe: ImagePipeline | None) -> None:
    env.store = None
    record = env.build(inputs(pipe=pipe))

    assert record.status is ImageStatus.AVAILABLE
    assert history(record) == ["PENDING", "BUILDING", "TESTING", "DISTRIBUTING", "AVAILABLE"]
    scan = [s for s in record.steps if s.phase == "scan"]
    assert [(s.status, s.attempts, s.error) for s in scan] == [
        ("Skipped", 0, "no vulnerability database")
    ]
    assert record.findings == ()
    assert env.reads == []
    assert len(env.pushes) == 1


def test_scanning_turned_off_reads_nothing(env: Env) -> None:
    record = env.build(
        inputs(pipe=pipeline(scanning_enabled=False, tests_enabled=False)),
    )
    assert record.status is ImageStatus.AVAILABLE
    # neither tests nor scan: TESTING is not passed through
    assert history(record) == ["PENDING", "BUILDING", "DISTRIBUTING", "AVAILABLE"]
    assert env.reads == []
    assert [s.phase for s in record.steps if s.phase in ("scan", "gate")] == []


def test_no_distribute_pushes_nothing(env: Env) -> None:
    record = env.build(inputs(pipe=pipeline()), BuildOptions(EPOCH, distribute=False))

    assert record.status is ImageStatus.AVAILABLE
    assert history(record) == ["PENDING", "BUILDING", "TESTING", "AVAILABLE"]
    assert env.pushes == []
    assert record.distributed == ()
    assert env.tools.checked == [("umoci", "mmdebstrap")]  # skopeo not needed


def test_tags_are_rendered_from_the_distribution_templates(env: Env) -> None:
    distribution = Distribution(
        "two",
        (
            DistributionTarget(
                REGISTRY,
                "fleet/web",
                tags=(
                    "{{imagebuilder:buildVersion}}",
                    "{{ imagebuilder:semanticVersion }}",
                    "b{{imagebuilder:build}}",
                    "{{imagebuilder:buildDate}}",
                    "latest",
                ),
            ),
            DistributionTarget("registry.example:443", "mirror/web"),
        ),
    )
    env.build(inputs(distribution=distribution))
    record = env.build(inputs(distribution=distribution))

    assert str(record.version) == "1.0.0/2"
    assert [(p.destination, p.tags, p.tls_verify, p.credentials_file) for p in env.pushes[2:]] == [
        (
            f"{REGISTRY}/fleet/web",
            ("1.0.0-2", "1.0.0", "b2", "2026-03-01T12-00-00Z", "latest"),
            True,
            "",
        ),
        ("registry.example:443/mirror/web", ("1.0.0-2",), True, ""),
    ]
    assert [(d.destination, d.tags) for d in record.distributed] == [
        (f"{REGISTRY}/fleet/web", ("1.0.0-2", "1.0.0", "b2", "2026-03-01T12-00-00Z", "latest")),
        ("registry.example:443/mirror/web", ("1.0.0-2",)),
    ]


def test_a_bad_tag_template_fails_the_image_before_any_push(env: Env) -> None:
    distribution = Distribution(
        "bad", (DistributionTarget(REGISTRY, "fleet/web", tags=("{{imagebuilder:nope}}",)),)
    )
    record = env.build(inputs(distribution=distribution))

    assert record.status is ImageStatus.FAILED
    assert record.reason == (
        "distribution bad: unknown token {{imagebuilder:nope}} in '{{imagebuilder:nope}}' "
        "(known: {{imagebuilder:buildDate}}, {{imagebuilder:buildVersion}}, "
        "{{imagebuilder:semanticVersion}}, {{imagebuilder:build}})"
    )
    assert history(record) == ["PENDING", "BUILDING", "TESTING", "DISTRIBUTING", "FAILED"]
    assert env.pushes == []


def test_a_failed_push_fails_the_image_and_records_what_was_pushed(env: Env) -> None:
    distribution = Distribution(
        "two", (*DIST.targets, DistributionTarget("registry.example:443", "mirror/web"))
    )
    env.refused.add("registry.example:443/mirror/web")
    record = env.build(inputs(distribution=distribution))

    assert record.status is ImageStatus.FAILED
    assert record.reason == (
        "push registry.example:443/mirror/web: registry.example:443/mirror/web: denied"
    )
    assert history(record) == ["PENDING", "BUILDING", "TESTING", "DISTRIBUTING", "FAILED"]
    # the first push happened: the record keeps it (so that image delete can remove it)
    assert [d.destination for d in record.distributed] == [f"{REGISTRY}/fleet/web"]
    assert steps(record)[-1] == (
        "", "push registry.example:443/mirror/web", "push registry.example:443/mirror/web",
        "skopeo copy", "Failed", 1, "registry.example:443/mirror/web: denied",
    )  # fmt: skip
    assert_work_removed(env)


def test_a_tool_error_in_a_stage_fails_the_image_with_the_stage_name(env: Env) -> None:
    env.tools.bootstrap_error = AdapterError("mmdebstrap: exit 1: E: cannot resolve deb.example")
    record = env.build(inputs(pipe=pipeline()))

    assert record.status is ImageStatus.FAILED
    assert record.reason == "bootstrap: mmdebstrap: exit 1: E: cannot resolve deb.example"
    assert history(record) == ["PENDING", "BUILDING", "FAILED"]
    assert steps(record) == [
        ("", "bootstrap", "bootstrap", "mmdebstrap", "Failed", 1,
         "mmdebstrap: exit 1: E: cannot resolve deb.example"),
    ]  # fmt: skip
    assert env.tools.packed == []
    assert env.pushes == []
    assert_work_removed(env)


def test_a_gate_fails_an_image_whose_packages_cannot_be_assessed(env: Env) -> None:
    env.unassessed = True
    record = env.build(inputs(pipe=pipeline()))

    assert record.status is ImageStatus.FAILED
    assert record.reason.startswith("scan: the gate cannot judge this image: ")
    assert env.pushes == []


# -- defects and interruptions -------------------------------------------------------------


def test_an_unexpected_exception_fails_the_image_and_propagates(env: Env) -> None:
    env.tools.pack_error = RuntimeError("disk on fire")
    with pytest.raises(RuntimeError, match=r"^disk on fire$"):
        env.build(inputs(pipe=pipeline()))

    record = env.catalog.get("web", "1.0.0/1")
    assert record is not None
    assert record.status is ImageStatus.FAILED
    assert record.reason == "internal error: RuntimeError: disk on fire"
    assert history(record) == ["PENDING", "BUILDING", "FAILED"]
    assert env.pushes == []
    assert_work_removed(env)


def test_an_interrupted_build_is_cancelled_and_the_interrupt_propagates(env: Env) -> None:
    env.tools.bootstrap_error = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        env.build(inputs(pipe=pipeline()))

    record = env.catalog.get("web", "1.0.0/1")
    assert record is not None
    assert record.status is ImageStatus.CANCELLED
    assert record.reason == "interrupted"
    assert history(record) == ["PENDING", "BUILDING", "CANCELLED"]
    assert env.tools.packed == []
    assert_work_removed(env)


def test_a_parameter_the_component_does_not_declare_fails_the_image(env: Env) -> None:
    record = build_image(
        BuildInputs(WEB, (("site", SITE, (("greeting", "hi"),)),), distribution=DIST),
        env.deps(),
        BuildOptions(EPOCH),
    )
    assert record.status is ImageStatus.FAILED
    assert record.reason == "parameter 'greeting': not declared (declared: none)"
    assert history(record) == ["PENDING", "BUILDING", "FAILED"]
    assert_work_removed(env)


# -- parents -------------------------------------------------------------------------------


def test_an_image_parent_is_unpacked_from_its_layout(env: Env) -> None:
    base = env.build(inputs(replace(WEB, name="base"), distribution=None))
    child = Recipe(
        "web",
        SemanticVersion(2, 0, 0),
        ImageSelector("base", VersionSelector.parse("1.x.x")),
        components=(ComponentRef("site", VersionSelector.parse("1.x.x")),),
    )
    env.tools.checked.clear()
    record = env.build(inputs(child, distribution=None))

    assert record.status is ImageStatus.AVAILABLE
    assert env.tools.checked == [("umoci",)]
    assert record.parent == "base 1.0.0/1"
    assert record.parent_digest == base.digest
    assert ("dev.patchwarden.image.parent", base.digest) in record.labels
    assert [s.phase for s in record.steps][:1] == ["unpack"]
    # the same files as the parent, so the same digest
    assert record.digest == base.digest
    assert env.tools.packed[-1].root == env.work / "web-2.0.0-1" / "bundle" / "rootfs"
    assert_work_removed(env)


def test_an_external_parent_is_fetched(env: Env, tmp_path: Path) -> None:
    recipe = replace(WEB, parent=ExternalImage("docker://quay.example/base:12"))
    record = env.build(inputs(recipe, distribution=None))

    assert record.status is ImageStatus.AVAILABLE
    assert env.tools.checked == [("umoci", "skopeo")]
    work = env.work / "web-1.0.0-1"
    assert env.tools.fetched == [("docker://quay.example/base:12", work / "parent", "parent", True)]
    assert record.parent == "docker://quay.example/base:12"
    fetched = tmp_path / "fetched"
    (fetched / "etc").mkdir(parents=True)
    (fetched / "etc/os-release").write_text("ID=debian\n")
    assert record.parent_digest == tree_digest(fetched)
    assert ("dev.patchwarden.image.parent", record.parent_digest) in record.labels
    assert env.tools.packed[0].architecture == "arm64"
    assert [s.phase for s in record.steps][:2] == ["fetch", "unpack"]
    assert_work_removed(env)


def test_an_external_parent_without_tls_and_with_a_description(env: Env) -> None:
    parent = ExternalImage(
        "docker://127.0.0.1:5055/base:12", tls_verify=False, description="site base image"
    )
    record = env.build(inputs(replace(WEB, parent=parent), distribution=None))

    assert record.status is ImageStatus.AVAILABLE
    assert [(r, t) for r, _, _, t in env.tools.fetched] == [
        ("docker://127.0.0.1:5055/base:12", False)
    ]
    assert record.parent == "site base image"


def test_a_parent_that_cannot_be_resolved_refuses_the_build_without_a_record(env: Env) -> None:
    recipe = replace(WEB, parent=ImageSelector("base", VersionSelector.parse("1.x.x")))
    with pytest.raises(InputError) as refused:
        env.build(inputs(recipe))
    assert str(refused.value) == (
        "parent image base:1.x.x: no AVAILABLE image matches (no image of that name was built)"
    )
    assert env.catalog.images() == []
    # no build number was used up
    assert str(env.build(inputs()).version) == "1.0.0/1"


def record(version: str, status: ImageStatus, name: str = "base") -> ImageRecord:
    return ImageRecord(name, ImageVersion.parse(version), status, NOW, NOW, layout=f"/l/{name}")


@pytest.fixture
def parents(env: Env) -> LocalImageCatalog:
    for version, status in [
        ("1.0.0/1", ImageStatus.AVAILABLE),
        ("1.1.0/1", ImageStatus.AVAILABLE),
        ("1.1.0/2", ImageStatus.FAILED),
        ("1.2.0/1", ImageStatus.DELETED),
        ("1.3.0/1", ImageStatus.CANCELLED),
        ("1.4.0/1", ImageStatus.DISABLED),
        ("2.0.0/1", ImageStatus.AVAILABLE),
    ]:
        env.catalog.save(record(version, status))
    env.catalog.save(record("9.0.0/1", ImageStatus.AVAILABLE, name="other"))
    return env.catalog


def select(text: str, name: str = "base") -> ImageSelector:
    return ImageSelector(name, VersionSelector.parse(text))


def test_resolve_parent_picks_the_newest_available_match(parents: LocalImageCatalog) -> None:
    assert str(resolve_parent(parents, select("1.x.x"), force=False).version) == "1.1.0/1"
    assert str(resolve_parent(parents, select("x.x.x"), force=False).version) == "2.0.0/1"
    assert str(resolve_parent(parents, select("1.0.0"), force=False).version) == "1.0.0/1"


@pytest.mark.parametrize("text", ["1.1.0/2", "1.2.0", "1.3.0", "1.4.0"])
def test_resolve_parent_never_chooses_an_unusable_image(
    parents: LocalImageCatalog, text: str
) -> None:
    with pytest.raises(InputError) as refused:
        resolve_parent(parents, select(text), force=True)
    assert str(refused.value) == (
        f"parent image base:{text}: no AVAILABLE image matches (images: 1.0.0/1 AVAILABLE, "
        "1.1.0/1 AVAILABLE, 1.1.0/2 FAILED, 1.2.0/1 DELETED, 1.3.0/1 CANCELLED, "
        "1.4.0/1 DISABLED, 2.0.0/1 AVAILABLE)"
    )


def test_resolve_parent_refuses_a_deprecated_image_unless_forced(
    parents: LocalImageCatalog,
) -> None:
    parents.save(record("2.1.0/1", ImageStatus.DEPRECATED))
    with pytest.raises(InputError) as refused:
        resolve_parent(parents, select("2.1.x"), force=False)  # only a DEPRECATED one matches
    assert str(refused.value) == (
        "parent image base 2.1.0/1 is DEPRECATED: refused as a parent "
        "(build with --force-parent to use it anyway)"
    )
    chosen = resolve_parent(parents, select("2.x.x"), force=True)
    assert (str(chosen.version), chosen.status) == ("2.1.0/1", ImageStatus.DEPRECATED)


def test_resolve_parent_without_force_falls_back_to_the_newest_available(
    parents: LocalImageCatalog,
) -> None:
    parents.save(record("2.1.0/1", ImageStatus.DEPRECATED))
    chosen = resolve_parent(parents, select("2.x.x"), force=False)
    assert (str(chosen.version), chosen.status) == ("2.0.0/1", ImageStatus.AVAILABLE)


def test_resolve_parent_of_an_unknown_name(parents: LocalImageCatalog) -> None:
    with pytest.raises(InputError) as refused:
        resolve_parent(parents, select("1.x.x", name="nope"), force=False)
    assert str(refused.value) == (
        "parent image nope:1.x.x: no AVAILABLE image matches (no image of that name was built)"
    )
