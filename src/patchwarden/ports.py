"""Ports: the small protocols the pipeline talks to.  Adapters implement them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from patchwarden.core.model import Inventory, Package
from patchwarden.core.vuln import Advisory


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


class StateStore(Protocol):
    """Local state of one machine (first-seen dates, installs, boots of sandbox roots)."""

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
