"""Stale images and the rebuilds they call for (pure decisions, no I/O): parent updates,
newer packages in the sources, fixes; rebuildOnFix's severity, cool-down, builds per day
and parent updates; the image tree; the use cases over fake ports."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from patchwarden.core.imagebuild import (
    ImageFix,
    ImagePackage,
    ImageRecord,
    ImageStatus,
    parent_key,
)
from patchwarden.core.recipe import (
    Bootstrap,
    ComponentRef,
    ExternalImage,
    ImagePipeline,
    ImageSelector,
    RebuildOnFix,
    Recipe,
)
from patchwarden.core.semver import ImageVersion, SemanticVersion, VersionSelector
from patchwarden.core.staleness import (
    OfferedVersions,
    StaleKind,
    StaleReason,
    fix_reasons,
    image_tree,
    package_updates,
    parent_update,
    rebuild_decision,
    render_tree,
    staleness,
    tree_json,
)
from patchwarden.core.vuln import Severity
from patchwarden.pipeline.fleet.images import dependency_trigger
from patchwarden.pipeline.image_staleness import (
    Judge,
    plan_rebuilds,
    root_bootstrap,
    stale_trigger,
)

T0 = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
ZLIB = ImagePackage("zlib1g", "amd64", "1:1.2.13.dfsg-1", "zlib")
BASH = ImagePackage("bash", "amd64", "5.2.15-2+b2")
HIGH_FIX = ImageFix("CVE-2099-0002", "zlib1g", "1:1.2.13.dfsg-1", "1:9.9.9-1", Severity.HIGH)
LOW_FIX = ImageFix("CVE-2099-0009", "bash", "5.2.15-2+b2", "5.2.15-3", Severity.LOW)


def image(
    name: str,
    version: str,
    status: ImageStatus = ImageStatus.AVAILABLE,
    *,
    parent: str = "bootstrap bookworm (minbase)",
    at: datetime = T0,
    **kw: object,
) -> ImageRecord:
    key = parent_key(ImageRecord(name, ImageVersion.parse(version), status, at, at, parent=parent))
    return ImageRecord(
        name,
        ImageVersion.parse(version),
        status,
        at,
        at,
        parent=parent,
        parent_image=key,
        digest="sha256:" + "ab" * 32,
        **kw,  # type: ignore[arg-type]
    )


def recipe(name: str, version: str, parent: object) -> Recipe:
    return Recipe(
        name,
        SemanticVersion.parse(version),
        parent,  # type: ignore[arg-type]
        (ComponentRef("site", VersionSelector.parse("1.x.x")),),
    )


BOOT = Bootstrap("bookworm", ("deb [trusted=yes] copy:///srv/repo bookworm main",))
BASE = recipe("web-base", "1.0.0", BOOT)
WEB = recipe("web", "1.0.0", ImageSelector("web-base", VersionSelector.parse("1.x.x")))
RECIPES = {("web-base", "1.0.0"): BASE, ("web", "1.0.0"): WEB}


def recipe_of(name: str, selector: VersionSelector) -> Recipe | None:
    found = [r for (n, _), r in RECIPES.items() if n == name and selector.matches(r.version)]
    return max(found, key=lambda r: r.version, default=None)


# -- (a) parent, (b) packages, (c) fixes --------------------------------------------------


def test_parent_update_by_the_recipes_selector() -> None:
    child = image("web", "1.0.0/1", parent="web-base 1.0.0/2")
    parents = [
        image("web-base", "1.0.0/2"),
        image("web-base", "1.0.0/3"),
        image("web-base", "1.0.0/4", ImageStatus.FAILED),
        image("web-base", "2.0.0/1"),
    ]
    found = parent_update(child, VersionSelector.parse("1.x.x"), parents)
    assert found == StaleReason(
        StaleKind.PARENT, "parent updated: web-base 1.0.0/3 is newer than 1.0.0/2"
    )
    assert parent_update(child, VersionSelector.parse("1.0.0/2"), parents) is None
    assert parent_update(child, VersionSelector.parse("x.x.x"), parents) is not None
    assert parent_update(image("web-base", "1.0.0/2"), VersionSelector.parse("1.x.x"), []) is None


def test_parent_key_reads_older_records() -> None:
    old = ImageRecord("web", ImageVersion.parse("1.0.0/1"), ImageStatus.AVAILABLE, T0, T0,
                      parent="web-base 1.0.0/2")  # fmt: skip
    assert parent_key(old) == ("web-base", "1.0.0/2")
    assert parent_key(replace(old, parent="bootstrap bookworm (minbase)")) is None
    assert parent_key(replace(old, parent="oci:/x:1")) is None
    assert parent_key(replace(old, parent_image=("b", "2.0.0/1"))) == ("b", "2.0.0/1")


def test_package_updates_use_dpkg_ordering() -> None:
    offered = {
        ("zlib1g", "amd64"): "1:1.2.14-1",
        ("bash", "amd64"): "5.2.15-2",  # older than 5.2.15-2+b2
        ("curl", "amd64"): "9.9",  # not carried
    }
    (reason,) = package_updates([ZLIB, BASH], offered)
    assert reason.text == "zlib1g 1:1.2.13.dfsg-1 → 1:1.2.14-1 in the recipe's mirrors"
    # 1:… beats any version without an epoch; ~ sorts before anything
    assert package_updates([ZLIB], {("zlib1g", "amd64"): "9.9.9"}) == []
    assert package_updates([BASH], {("bash", "amd64"): "5.2.15-2+b2~1"}) == []
    assert package_updates([BASH], {("bash", "amd64"): "not a version!"}) == []


def test_fix_reasons_most_severe_first() -> None:
    reasons = fix_reasons([LOW_FIX, HIGH_FIX])
    assert [r.text for r in reasons] == [
        "fix for CVE-2099-0002 in zlib1g 1:9.9.9-1 (HIGH)",
        "fix for CVE-2099-0009 in bash 5.2.15-3 (LOW)",
    ]
    assert reasons[0].severity is Severity.HIGH


def test_only_available_images_are_stale() -> None:
    fix = fix_reasons([HIGH_FIX])
    assert staleness(image("web", "1.0.0/1"), fixes=fix).stale
    failed = image("web", "1.0.0/1", ImageStatus.FAILED)
    assert not staleness(failed, fixes=fix).stale
    assert not staleness(image("web", "1.0.0/1")).stale


# -- rebuildOnFix -------------------------------------------------------------------------

POLICY = RebuildOnFix()  # HIGH, 60 minutes, 4 a day
PARENT = StaleReason(StaleKind.PARENT, "parent updated: web-base 1.0.0/3 is newer than 1.0.0/2")


def decide(reasons: Sequence[StaleReason], starts: Sequence[datetime] = (), **kw: object):  # type: ignore[no-untyped-def]
    options: dict[str, object] = {"child": False, "building": False, "now": T0, **kw}
    return rebuild_decision(POLICY, reasons, starts=starts, **options)  # type: ignore[arg-type]


def test_a_fix_at_or_above_the_severity_starts_a_rebuild() -> None:
    high = fix_reasons([HIGH_FIX])
    assert decide(high).start
    assert decide(high).trigger == "fix for CVE-2099-0002 in zlib1g 1:9.9.9-1 (HIGH)"
    assert not decide(fix_reasons([LOW_FIX])).start
    assert decide(fix_reasons([LOW_FIX])).skipped == ""  # nothing to do, nothing to say
    critical_only = RebuildOnFix(severity=Severity.CRITICAL)
    assert not rebuild_decision(critical_only, high, child=False, starts=(), building=False,
                                now=T0).start  # fmt: skip
    low = RebuildOnFix(severity=Severity.LOW)
    assert rebuild_decision(low, fix_reasons([LOW_FIX]), child=False, starts=(), building=False,
                            now=T0).start  # fmt: skip


def test_a_parent_update_rebuilds_a_child_only() -> None:
    assert decide([PARENT], child=True).trigger == PARENT.text
    assert not decide([PARENT], child=False).start
    package = StaleReason(StaleKind.PACKAGE, "zlib1g 1 → 2 in the recipe's mirrors")
    assert not decide([package], child=True).start


def test_cool_down_since_the_last_build_start() -> None:
    high = fix_reasons([HIGH_FIX])
    held = decide(high, [T0 - timedelta(minutes=59), T0 - timedelta(hours=5)])
    assert not held.start
    assert held.skipped == (
        "cool-down: the last build started 59 min ago (coolDownMinutes 60; 1 min left)"
    )
    assert decide(high, [T0 - timedelta(minutes=60)]).start


def test_max_builds_per_utc_day() -> None:
    high = fix_reasons([HIGH_FIX])
    today = [T0 - timedelta(hours=h) for h in (1, 2, 3, 4)]  # 06:00..09:00 UTC
    held = decide(high, today)
    assert held.skipped == "4 builds started today (UTC) (maxBuildsPerDay 4)"
    yesterday = [T0 - timedelta(hours=h) for h in (11, 12, 13, 14)]
    assert decide(high, [*today[1:], *yesterday]).start


def test_no_rebuild_while_building_or_for_the_reason_the_image_was_built_for() -> None:
    high = fix_reasons([HIGH_FIX])
    assert decide(high, building=True).skipped == "a build of the pipeline is in progress"
    assert not decide(high, last_trigger=high[0].text).start
    assert decide(high, last_trigger=high[0].text).skipped == ""


# -- the tree -----------------------------------------------------------------------------


def catalog() -> list[ImageRecord]:
    return [
        image("web-base", "1.0.0/2", trigger="manual"),
        image("web-base", "1.0.0/3", trigger="schedule", at=T0 + timedelta(hours=1)),
        image("web", "1.0.0/1", parent="web-base 1.0.0/2", trigger="manual"),
        image("app", "2.0.0/1", parent="web 1.0.0/1", trigger="parent updated: x"),
        image("ext", "1.0.0/1", parent="oci:/srv/debian:12"),
        image("gone", "1.0.0/1", ImageStatus.DELETED),
    ]


def test_tree_rendering() -> None:
    records = catalog()
    marks = {
        ("web", "1.0.0/1"): staleness(
            records[2],
            parent=parent_update(records[2], VersionSelector.parse("1.x.x"), records),
            fixes=fix_reasons([HIGH_FIX]),
        )
    }
    lines = render_tree(image_tree(records), marks)
    digest = "sha256:" + "ab" * 6
    assert lines == [
        "bootstrap bookworm (minbase)",
        f"  web-base 1.0.0/2  AVAILABLE  {digest}  2026-12-05 10:00  manual",
        f"    web 1.0.0/1  AVAILABLE  {digest}  2026-12-05 10:00  manual  STALE: fix for "
        "CVE-2099-0002 in zlib1g 1:9.9.9-1 (HIGH); parent updated: web-base 1.0.0/3 is newer "
        "than 1.0.0/2",
        f"      app 2.0.0/1  AVAILABLE  {digest}  2026-12-05 10:00  parent updated: x",
        f"  web-base 1.0.0/3  AVAILABLE  {digest}  2026-12-05 11:00  schedule",
        "oci:/srv/debian:12",
        f"  ext 1.0.0/1  AVAILABLE  {digest}  2026-12-05 10:00  -",
    ]
    assert not any("gone" in line for line in lines)
    assert any("gone" in line for line in render_tree(image_tree(records, deleted=True)))


def test_tree_of_one_name_and_json() -> None:
    records = catalog()
    roots = image_tree(records, "web")
    assert render_tree(roots)[0] == "bootstrap bookworm (minbase)"
    names = [line.split()[0] for line in render_tree(roots)[1:]]
    assert names == ["web-base", "web", "app"]  # its ancestor and descendant, not 1.0.0/3
    (root,) = tree_json(roots)
    assert root["parent"] == "bootstrap bookworm (minbase)"
    (base,) = root["images"]
    assert base["name"] == "web-base" and base["children"][0]["name"] == "web"
    assert base["stale"] is False and base["trigger"] == "manual"
    # a parent no longer in the catalog is a root of its own
    orphan = image_tree([records[2]])
    assert orphan[0].parent == "web-base 1.0.0/2 (not in the catalog)"


# -- the use cases ------------------------------------------------------------------------


class FakeSources:
    def __init__(self, versions: dict[tuple[str, str], str], warnings: tuple[str, ...] = ()):
        self.versions = versions
        self.warnings = warnings
        self.calls: list[tuple[tuple[str, ...], str, tuple[str, ...]]] = []

    def offered(
        self,
        mirrors: Sequence[str],
        suite: str,
        architectures: Sequence[str],
        names: Collection[str] | None = None,
    ) -> OfferedVersions:
        self.calls.append((tuple(mirrors), suite, tuple(architectures)))
        return OfferedVersions(self.versions, self.warnings)


def test_root_bootstrap_walks_the_recipes() -> None:
    child = image("web", "1.0.0/1", parent="web-base 1.0.0/2")
    assert root_bootstrap(child, WEB, recipe_of) == BOOT
    assert root_bootstrap(child, None, recipe_of) == BOOT  # from the recorded parent
    external = recipe("x", "1.0.0", ExternalImage("docker://r/x:1"))
    assert root_bootstrap(image("x", "1.0.0/1"), external, recipe_of) == (
        "built on the external image docker://r/x:1"
    )
    lost = recipe("y", "1.0.0", ImageSelector("nope", VersionSelector.parse("1.x.x")))
    assert root_bootstrap(image("y", "1.0.0/1"), lost, recipe_of) == (
        "no recipe nope:1.x.x among the documents"
    )


def test_judge_packages_of_a_child_come_from_the_root_recipes_mirrors() -> None:
    records = [
        image("web-base", "1.0.0/2"),
        image("web", "1.0.0/1", parent="web-base 1.0.0/2", packages=(ZLIB, BASH)),
    ]
    sources = FakeSources({("zlib1g", "amd64"): "1:1.2.14-1"}, ("a warning",))
    judge = Judge(records, T0, recipe_of=recipe_of, sources=sources)
    found = judge(records[1])
    assert [r.text for r in found.reasons] == [
        "zlib1g 1:1.2.13.dfsg-1 → 1:1.2.14-1 in the root recipe's mirrors"
    ]
    assert found.warnings == ("package sources: a warning",)
    assert sources.calls == [(BOOT.mirrors, "bookworm", ("amd64",))]
    judge(records[1])
    assert len(sources.calls) == 1  # the index is read once per judge


def test_judge_without_documents_or_sources() -> None:
    records = [
        image("web-base", "1.0.0/2"),
        image("web-base", "1.0.0/3"),
        image("web", "1.0.0/1", parent="web-base 1.0.0/2", fixes=(HIGH_FIX,), packages=(ZLIB,)),
    ]
    found = Judge(records, T0, sources=FakeSources({}))(records[2])
    assert [r.kind for r in found.reasons] == [StaleKind.FIX, StaleKind.PARENT]
    assert found.warnings == ("package sources: no documents to find the recipe's mirrors in",)


def test_if_stale() -> None:
    pipeline = ImagePipeline("web", ("web", VersionSelector.parse("1.x.x")))
    fresh = [
        image("web-base", "1.0.0/2"),
        image("web", "1.0.0/1", parent="web-base 1.0.0/2", pipeline="web"),
    ]
    judge = Judge(fresh, T0, recipe_of=recipe_of)
    found = stale_trigger(WEB, pipeline, judge)
    assert found.trigger is None
    assert found.message == "web 1.0.0/1 is not stale: nothing to do"
    stale = Judge([*fresh, image("web-base", "1.0.0/3")], T0, recipe_of=recipe_of)
    assert stale_trigger(WEB, pipeline, stale).trigger == (
        "stale: parent updated: web-base 1.0.0/3 is newer than 1.0.0/2"
    )
    assert stale_trigger(WEB, pipeline, Judge([], T0)).trigger == (
        "stale: no AVAILABLE image of web yet"
    )
    newer = recipe("web", "1.0.1", WEB.parent)
    assert stale_trigger(newer, pipeline, judge).trigger == "dependency update: recipe web 1.0.1"


def test_plan_rebuilds() -> None:
    policy = RebuildOnFix()
    base_pipe = ImagePipeline("base", ("web-base", VersionSelector.parse("1.x.x")),
                              rebuild_on_fix=policy)  # fmt: skip
    web_pipe = ImagePipeline("web", ("web", VersionSelector.parse("1.x.x")), rebuild_on_fix=policy)
    off = ImagePipeline("off", ("web", VersionSelector.parse("1.x.x")))
    records = [
        image("web-base", "1.0.0/2", pipeline="base", fixes=(HIGH_FIX,), at=T0 - timedelta(days=1)),
        image("web-base", "1.0.0/3", pipeline="other", at=T0 - timedelta(days=1)),
        image("web", "1.0.0/1", parent="web-base 1.0.0/2", pipeline="web",
              at=T0 - timedelta(minutes=30)),
    ]  # fmt: skip
    plans = plan_rebuilds([(base_pipe, BASE), (web_pipe, WEB), (off, WEB)], records, T0)
    decided = [(p.pipeline, p.decision.start, p.decision.trigger or p.decision.skipped)
               for p in plans]  # fmt: skip
    assert decided == [
        ("base", True, "fix for CVE-2099-0002 in zlib1g 1:9.9.9-1 (HIGH)"),
        ("web", False,
         "cool-down: the last build started 30 min ago (coolDownMinutes 60; 30 min left)"),
    ]  # fmt: skip
    later = plan_rebuilds([(web_pipe, WEB)], records, T0 + timedelta(hours=1))
    assert later[0].decision.trigger == "parent updated: web-base 1.0.0/3 is newer than 1.0.0/2"


@pytest.mark.parametrize(
    ("previous", "current", "trigger"),
    [
        ({}, {"versions": "ImageRecipe/web/1.0.0", "parent": ""}, "schedule"),
        (
            {"versions": "Component/site/1.0.0,ImageRecipe/web/1.0.0", "parent": ""},
            {"versions": "Component/site/1.0.1,ImageRecipe/web/1.0.1", "parent": ""},
            "dependency update: component site 1.0.1, recipe web 1.0.1",
        ),
        (
            {"versions": "ImageRecipe/web/1.0.0", "parent": "web-base 1.0.0/2"},
            {"versions": "ImageRecipe/web/1.0.0", "parent": "web-base 1.0.0/3"},
            "parent updated: web-base 1.0.0/3",
        ),
    ],
)
def test_dependency_trigger(
    previous: dict[str, str], current: dict[str, str], trigger: str
) -> None:
    assert dependency_trigger(previous, current) == trigger


PIPELINE = """
apiVersion: patchwarden/v1
kind: ImagePipeline
metadata: {name: web}
spec:
  imageRecipeArn: web/1.x.x
"""


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", None),
        ("  rebuildOnFix: {}\n", RebuildOnFix()),
        (
            "  rebuildOnFix: {severity: CRITICAL, coolDownMinutes: 0, maxBuildsPerDay: 1}\n",
            RebuildOnFix(Severity.CRITICAL, 0, 1),
        ),
    ],
)
def test_rebuild_on_fix_document(spec: str, expected: RebuildOnFix | None) -> None:
    from patchwarden.documents import parse_documents

    (document,) = parse_documents(PIPELINE + spec, "p.yaml")
    assert document.pipeline.rebuild_on_fix == expected  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "{severity: UNTRIAGED}",
            "p.yaml: spec.rebuildOnFix.severity: unknown severity 'UNTRIAGED' "
            "(one of INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL)",
        ),
        (
            "{maxBuildsPerDay: 0}",
            "p.yaml: spec.rebuildOnFix.maxBuildsPerDay: Input should be greater than or equal to 1",
        ),
        ("{coolDown: 5}", "p.yaml: spec.rebuildOnFix.coolDown: unknown field"),
    ],
)
def test_rebuild_on_fix_document_errors(spec: str, message: str) -> None:
    from patchwarden.documents import parse_documents
    from patchwarden.errors import InputError

    with pytest.raises(InputError) as refused:
        parse_documents(PIPELINE + f"  rebuildOnFix: {spec}\n", "p.yaml")
    assert str(refused.value) == message
