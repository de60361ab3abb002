"""In-memory stand-ins for the deployment use cases' ports (tests/unit only): a stepped
clock and a run store.  The real store is tested in tests/server (SQL) and through the CLI
in tests/integration/test_deploy_e2e.py (SQLite file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from patchwarden.core.deploy.model import DeploymentRun
from patchwarden.pipeline.deploy import GroupState

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock that moves only when something sleeps."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Store:
    """A :class:`~patchwarden.pipeline.deploy.DeploymentStore` in dicts."""

    saved: dict[str, DeploymentRun] = field(default_factory=dict)
    live: dict[str, GroupState] = field(default_factory=dict)
    stops: set[str] = field(default_factory=set)

    def save(self, run: DeploymentRun) -> None:
        self.saved[run.id] = run

    def get(self, run_id: str) -> DeploymentRun | None:
        return self.saved.get(run_id)

    def runs(self, group: str | None = None) -> list[DeploymentRun]:
        runs = sorted(self.saved.values(), key=lambda r: (r.created, r.id))
        return [r for r in runs if group is None or r.group == group]

    def group(self, name: str) -> GroupState:
        return self.live.get(name, GroupState(name))

    def set_group(self, state: GroupState) -> None:
        self.live[state.group] = state

    def request_stop(self, run_id: str) -> None:
        self.stops.add(run_id)

    def stop_requested(self, run_id: str) -> bool:
        return run_id in self.stops
