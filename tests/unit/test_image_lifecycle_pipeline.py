"""Deleting images, running lifecycle policies and finding an image, over the real
:class:`LocalImageCatalog` and a recording :class:`ImageRemover`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from patchwarden.adapters.image.catalog import LocalImageCatalog
from patchwarden.core.imagebuild import Distributed, ImageRecord, ImageStatus, StatusChange
from patchwarden.core.lifecycle import (
    LifecycleAction,
    LifecyclePolicy,
    PlannedAction,
    PolicyDetail,
    ResourceSelection,
)
from patchwarden.core.semver import ImageVersion, VersionSelector
from patchwarden.errors import InputError, PatchwardenError
from patchwarden.pipeline.image_lifecycle import delete_image, find_image, run_lifecycle

NOW = datetime(2026, 11, 1, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
D1 = "sha256:" + "11" * 32
D2 = "sha256:" + "22" * 32
FLEET = "127.0.0.1:5055/fleet/web"
MIRROR = "registry.example/mirror/web"


class FakeRemover:
    """Records what it was asked to remove; a digest in ``absent`` is not in the registry,
    a destination in ``broken`` fails."""

    def __init__(self) -> None:
        self.local: list[str] = []
        self.remote: list[str] = []
        self.absent: set[str] = set()
        self.broken: set[str] = set()

    def remove_local(self, record: ImageRecord) -> None:
        self.local.append(f"{record.name} {record.version}")

    def remove_remote(self, target: Distributed) -> str | None:
        if target.destination in self.broken:
            raise PatchwardenError("401 unauthorized")
        self.remote.append(f"{target.destination}@{target.digest}")
        return None if target.digest in self.absent else target.digest


def image(
    version: str,
    status: ImageStatus = ImageStatus.AVAILABLE,
    *,
    name: str = "web",
    age_days: int = 0,
    pushed: tuple[tuple[str, str], ...] = (),
) -> ImageRecord:
    created = NOW - timedelta(days=age_days)
    return ImageRecord(
        name,
        ImageVersion.parse(version),
        status,
        created,
        created,
        digest=pushed[0][1] if pushed else "",
        layout=f"/images/{name}",
        distributed=tuple(Distributed(d, (version.replace("/", "-"),), g) for d, g in pushed),
        history=(StatusChange(created, status, "built"),),
    )


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[LocalImageCatalog]:
    opened = LocalImageCatalog(tmp_path / "catalog.db")
    yield opened
    opened.close()


@pytest.fixture
def remover() -> FakeRemover:
    return FakeRemover()


def status(catalog: LocalImageCatalog, name: str, version: str) -> str:
    found = catalog.get(name, version)
    assert found is not None
    return found.status.value


# -- delete_image --------------------------------------------------------------------------


def test_delete_removes_the_local_image_and_every_remote_manifest(
    catalog: LocalImageCatalog, remover: FakeRemover
) -> None:
    record = image("1.0.0/1", pushed=((FLEET, D1), (MIRROR, D1)))
    catalog.save(record)

    done = delete_image(record, catalog, remover, LATER, actor="alice", reason="no longer used")

    assert remover.local == ["web 1.0.0/1"]
    assert remover.remote == [f"{FLEET}@{D1}", f"{MIRROR}@{D1}"]
    assert done.removed == (f"{FLEET}@{D1}", f"{MIRROR}@{D1}")
    assert done.kept == ()
    assert done.record.status is ImageStatus.DELETED
    assert done.record.updated == LATER
    last = done.record.history[-1]
    assert (last.at, last.status, last.actor) == (LATER, ImageStatus.DELETED, "alice")
    assert last.reason == f"no longer used: removed {FLEET}@{D1}, {MIRROR}@{D1}"
    assert [h.status.value for h in done.record.history] == ["AVAILABLE", "DELETED"]
    assert done.record.reason == ""  # reason is for FAILED and CANCELLED only
    assert catalog.get("web", "1.0.0/1") == done.record


def test_delete_keeps_a_manifest_another_image_still_uses(
    catalog: LocalImageCatalog, remover: FakeRemover
) -> None:
    first = image("1.0.0/1", pushed=((FLEET, D1), (MIRROR, D1)))
    # a reproducible rebuild: the same digest pushed to the same place
    second = image("1.0.0/2", pushed=((FLEET, D1),))
    # the same digest elsewhere, or another digest here, does not count
    third = image("1.1.0/1", pushed=((FLEET, D2),), name="web")
    other = image("1.0.0/1", name="api", pushed=(("127.0.0.1:5055/fleet/api", D1),))
    for r in (first, second, third, other):
        catalog.save(r)

    done = delete_image(first, catalog, remover, LATER)

    assert remover.remote == [f"{MIRROR}@{D1}"]
    assert done.removed == (f"{MIRROR}@{D1}",)
    assert done.kept == (f"{FLEET}@{D1} (also image web 1.0.0/2)",)
    assert done.record.history[-1].reason == (
        f"deleted: removed {MIRROR}@{D1}; kept {FLEET}@{D1} (also image web 1.0.0/2)"
    )
    assert remover.local == ["web 1.0.0/1"]


def test_delete_removes_a_shared_manifest_once_the_other_image_is_deleted(
    catalog: LocalImageCatalog, remover: FakeRemover
) -> None:
    first = image("1.0.0/1", pushed=((FLEET, D1),))
    second = image("1.0.0/2", ImageStatus.DELETED, pushed=((FLEET, D1),))
    catalog.save(first)
    catalog.save(second)

    done = delete_image(first, catalog, remover, LATER)

    assert remover.remote == [f"{FLEET}@{D1}"]
    assert (done.removed, done.kept) == ((f"{FLEET}@{D1}",), ())


def test_delete_says_when_a_manifest_was_no_longer_there(
    catalog: LocalImageCatalog, remover: FakeRemover
) -> None:
    record = image("1.0.0/1", pushed=((FLEET, D1),))
    catalog.save(record)
    remover.absent.add(D1)

    done = delete_image(record, catalog, remover, LATER)

    assert (done.removed, done.kept) == ((), (f"{FLEET}@{D1} (not there)",))
    assert done.record.history[-1].reason == f"deleted: kept {FLEET}@{D1} (not there)"


def test_a_registry_error_stops_the_deletion_and_names_the_image(
    catalog: LocalImageCatalog, remover: FakeRemover
) -> None:
    record = image("1.0.0/1", pushed=((FLEET, D1), (MIRROR, D1)))
    catalog.save(record)
    remover.broken.add(MIRROR)

    with pytest.raises(PatchwardenError) as failed:
        delete_image(record, catalog, remover, LATER)

    assert str(failed.value) == f"image web 1.0.0/1: {MIRROR}: 401 unauthorized"
    assert remover.local == []
    assert status(catalog, "web", "1.0.0/1") == "AVAILABLE"


def test_delete_with_registries_off_leaves_the_remote_manifests(
    catalog: LocalImageCatalog, remover: FakeRemover
) -> None:
    record = image("1.0.0/1", pushed=((FLEET, D1),))
    catalog.save(record)

    done = delete_image(record, catalog, remover, LATER, registries=False)

    assert remover.remote == []
    assert remover.local == ["web 1.0.0/1"]
    assert (done.removed, done.kept) == ((), ())
    assert done.record.status is ImageStatus.DELETED
    assert done.record.history[-1].reason == "deleted"
    assert done.record.distributed == record.distributed


@pytest.mark.parametrize("state", ["PENDING", "BUILDING", "TESTING", "DISTRIBUTING"])
def test_a_build_in_progress_cannot_be_deleted(
    catalog: LocalImageCatalog, remover: FakeRemover, state: str
) -> None:
    record = image("1.0.0/1", ImageStatus(state), pushed=((FLEET, D1),))
    catalog.save(record)

    with pytest.raises(InputError) as refused:
        delete_image(record, catalog, remover, LATER)

    assert str(refused.value) == (
        f"image web 1.0.0/1 is {state}: a build still running cannot be deleted"
    )
    assert (remover.local, remover.remote) == ([], [])
    assert status(catalog, "web", "1.0.0/1") == state


def test_an_image_already_deleted_is_refused(
    catalog: LocalImageCatalog, remover: FakeRemover
) -> None:
    record = image("1.0.0/1", ImageStatus.DELETED)
    catalog.save(record)

    with pytest.raises(InputError) as refused:
        delete_image(record, catalog, remover, LATER)

    assert str(refused.value) == "image web 1.0.0/1 is already DELETED"
    assert (remover.local, remover.remote) == ([], [])
    found = catalog.get("web", "1.0.0/1")
    assert found is not None and len(found.history) == 1


@pytest.mark.parametrize("state", ["FAILED", "CANCELLED", "DEPRECATED", "DISABLED"])
def test_finished_images_can_be_deleted(
    catalog: LocalImageCatalog, remover: FakeRemover, state: str
) -> None:
    record = image("1.0.0/1", ImageStatus(state))
    catalog.save(record)
    done = delete_image(record, catalog, remover, LATER)
    assert status(catalog, "web", "1.0.0/1") == "DELETED"
    assert [h.status.value for h in done.record.history] == [state, "DELETED"]


# -- run_lifecycle -------------------------------------------------------------------------


def policy(name: str, *details: PolicyDetail, selector: str = "1.x.x") -> LifecyclePolicy:
    return LifecyclePolicy(
        name, details, ResourceSelection(recipes=(("web", VersionSelector.parse(selector)),))
    )


@pytest.fixture
def aged(catalog: LocalImageCatalog) -> LocalImageCatalog:
    """web 1.0.0/1 (100 days old), 1.0.0/2 (50), 1.1.0/1 (1), a FAILED 1.2.0/1 (200) and an
    api image the policies do not select."""
    for r in (
        image("1.0.0/1", age_days=100, pushed=((FLEET, D1),)),
        image("1.0.0/2", age_days=50, pushed=((FLEET, D1),)),
        image("1.1.0/1", age_days=1, pushed=((FLEET, D2),)),
        image("1.2.0/1", ImageStatus.FAILED, age_days=200),
        image("1.0.0/1", name="api", age_days=300),
    ):
        catalog.save(r)
    return catalog


def statuses(catalog: LocalImageCatalog) -> dict[str, str]:
    return {f"{r.name} {r.version}": r.status.value for r in catalog.images()}


def test_a_dry_run_plans_and_changes_nothing(aged: LocalImageCatalog, remover: FakeRemover) -> None:
    before = aged.images()
    heard: list[PlannedAction] = []
    planned = run_lifecycle(
        policy("keep-one", PolicyDetail(LifecycleAction.DELETE, "COUNT", 1)),
        aged,
        remover,
        NOW,
        dry_run=True,
        on_action=heard.append,
    )

    assert [(str(p.image.version), p.action, p.reason) for p in planned] == [
        ("1.0.0/1", LifecycleAction.DELETE, "beyond the newest 1 of web"),
        ("1.0.0/2", LifecycleAction.DELETE, "beyond the newest 1 of web"),
    ]
    assert aged.images() == before
    assert (remover.local, remover.remote) == ([], [])
    assert heard == []


@pytest.mark.parametrize(
    ("action", "state"),
    [(LifecycleAction.DEPRECATE, "DEPRECATED"), (LifecycleAction.DISABLE, "DISABLED")],
)
def test_deprecate_and_disable_change_the_status_with_the_policy_reason(
    aged: LocalImageCatalog, remover: FakeRemover, action: LifecycleAction, state: str
) -> None:
    heard: list[PlannedAction] = []
    planned = run_lifecycle(
        policy("age", PolicyDetail(action, "AGE", 30, unit="DAYS")),
        aged,
        remover,
        NOW,
        actor="ops",
        on_action=heard.append,
    )

    assert heard == planned
    assert statuses(aged) == {
        "api 1.0.0/1": "AVAILABLE",
        "web 1.0.0/1": state,
        "web 1.0.0/2": state,
        "web 1.1.0/1": "AVAILABLE",
        "web 1.2.0/1": "FAILED",
    }
    changed = aged.get("web", "1.0.0/1")
    assert changed is not None
    last = changed.history[-1]
    assert (last.at, last.status.value, last.actor) == (NOW, state, "ops")
    assert last.reason == "lifecycle policy age: older than 30 days (created 2026-07-24)"
    assert changed.reason == ""
    assert (remover.local, remover.remote) == ([], [])


def test_delete_goes_through_the_remover(aged: LocalImageCatalog, remover: FakeRemover) -> None:
    planned = run_lifecycle(
        policy("keep-one", PolicyDetail(LifecycleAction.DELETE, "COUNT", 1)),
        aged,
        remover,
        NOW,
        actor="ops",
    )

    assert len(planned) == 2
    assert statuses(aged) == {
        "api 1.0.0/1": "AVAILABLE",
        "web 1.0.0/1": "DELETED",
        "web 1.0.0/2": "DELETED",
        "web 1.1.0/1": "AVAILABLE",
        "web 1.2.0/1": "FAILED",
    }
    assert remover.local == ["web 1.0.0/1", "web 1.0.0/2"]
    # 1.0.0/1 and 1.0.0/2 share D1: kept while 1.0.0/2 stands, removed with it
    assert remover.remote == [f"{FLEET}@{D1}"]
    first, second = aged.get("web", "1.0.0/1"), aged.get("web", "1.0.0/2")
    assert first is not None and second is not None
    assert first.history[-1].reason == (
        "lifecycle policy keep-one: beyond the newest 1 of web: "
        f"kept {FLEET}@{D1} (also image web 1.0.0/2)"
    )
    assert second.history[-1].reason == (
        f"lifecycle policy keep-one: beyond the newest 1 of web: removed {FLEET}@{D1}"
    )
    assert (second.history[-1].actor, second.history[-1].at) == ("ops", NOW)


def test_a_disabled_policy_does_nothing(aged: LocalImageCatalog, remover: FakeRemover) -> None:
    before = aged.images()
    off = replace(policy("off", PolicyDetail(LifecycleAction.DELETE, "COUNT", 1)), enabled=False)
    assert run_lifecycle(off, aged, remover, NOW) == []
    assert aged.images() == before


# -- find_image ----------------------------------------------------------------------------


@pytest.fixture
def listed(catalog: LocalImageCatalog) -> LocalImageCatalog:
    for version, state in [
        ("1.0.0/1", ImageStatus.AVAILABLE),
        ("1.0.0/2", ImageStatus.AVAILABLE),
        ("1.1.0/1", ImageStatus.AVAILABLE),
        ("2.0.0/1", ImageStatus.FAILED),
    ]:
        catalog.save(image(version, state))
    catalog.save(image("9.0.0/1", name="api"))
    return catalog


def test_find_an_exact_build(listed: LocalImageCatalog) -> None:
    found = find_image(listed, "web", "1.0.0/1")
    assert (found.name, str(found.version)) == ("web", "1.0.0/1")


@pytest.mark.parametrize(
    ("selector", "expected"),
    [("1.0.0", "1.0.0/2"), ("1.x.x", "1.1.0/1"), ("1.0.x", "1.0.0/2"), ("x.x.x", "2.0.0/1")],
)
def test_a_selector_finds_the_newest_build(
    listed: LocalImageCatalog, selector: str, expected: str
) -> None:
    assert str(find_image(listed, "web", selector).version) == expected


def test_an_unknown_name_is_an_input_error(listed: LocalImageCatalog) -> None:
    with pytest.raises(InputError) as refused:
        find_image(listed, "nope", "1.0.0/1")
    assert str(refused.value) == "no image named 'nope' (patchwarden image list shows them)"


@pytest.mark.parametrize("version", ["1.0.0/3", "3.x.x", "1.2.0"])
def test_an_unknown_version_names_the_builds_there_are(
    listed: LocalImageCatalog, version: str
) -> None:
    with pytest.raises(InputError) as refused:
        find_image(listed, "web", version)
    assert str(refused.value) == (
        f"no image web {version} (builds: 1.0.0/1, 1.0.0/2, 1.1.0/1, 2.0.0/1)"
    )


def test_an_unknown_version_names_the_ten_newest_builds(catalog: LocalImageCatalog) -> None:
    for build in range(1, 13):
        catalog.save(image(f"1.0.0/{build}"))
    with pytest.raises(InputError) as refused:
        find_image(catalog, "web", "2.0.0")
    shown = ", ".join(f"1.0.0/{b}" for b in range(3, 13))
    assert str(refused.value) == f"no image web 2.0.0 (builds: {shown})"


def test_a_malformed_version_is_an_input_error(listed: LocalImageCatalog) -> None:
    with pytest.raises(InputError) as refused:
        find_image(listed, "web", "latest")
    assert str(refused.value) == (
        "version 'latest': must be a version (1.2.3), a wildcard (1.2.x, 1.x.x, x.x.x) "
        "or a build (1.2.3/4), got 'latest'"
    )
