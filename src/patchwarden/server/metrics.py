"""The server's Prometheus metrics (``GET /metrics``, :mod:`patchwarden.server.routes.metrics`).

Each app has its own :class:`~prometheus_client.CollectorRegistry` (never the process-wide
default: tests and embedders create many apps in one process) holding:

- the fleet's gauges, computed at scrape time by :class:`FleetCollector` from a few aggregate
  reads (:mod:`patchwarden.adapters.storage.metrics_queries`) — nodes by ping status (the
  one definition, :func:`patchwarden.core.presence.ping_status`), compliance by state and
  severity (``UNREPORTED`` as the compliance summary counts it), findings by severity and
  status, commands, invocations, maintenance-window and remediation executions by status —
  plus the scheduler's lag and the vulnerability database's age;
- ``patchwarden_agent_poll_duration_seconds``, a histogram of the agent long-poll's
  duration, observed in-process by the :class:`PollTimer` middleware;
- ``patchwarden_build_info{version}``.

The counts cover what this replica's database holds (every replica answers the same); the
poll histogram and the scheduler's lag are this process's own.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from prometheus_client import CollectorRegistry, Histogram, Info
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from patchwarden import __version__
from patchwarden.adapters.storage import metrics_queries
from patchwarden.core.presence import PING_STATUSES, ping_status
from patchwarden.core.rollout import CommandStatus, InvocationStatus
from patchwarden.core.vuln import FindingStatus, Severity
from patchwarden.core.windows import Status as WindowStatus
from patchwarden.pipeline.fleet.compliance import UNREPORTED
from patchwarden.server.db import Database, connected
from patchwarden.server.fleet.polling import POLL_PATH
from patchwarden.server.settings import ServerSettings
from patchwarden.server.windows.scheduler import Beat

POLL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
"""Seconds: an idle poll answers in milliseconds when it does not wait, and after up to
``long_poll_seconds`` (20 by default, at most 60) when it does."""
COMPLIANCE_STATES = ("COMPLIANT", "NON_COMPLIANT", UNREPORTED)


def _gauge(
    name: str,
    documentation: str,
    labels: tuple[str, ...],
    counts: Mapping[tuple[str, ...], int],
    known: Iterable[tuple[str, ...]] = (),
) -> GaugeMetricFamily:
    """A gauge family with a sample per label tuple: the ``known`` ones always (0 when
    nothing has them, so a series does not vanish), any other that was counted too."""
    family = GaugeMetricFamily(name, documentation, labels=list(labels))
    values = dict.fromkeys(known, 0)
    values.update(counts)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


def _statuses(values: type[StrEnum]) -> list[tuple[str, ...]]:
    return [(s.value,) for s in values]


def _singles(counts: Mapping[str, int]) -> dict[tuple[str, ...], int]:
    return {(k,): v for k, v in counts.items()}


def fleet_metrics(
    counts: metrics_queries.FleetCounts, now: datetime, settings: ServerSettings
) -> Iterator[Metric]:
    """The gauges of one scrape's reads at ``now``."""
    statuses: dict[tuple[str, ...], int] = {}
    for node in counts.presence:
        status = ping_status(
            last_seen_at=node.last_seen_at,
            registered_at=node.registered_at,
            deregistered_at=None,  # the reads count registered nodes only
            now=now,
            online_seconds=settings.online_seconds,
            inactive_days=settings.inactive_days,
        )
        statuses[(status,)] = statuses.get((status,), 0) + 1
    yield _gauge(
        "patchwarden_nodes",
        "Registered (not deregistered) managed nodes by ping status, as GET /api/v1/nodes "
        "shows them.",
        ("ping_status",),
        statuses,
        [(s,) for s in PING_STATUSES],
    )
    compliance: dict[tuple[str, ...], int] = {}
    for (state, severity), n in counts.compliance.items():
        key = (state if state is not None else UNREPORTED, severity or "")
        compliance[key] = compliance.get(key, 0) + n
    yield _gauge(
        "patchwarden_compliance_nodes",
        "Registered nodes by patch compliance state (COMPLIANT, NON_COMPLIANT, UNREPORTED) "
        "and NonCompliantSeverity of their last RunPatchBaseline report, as "
        "GET /api/v1/compliance/summary counts them.",
        ("state", "severity"),
        compliance,
    )
    findings: dict[tuple[str, ...], int] = dict(counts.findings.items())
    yield _gauge(
        "patchwarden_findings",
        "Vulnerability findings of registered nodes by severity and status (ACTIVE, "
        "SUPPRESSED, and CLOSED ones kept for 30 days), as GET /api/v1/findings lists them.",
        ("severity", "status"),
        findings,
        [(sev.value, st.value) for sev in Severity for st in FindingStatus],
    )
    yield _gauge(
        "patchwarden_commands",
        "Commands by status.",
        ("status",),
        _singles(counts.commands),
        _statuses(CommandStatus),
    )
    yield _gauge(
        "patchwarden_command_invocations",
        "Command invocations (one command on one node) by status.",
        ("status",),
        _singles(counts.invocations),
        _statuses(InvocationStatus),
    )
    yield _gauge(
        "patchwarden_window_executions",
        "Maintenance-window executions by status.",
        ("status",),
        _singles(counts.window_executions),
        _statuses(WindowStatus),
    )
    yield _gauge(
        "patchwarden_remediation_executions",
        "Governance remediation executions by status.",
        ("status",),
        _singles(counts.remediation_executions),
    )


def vulndb_metrics(settings: ServerSettings, now: datetime) -> Iterator[Metric]:
    """Whether the vulnerability database exists and how long ago its file last changed."""
    try:
        changed = settings.vulndb_path.stat().st_mtime
    except OSError:
        changed = None
    yield GaugeMetricFamily(
        "patchwarden_vulndb_present",
        "1 when the server has a vulnerability database to assess inventories against, "
        "else 0 (no findings are assessed).",
        value=0 if changed is None else 1,
    )
    if changed is not None:
        yield GaugeMetricFamily(
            "patchwarden_vulndb_age_seconds",
            "Seconds since the vulnerability database file was last written (updated or imported).",
            value=max(now.timestamp() - changed, 0.0),
        )


def scheduler_metrics(beat: Beat, now: datetime) -> Iterator[Metric]:
    """The maintenance-window scheduler's lag in this process (none while its loop is off)."""
    if beat.started is None:
        return
    since = beat.last or beat.started
    yield GaugeMetricFamily(
        "patchwarden_scheduler_lag_seconds",
        "Seconds since this process's maintenance-window scheduler last finished a round "
        "(since its start before the first one); it grows when the scheduler stalls or fails.",
        value=max((now - since).total_seconds(), 0.0),
    )
    if beat.last is not None:
        yield GaugeMetricFamily(
            "patchwarden_scheduler_last_tick_timestamp_seconds",
            "When this process's maintenance-window scheduler last finished a round (Unix time).",
            value=beat.last.timestamp(),
        )


class FleetCollector:
    """The gauges, read from the database when scraped (one read session per scrape)."""

    def __init__(self, db: Database, settings: ServerSettings, beat: Beat) -> None:
        self._db = db
        self._settings = settings
        self._beat = beat

    def describe(self) -> list[Metric]:
        """Nothing: registering must not read the database."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The gauges at the clock's ``now``."""
        now = self._settings.clock.now()
        with connected(self._db.read) as session:
            counts = metrics_queries.fleet_counts(session)
        yield from fleet_metrics(counts, now, self._settings)
        yield from scheduler_metrics(self._beat, now)
        yield from vulndb_metrics(self._settings, now)


@dataclass
class Observed:
    """An app's metrics: its registry, the poll histogram, the scheduler's beat."""

    registry: CollectorRegistry
    polls: Histogram
    scheduler: Beat = field(default_factory=Beat)

    @classmethod
    def create(cls, db: Database, settings: ServerSettings) -> Observed:
        """A fresh registry with every metric of the server registered."""
        registry = CollectorRegistry()
        polls = Histogram(
            "patchwarden_agent_poll_duration_seconds",
            "Duration of the agents' long-polls (GET /api/v1/agent/commands) answered by "
            "this process, by status class of the answer.",
            ["code"],
            buckets=POLL_BUCKETS,
            registry=registry,
        )
        Info("patchwarden_build", "The Patchwarden server's version.", registry=registry).info(
            {"version": __version__}
        )
        observed = cls(registry, polls)
        registry.register(FleetCollector(db, settings, observed.scheduler))
        return observed


def exposition(observed: Observed, accept: str | None) -> tuple[bytes, str]:
    """(body, content type) of a scrape, in the format the ``Accept`` header asks for
    (Prometheus text, or OpenMetrics)."""
    encode, content_type = choose_encoder(accept or "")
    return encode(observed.registry), content_type


class PollTimer:
    """ASGI middleware timing ``GET /api/v1/agent/commands`` into ``histogram`` (every other
    request passes through untouched)."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != POLL_PATH:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            code = f"{status // 100}xx" if status else "none"
            self.histogram.labels(code=code).observe(time.perf_counter() - started)
