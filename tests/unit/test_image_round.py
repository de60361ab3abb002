"""The server's image builder round as a use case (``pipeline.fleet.image_round``), with its
ports in memory: no database, no HTTP.  The round through the server's API and tables is
tested in tests/server/test_server_images.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from patchwarden.core.imagebuild import Distributed, ImageRecord, ImageStatus
from patchwarden.core.semver import ImageVersion
from patchwarden.documents.image import ImageDocuments, image_documents_of
from patchwarden.pipeline.fleet import image_round
from patchwarden.pipeline.fleet.commands import Fleet
from patchwarden.pipeline.fleet.image_round import Build, BuildRound

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

DOCS = """
apiVersion: patchwarden/v1
kind: Component
metadata: {name: site}
spec:
  semanticVersion: 1.0.0
  data:
    schemaVersion: 1.0
    phases:
      - name: build
        steps:
          - {name: index, action: CreateFile, inputs: [{path: /srv/index.html, content: hi}]}
---
apiVersion: patchwarden/v1
kind: ImageRecipe
metadata: {name: web}
spec:
  semanticVersion: 1.0.0
  parentImage: {bootstrap: {suite: bookworm}}
  components: [{componentArn: site/1.x.x}]
---
apiVersion: patchwarden/v1
kind: ImagePipeline
metadata: {name: nightly}
spec:
  imageRecipeArn: web/1.x.x
  schedule:
    scheduleExpression: cron(0 3 * * ? *)
    autoDisablePolicy: {failureCount: 2}
---
apiVersion: patchwarden/v1
kind: LifecyclePolicy
metadata: {name: keep-one}
spec:
  resourceSelection: {recipes: [{name: web, semanticVersion: x.x.x}]}
  policyDetails:
    - action: {type: DELETE}
      filter: {type: COUNT, value: 1}
"""


def documents() -> ImageDocuments:
    return image_documents_of(list(yaml.safe_load_all(DOCS)), "test")


def image(version: str, status: ImageStatus, at: datetime = NOW) -> ImageRecord:
    return ImageRecord("web", ImageVersion.parse(version), status, at, at, pipeline="nightly")


class Catalog:
    def __init__(self, *records: ImageRecord) -> None:
        self.records = {r.key: r for r in records}

    def next_build(self, name: str, version: str) -> int:
        return 1 + sum(1 for r in self.records.values() if r.name == name)

    def get(self, name: str, version: str) -> ImageRecord | None:
        wanted = (name, version)
        return next((r for r in self.records.values() if (r.name, str(r.version)) == wanted), None)

    def images(self, name: str | None = None) -> list[ImageRecord]:
        return [r for r in self.records.values() if name is None or r.name == name]

    def save(self, record: ImageRecord, *, node_id: str = "", command_id: str = "") -> None:
        self.records[record.key] = record

    def delete(self, record: ImageRecord) -> None:
        del self.records[record.key]


@dataclass
class Memory:
    status: str = "ENABLED"
    consecutive_failures: int = 0
    enabled_at: datetime | None = None
    last_started_at: datetime | None = None
    last_inputs: dict[str, Any] = field(default_factory=dict)


class States:
    def __init__(self) -> None:
        self.kept: dict[str, Memory] = {}

    def get(self, name: str) -> Memory:
        return self.kept.setdefault(name, Memory())


class Builds:
    def __init__(self, *running: Build) -> None:
        self.running = list(running)

    def builders(self, capability: str) -> list[tuple[str, datetime | None]]:
        return []  # no builder node: a build that starts fails to plan

    def in_progress(self) -> list[Build]:
        return self.running


class Audit:
    def __init__(self) -> None:
        self.entries: list[tuple[str, str, str, dict[str, Any]]] = []

    def record(
        self, actor: str, action: str, target: str, at: datetime, details: Any = None
    ) -> None:
        self.entries.append((actor, action, target, dict(details or {})))


class Remover:
    def __init__(self) -> None:
        self.removed: list[str] = []

    def remove_local(self, record: ImageRecord) -> None:
        self.removed.append(f"{record.name} {record.version}")

    def remove_remote(self, target: Distributed) -> str | None:
        return None  # the images here were never pushed


def ports(catalog: Catalog, builds: Builds | None = None) -> tuple[BuildRound, States, Audit]:
    states, audit = States(), Audit()
    no_fleet: Any = None  # these rounds start no command (a start would need a builder node)
    fleet = Fleet(no_fleet, no_fleet, no_fleet)
    bound = BuildRound(catalog, states, builds or Builds(), fleet, audit, Remover())
    return bound, states, audit


def test_sweep_ends_builds_whose_invocation_ended() -> None:
    failed, cancelled, running = (
        image("1.0.0/1", ImageStatus.BUILDING),
        image("1.0.0/2", ImageStatus.BUILDING),
        image("1.0.0/3", ImageStatus.BUILDING),
    )
    catalog = Catalog(failed, cancelled, running)
    builds = Builds(
        Build(failed, "c1", "Failed", "apt-get: no space left on device\nmore"),
        Build(cancelled, "c2", "Cancelled", ""),
        Build(running, "c3", "InProgress", ""),
    )
    bound, _, audit = ports(catalog, builds)
    assert image_round.sweep(bound, NOW) == 2
    first = catalog.get("web", "1.0.0/1")
    assert first is not None and first.status is ImageStatus.FAILED
    assert first.reason == "the build's invocation ended Failed: apt-get: no space left on device"
    second = catalog.get("web", "1.0.0/2")
    assert second is not None and second.status is ImageStatus.CANCELLED
    third = catalog.get("web", "1.0.0/3")
    assert third is not None and third.status is ImageStatus.BUILDING
    assert [(a, action, t) for a, action, t, _ in audit.entries] == [
        ("scheduler", "image.failed", "web 1.0.0/1"),
        ("scheduler", "image.cancelled", "web 1.0.0/2"),
    ]


def test_consecutive_failures_disable_the_pipeline_and_nothing_starts() -> None:
    catalog = Catalog(
        image("1.0.0/1", ImageStatus.AVAILABLE, NOW - timedelta(days=3)),
        image("1.0.0/2", ImageStatus.FAILED, NOW - timedelta(days=2)),
        image("1.0.0/3", ImageStatus.FAILED, NOW - timedelta(days=1)),
    )
    bound, states, audit = ports(catalog)
    states.get("nightly").last_started_at = NOW - timedelta(days=1)
    assert image_round.schedules(bound, documents(), NOW) == []
    memory = states.get("nightly")
    assert (memory.status, memory.consecutive_failures) == ("DISABLED", 2)
    assert audit.entries == [
        ("scheduler", "image-pipeline.disable", "nightly", {"consecutive_failures": 2})
    ]


def test_failures_before_the_pipeline_was_enabled_again_do_not_count() -> None:
    catalog = Catalog(
        image("1.0.0/1", ImageStatus.FAILED, NOW - timedelta(days=2)),
        image("1.0.0/2", ImageStatus.FAILED, NOW - timedelta(days=1)),
    )
    bound, states, audit = ports(catalog)
    memory = states.get("nightly")
    memory.enabled_at, memory.last_started_at = NOW - timedelta(hours=1), NOW - timedelta(hours=1)
    image_round.schedules(bound, documents(), NOW)  # 03:00 did not pass since 11:00
    assert (memory.status, memory.consecutive_failures) == ("ENABLED", 0)
    assert audit.entries == []


def test_a_schedule_counts_from_when_it_was_first_seen() -> None:
    bound, states, audit = ports(Catalog())
    assert image_round.schedules(bound, documents(), NOW) == []
    assert states.get("nightly").last_started_at == NOW
    assert audit.entries == []


def test_a_lifecycle_policy_runs_once_a_day() -> None:
    catalog = Catalog(
        image("1.0.0/1", ImageStatus.AVAILABLE, NOW - timedelta(days=2)),
        image("1.0.0/2", ImageStatus.AVAILABLE, NOW - timedelta(days=1)),
    )
    bound, states, audit = ports(catalog)
    assert image_round.lifecycle(bound, documents(), NOW) == 1
    assert [(str(r.version), r.status) for r in catalog.images()] == [
        ("1.0.0/1", ImageStatus.DELETED),
        ("1.0.0/2", ImageStatus.AVAILABLE),
    ]
    assert bound.remover.removed == ["web 1.0.0/1"]  # type: ignore[attr-defined]
    assert audit.entries == [
        ("scheduler", "lifecycle-policy.run", "keep-one", {"actions": ["DELETE web 1.0.0/1"]})
    ]
    catalog.save(image("1.0.1/1", ImageStatus.AVAILABLE, NOW))
    assert image_round.lifecycle(bound, documents(), NOW + timedelta(hours=23)) == 0
    assert image_round.lifecycle(bound, documents(), NOW + timedelta(days=1)) == 1
    assert states.get("lifecycle/keep-one").last_started_at == NOW + timedelta(days=1)
