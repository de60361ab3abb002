"""Ports: the small protocols the pipeline talks to.  Adapters implement them."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from patchwarden.core.model import Inventory, Package
from patchwarden.core.vuln import Advisory

if TYPE_CHECKING:  # not imported on the plain scan path
    from patchwarden.core.imagebuild import ImageRecord
    from patchwarden.core.suppression import FindingRecord


@dataclass(frozen=True)
class RunResult:
    """What a finished process left behind."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class Runner(Protocol):
    """Runs a process from an argv list (never a shell string)."""

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: bool = False,
    ) -> RunResult:
        """Run ``argv`` to completion and return its result."""
        ...


class Clock(Protocol):
    """Where ``now`` comes from (injected so tests control time)."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


@dataclass(frozen=True)
class InstallOutcome:
    """What happened to one requested (name, arch, version)."""

    name: str
    arch: str
    version: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class InstallPlan:
    """What an install would do: the exact versions and every package the tool would touch."""

    requested: tuple[Package, ...]
    actions: tuple[str, ...]
    """Human-readable lines, one per package the package manager would change."""
    touched: tuple[tuple[str, str, str], ...] = ()
    """(name, arch, version) of every package the transaction would install or upgrade."""


class PackageManager(Protocol):
    """An OS package manager working on one root (``/`` or a sandbox/image root)."""

    root: str
    scheme: str
    """Version scheme of its packages (``deb``, ``rpm``)."""

    def collect(self) -> Inventory:
        """Installed packages, available updates, OS facts and reboot flag of the root."""
        ...

    def refresh(self) -> None:
        """Update the package indices (``apt-get update`` / ``dnf makecache``)."""
        ...

    def plan(self, packages: Sequence[Package]) -> InstallPlan:
        """Simulate installing exactly ``packages``; change nothing."""
        ...

    def install(self, packages: Sequence[Package]) -> list[InstallOutcome]:
        """Install exactly the given versions; one outcome per requested package."""
        ...


class ReleaseDates(Protocol):
    """When versions were first seen (Debian/Ubuntu release dates) and changelog dates."""

    def first_seen(
        self, root: str, keys: Iterable[tuple[str, str, str]], now: datetime
    ) -> dict[tuple[str, str, str], datetime]:
        """First-seen time of each (name, version, suite); records unseen ones as ``now``."""
        ...

    def changelog_dates(self, root: str) -> dict[tuple[str, str], datetime | None]:
        """Changelog dates already extracted for this root."""
        ...

    def record_changelog_dates(
        self, root: str, dates: dict[tuple[str, str], datetime | None]
    ) -> None:
        """Remember extracted changelog dates."""
        ...


class InstallLog(Protocol):
    """What Install runs put on a root, and the (simulated) boots that followed."""

    def record_installs(
        self, root: str, items: Iterable[tuple[str, str, str]], at: datetime, reboot_pending: bool
    ) -> None:
        """Remember what an Install run put on ``root``."""
        ...

    def record_boot(self, root: str, at: datetime) -> None:
        """Remember a (simulated) reboot of a non-host root."""
        ...

    def last_boot(self, root: str) -> datetime | None:
        """The recorded reboot of a non-host root."""
        ...

    def pending_reboot(self, root: str, last_boot: datetime | None) -> set[tuple[str, str, str]]:
        """(name, arch, version) installed with a reboot pending and no boot since."""
        ...


class FindingHistory(Protocol):
    """The vulnerability findings kept per resource (first/last observed, CLOSED ones)."""

    def finding_history(self, root: str) -> list[FindingRecord]:
        """The vulnerability findings kept for ``root`` (open ones and recently CLOSED ones)."""
        ...

    def record_findings(self, root: str, records: Iterable[FindingRecord]) -> None:
        """Replace the findings kept for ``root`` with ``records``."""
        ...


class AuditLog(Protocol):
    """The server's audit log (fleet, windows and governance use cases), written in the
    transaction that makes the change."""

    def record(
        self,
        actor: str,
        action: str,
        target: str,
        at: datetime,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Add one entry."""
        ...


class StateStore(ReleaseDates, InstallLog, FindingHistory, Protocol):
    """The local state of one machine: every role above (``adapters.state.LocalState``).
    Use cases ask for the narrow role they use; a scan on a host needs them all."""


# -- optional capabilities: asked for with isinstance, never with getattr ----------------------


@runtime_checkable
class ChangelogDates(Protocol):
    """A package manager that can date a version by its cached package's changelog (apt)."""

    def changelog_date(self, pkg: Package) -> tuple[bool, datetime | None]:
        """(whether the package file was at hand, the date of its newest changelog entry)."""
        ...


@runtime_checkable
class ChangelogAdvisories(Protocol):
    """A package manager whose pending updates' changelogs name the CVEs they fix (apt)."""

    def changelog_advisories(self, inventory: Inventory, *, cache: Any = None) -> list[Advisory]:
        """The CVEs named since the installed versions, as ``source="changelog"`` advisories."""
        ...


@runtime_checkable
class EcosystemIndex(Protocol):
    """An advisory store that can say which ecosystem releases it holds data for."""

    def ecosystems(self) -> list[str]:
        """Every ecosystem with at least one advisory (``Debian:12`` …)."""
        ...


@dataclass(frozen=True)
class FeedStatus:
    """One feed in the vulnerability database."""

    name: str
    updated_at: datetime | None
    records: int
    url: str = ""


class AdvisoryStore(Protocol):
    """The local vulnerability database, read side."""

    def advisories(self, ecosystem: str, packages: Iterable[str]) -> list[Advisory]:
        """Every advisory about these (source) package names in this ecosystem release."""
        ...

    def feeds(self) -> list[FeedStatus]:
        """What each feed contributed, and when it was last updated."""
        ...


# -- vulnerability database: downloading and building (issue 3) -------------------------------


@dataclass(frozen=True)
class Fetched:
    """What one conditional download left behind."""

    url: str
    path: Path | None
    """The downloaded file; ``None`` when the server said "not modified" (304)."""
    etag: str = ""
    last_modified: str = ""
    sha256: str = ""
    size: int = 0


class Downloader(Protocol):
    """Fetches one URL into a local file, conditionally, within a size limit."""

    def fetch(self, url: str, dest: Path, *, etag: str = "", last_modified: str = "") -> Fetched:
        """Download ``url`` to ``dest``; with ``etag``/``last_modified`` ask the server to
        answer 304 when unchanged (then ``Fetched.path`` is ``None`` and nothing is written)."""
        ...


class Feed(Protocol):
    """A vulnerability feed: where it lives and how its files become advisories."""

    @property
    def name(self) -> str:
        """Registry name (``debian-tracker``, ``osv-ubuntu``, ``alpine-secdb`` …)."""
        ...

    @property
    def urls(self) -> tuple[str, ...]:
        """The files that together make up the feed."""
        ...

    def locate(self, url: str, fetch: Callable[[str], bytes]) -> str:
        """The URL to download for the configured ``url``: ``url`` itself, except for feeds
        published behind small index files (Amazon: mirror.list → repomd.xml → updateinfo),
        which read them with ``fetch`` (one unconditional download each) and name the file."""
        ...

    def parse(self, path: Path, warn: Callable[[str], None]) -> Iterator[Advisory]:
        """Stream the advisories of one downloaded file; ``warn`` receives one line per
        kind of dropped input.  Corrupt input raises :class:`~patchwarden.errors.AdapterError`."""
        ...


@dataclass(frozen=True)
class FeedSource:
    """One file of one feed as recorded in the vulnerability database."""

    feed: str
    url: str
    updated_at: datetime
    records: int
    etag: str = ""
    last_modified: str = ""
    sha256: str = ""


@dataclass(frozen=True)
class SourceUpdate:
    """New content for one (feed, url): ``advisories`` to store, or ``None`` to keep the
    stored rows (not modified) while refreshing the metadata."""

    feed: str
    url: str
    advisories: Iterable[Advisory] | None
    etag: str = ""
    last_modified: str = ""
    sha256: str = ""


class AdvisoryDatabase(AdvisoryStore, Protocol):
    """The vulnerability database, write side: every change is all-or-nothing."""

    @property
    def path(self) -> Path:
        """Where the database file lives."""
        ...

    def sources(self) -> list[FeedSource]:
        """Every stored (feed, url) with its download metadata."""
        ...

    def rebuild(
        self, updates: Sequence[SourceUpdate], replace: Collection[str], now: datetime
    ) -> dict[tuple[str, str], int]:
        """A new database: sources of feeds outside ``replace`` kept as they are, the
        feeds in ``replace`` made of exactly ``updates``; swapped in atomically.  Returns
        the number of advisories of each updated (feed, url)."""
        ...

    def restore(self, file: Path) -> None:
        """Replace the whole database by a database file (validated first)."""
        ...

    def export(self, file: Path) -> None:
        """Write a consistent copy of the database to ``file``."""
        ...


class ImageCatalog(Protocol):
    """Where image builds are recorded (the local catalog, or the server's)."""

    def next_build(self, name: str, version: str) -> int:
        """The build number the next build of recipe ``name`` ``version`` (x.y.z) gets:
        one more than any build recorded, never reused."""
        ...

    def save(self, record: ImageRecord) -> None:
        """Create or replace the record of ``record.key``."""
        ...

    def get(self, name: str, version: str) -> ImageRecord | None:
        """The image ``name`` ``version`` (``x.y.z/build``), if recorded."""
        ...

    def images(self, name: str | None = None) -> list[ImageRecord]:
        """Every image (of ``name``), oldest first."""
        ...


@dataclass(frozen=True)
class StartedInstance:
    """An instance a deployer started: where it serves and what to pass back to stop it."""

    instance: str
    """The instance's name (unique on the deployer: ``web-green-1``)."""
    address: str
    """``host:port`` it serves on (health checks and the traffic router use it)."""
    handle: str = ""
    """Whatever the deployer needs to stop it later (a container id, a hook's output)."""


class Deployer(Protocol):
    """Starts and stops instances of an image (runc; operator command hooks).

    A deployment keeps the :class:`StartedInstance` records, so a later process (``deploy
    rollback``, the server after a restart) can stop what an earlier one started.
    """

    def start(self, image: ImageRecord, instance: str, slot: int) -> StartedInstance:
        """Start ``instance`` of ``image`` (its OCI layout ``image.layout``, tag
        ``image.version.tag``); ``slot`` (0, 1, …) is unique among the group's running
        instances (the runc deployer serves slot N on ``base port + N``).  Returns once the
        instance's process runs (not once it is healthy).  AdapterError when it cannot."""
        ...

    def stop(self, started: StartedInstance) -> None:
        """Stop ``started`` and remove what it left behind; stopping a stopped instance is
        not an error."""
        ...


class TrafficRouter(Protocol):
    """Sends a service's traffic to instances by weight (nginx upstreams; a command hook)."""

    def route(self, weights: Sequence[tuple[str, int]]) -> None:
        """Serve traffic from ``(address, weight)`` pairs (weights > 0; at least one pair);
        returns once new requests follow the new weights (an old request in flight
        finishes on the instance that took it)."""
        ...

    def endpoint(self) -> str:
        """``host:port`` clients use."""
        ...


@dataclass(frozen=True)
class Probe:
    """One health check result."""

    healthy: bool
    detail: str = ""
    """Why not (``HTTP 503``, ``connection refused``, ``exit 1``), one line."""


class HealthProbe(Protocol):
    """Checks one instance once (an HTTP request; a command)."""

    def __call__(self, address: str) -> Probe: ...
