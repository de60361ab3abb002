"""The fleet assessment use case (:mod:`patchwarden.pipeline.fleet.assess`) over in-memory
fakes of its ports: which nodes a round assesses, the read → match → write steps, the memo
of failing nodes, and the real matcher's findings history reaching the write step."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from patchwarden.core.model import InstalledPackage, Inventory, OsInfo, Package
from patchwarden.core.suppression import FindingRecord, Suppression
from patchwarden.core.vuln import Advisory, AdvisoryStatus, Finding, FindingStatus, FixAvailable
from patchwarden.core.vuln import Severity as VulnSeverity
from patchwarden.pipeline.assess import Assessment
from patchwarden.pipeline.fleet.assess import (
    FailedKey,
    FleetAssessment,
    Outcome,
    Seen,
    StoredNode,
)
from patchwarden.ports import AdvisoryStore, FeedStatus, StateStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DB_TIME = NOW - timedelta(days=1)
DEBIAN = OsInfo("debian", "12", "bookworm", "Debian 12", "debian", "DEBIAN", "Debian12")


class FixedClock:
    """A clock that always says ``at``."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def inventory(node_id: str, version: str = "1.0-1") -> Inventory:
    pkg = Package("libfoo1", "amd64", version, source_name="foo", source_version=version)
    return Inventory(DEBIAN, f"host-{node_id}", node_id, "deb", (InstalledPackage(pkg),), ())


class ListStore:
    """An AdvisoryStore over a list."""

    def __init__(self, advisories: Iterable[Advisory] = ()) -> None:
        self.items = list(advisories)

    def advisories(self, ecosystem: str, packages: Iterable[str]) -> list[Advisory]:
        names = set(packages)
        return [a for a in self.items if a.ecosystem == ecosystem and a.package in names]

    def feeds(self) -> list[FeedStatus]:
        return [FeedStatus("debian-tracker", NOW, len(self.items))]

    def ecosystems(self) -> list[str]:
        return ["Debian:12"]


@dataclass
class FakeNode:
    """A node as the fake database holds it."""

    inventory: Inventory | None
    uploaded_at: datetime = NOW - timedelta(hours=1)
    content_hash: str = "h1"
    assessed_at: datetime | None = None
    history: list[FindingRecord] = field(default_factory=list)
    taken: bool = False
    """Another replica holds its lock."""


class FakeRead:
    def __init__(self, fleet: FakeFleet, node_id: str) -> None:
        self.fleet, self.node_id = fleet, node_id
        node = fleet.nodes[node_id]
        self._seen = Seen(node.uploaded_at, node.content_hash, node.assessed_at)

    @property
    def seen(self) -> Seen:
        return self._seen

    def load(self) -> StoredNode | None:
        self.fleet.events.append(("load", self.node_id))
        node = self.fleet.nodes[self.node_id]
        if node.inventory is None:
            return None
        return StoredNode(node.inventory, (self.node_id, f"host-{self.node_id}"), node.history)


class FakeFleet:
    """AssessmentQueue, StoredInventories and FindingsWriter over a dict of nodes."""

    def __init__(self, **nodes: FakeNode) -> None:
        self.nodes = nodes
        self.asked: list[int] = []
        self.events: list[tuple[str, str]] = []
        self.stored: dict[str, Outcome] = {}
        self.on_store: Callable[[str], None] = lambda _: None

    def _pending(self, node: FakeNode, db_time: datetime) -> bool:
        last = node.assessed_at
        return last is None or last < node.uploaded_at or last < db_time

    def pending(self, db_time: datetime, limit: int) -> list[str]:
        self.asked.append(limit)
        waiting = [n for n, node in sorted(self.nodes.items()) if self._pending(node, db_time)]
        return waiting[:limit]

    @contextmanager
    def read(self, node_id: str, db_time: datetime) -> Iterator[FakeRead | None]:
        node = self.nodes.get(node_id)
        if node is None or node.taken or not self._pending(node, db_time):
            yield None
            return
        self.events.append(("read", node_id))
        try:
            yield FakeRead(self, node_id)
        finally:
            self.events.append(("end", node_id))

    def store(self, node_id: str, seen: Seen, outcome: Outcome) -> bool:
        self.events.append(("store", node_id))
        self.on_store(node_id)
        node = self.nodes[node_id]
        if (node.uploaded_at, node.content_hash, node.assessed_at) != (
            seen.uploaded_at,
            seen.content_hash,
            seen.assessed_at,
        ):
            return False
        node.assessed_at = outcome.at
        if outcome.records is not None:
            node.history = list(outcome.records)
        self.stored[node_id] = outcome
        return True


def fake_match(
    inventory: Inventory,
    now: datetime,
    *,
    store: AdvisoryStore | None,
    state: StateStore | None,
    suppressions: Sequence[Suppression],
    node_names: Iterable[str],
) -> Assessment:
    """Records the history back unchanged, warns with the names it was given."""
    assert state is not None
    state.record_findings(inventory.root, state.finding_history(inventory.root))
    return Assessment((), (",".join(node_names),))


def assessment(
    fleet: FakeFleet,
    failed: dict[str, FailedKey] | None = None,
    match: Any = fake_match,
    failures: list[tuple[str, Exception]] | None = None,
) -> FleetAssessment:
    def on_failure(node_id: str, exc: Exception) -> None:
        if failures is not None:
            failures.append((node_id, exc))

    memo = {} if failed is None else failed
    return FleetAssessment(fleet, fleet, fleet, memo, match=match, on_failure=on_failure)


class Opener:
    """``open_store`` that counts its openings and closings."""

    def __init__(self, store: AdvisoryStore | None = None) -> None:
        self.store = store if store is not None else ListStore()
        self.usable = True
        self.opened = self.closed = 0

    @contextmanager
    def _open(self) -> Iterator[AdvisoryStore | None]:
        self.opened += 1
        try:
            yield self.store if self.usable else None
        finally:
            self.closed += 1

    def __call__(self) -> AbstractContextManager[AdvisoryStore | None]:
        return self._open()


def run(fleet: FleetAssessment, opener: Opener | None = None, limit: int = 20) -> int:
    return fleet.round(opener or Opener(), DB_TIME, FixedClock(NOW), limit)


def test_a_round_assesses_the_pending_nodes_and_stores_their_outcome() -> None:
    kept = Finding(
        "CVE-2026-1", (), "zlib1g", "1", "amd64", "zlib", None, FixAvailable.NO,
        VulnSeverity.HIGH, "cvss", AdvisoryStatus.AFFECTED, ("debian-tracker",),
    )  # fmt: skip
    history = [FindingRecord(kept, None)]
    fleet = FakeFleet(a=FakeNode(inventory("a"), history=history), b=FakeNode(inventory("b")))
    fleet.nodes["b"].assessed_at = NOW - timedelta(minutes=1)  # after upload and database
    opener = Opener()
    assert run(assessment(fleet), opener) == 1
    assert opener.opened == opener.closed == 1
    stored = fleet.stored["a"]
    assert stored.records == history and stored.assessed and stored.at == NOW
    assert stored.events == ()  # the HIGH finding was there before: nothing new
    assert stored.warnings == ("a,host-a",)
    assert run(assessment(fleet), opener) == 0
    assert opener.opened == 1  # nothing pending: the database is not opened


def test_the_read_is_held_until_the_write_step() -> None:
    fleet = FakeFleet(a=FakeNode(inventory("a")))
    assert run(assessment(fleet)) == 1
    assert fleet.events == [("read", "a"), ("load", "a"), ("store", "a"), ("end", "a")]


def test_the_assessment_time_is_not_before_the_upload() -> None:
    fleet = FakeFleet(a=FakeNode(inventory("a"), uploaded_at=NOW + timedelta(seconds=5)))
    assert run(assessment(fleet)) == 1
    assert fleet.stored["a"].at == NOW + timedelta(seconds=5)


def test_the_limit_bounds_a_round_and_leaves_room_for_skipped_nodes() -> None:
    fleet = FakeFleet(**{n: FakeNode(inventory(n)) for n in "abcde"})
    failed: dict[str, FailedKey] = {"zz": (NOW, "h", DB_TIME)}
    assert run(assessment(fleet, failed), limit=2) == 2
    assert fleet.asked == [2 * 2 + 1]
    assert sorted(fleet.stored) == ["a", "b"]


def test_no_limit_asks_nothing() -> None:
    fleet = FakeFleet(a=FakeNode(inventory("a")))
    opener = Opener()
    assert run(assessment(fleet), opener, limit=0) == 0
    assert fleet.asked == [] and opener.opened == 0


def test_an_unusable_database_assesses_nothing() -> None:
    fleet = FakeFleet(a=FakeNode(inventory("a")))
    opener = Opener()
    opener.usable = False
    assert run(assessment(fleet), opener) == 0
    assert opener.opened == opener.closed == 1 and fleet.events == []


def test_nodes_taken_or_gone_are_skipped() -> None:
    fleet = FakeFleet(
        a=FakeNode(inventory("a"), taken=True), b=FakeNode(None), c=FakeNode(inventory("c"))
    )
    assert run(assessment(fleet)) == 1
    assert list(fleet.stored) == ["c"]
    assert ("store", "b") not in fleet.events  # its inventory vanished after the listing


def test_an_upload_during_the_match_drops_the_result() -> None:
    fleet = FakeFleet(a=FakeNode(inventory("a")))

    def upload(node_id: str) -> None:
        fleet.nodes[node_id].content_hash = "h2"

    fleet.on_store = upload
    assert run(assessment(fleet)) == 0
    assert fleet.nodes["a"].assessed_at is None
    fleet.on_store = lambda _: None
    assert run(assessment(fleet)) == 1


def test_a_failing_node_is_remembered_until_its_inventory_changes() -> None:
    fleet = FakeFleet(bad=FakeNode(inventory("bad")), good=FakeNode(inventory("good")))
    failed: dict[str, FailedKey] = {}
    failures: list[tuple[str, Exception]] = []

    def flaky(inv: Inventory, *args: Any, **kw: Any) -> Assessment:
        if inv.root == "bad":
            raise ValueError("boom")
        return fake_match(inv, *args, **kw)

    uc = assessment(fleet, failed, flaky, failures)
    assert run(uc, limit=1) == 1  # the failing node does not starve the other
    assert failed == {"bad": (fleet.nodes["bad"].uploaded_at, "h1", DB_TIME)}
    assert run(uc) == 0  # not tried again while nothing changed
    assert [(n, str(e)) for n, e in failures] == [("bad", "boom")]
    assert ("load", "bad") in fleet.events and fleet.events.count(("load", "bad")) == 1
    fleet.nodes["bad"].content_hash = "h2"  # a new upload
    assert run(assessment(fleet, failed)) == 1
    assert failed == {}


def test_the_real_matcher_keeps_the_findings_history() -> None:
    advisory = Advisory(
        "CVE-2026-0001",
        "debian-tracker",
        "Debian:12",
        "foo",
        AdvisoryStatus.FIXED,
        "1.0-1+deb12u1",
        vendor_severity="high",
    )
    fleet = FakeFleet(a=FakeNode(inventory("a")))
    uc = FleetAssessment(fleet, fleet, fleet, {})  # pipeline.assess.assess
    opener = Opener(ListStore([advisory]))
    assert uc.round(opener, DB_TIME, FixedClock(NOW), 20) == 1
    first = fleet.nodes["a"].history
    assert [(r.finding.vulnerability_id, r.closed_at) for r in first] == [("CVE-2026-0001", None)]
    later = NOW + timedelta(hours=2)
    node = fleet.nodes["a"]
    node.inventory, node.uploaded_at = inventory("a", "1.0-1+deb12u1"), NOW + timedelta(hours=1)
    assert uc.round(opener, DB_TIME, FixedClock(later), 20) == 1
    (closed,) = fleet.nodes["a"].history
    assert closed.finding.status is FindingStatus.CLOSED and closed.closed_at == later
    assert closed.finding.first_observed == NOW


@pytest.mark.parametrize("records", [None, ()])
def test_outcome_records_are_passed_as_recorded(records: Sequence[FindingRecord] | None) -> None:
    fleet = FakeFleet(a=FakeNode(inventory("a")))

    def match(inv: Inventory, *_: Any, state: StateStore | None, **__: Any) -> Assessment:
        if records is not None:
            assert state is not None
            state.record_findings(inv.root, records)
        return Assessment((), (), {}, False)

    assert run(assessment(fleet, match=match)) == 1
    stored = fleet.stored["a"]
    assert stored.records == (None if records is None else []) and not stored.assessed
