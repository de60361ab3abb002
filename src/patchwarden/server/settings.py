"""Server settings (a frozen value; the CLI and tests build it), read in this one place:
the clock, the database, the long-poll and presence limits, the intervals of the
background loops and the public URL (from the environment)."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from patchwarden import settings as local_settings
from patchwarden.adapters.clock import WALL
from patchwarden.errors import InputError
from patchwarden.ports import Clock

SCHEDULER_ENV = "PATCHWARDEN_SCHEDULER_INTERVAL"
GOVERNANCE_ENV = "PATCHWARDEN_GOVERNANCE_INTERVAL"
ASSESS_ENV = "PATCHWARDEN_ASSESS_INTERVAL"
PRUNE_ENV = "PATCHWARDEN_PRUNE_INTERVAL"
IMAGES_ENV = "PATCHWARDEN_IMAGES_INTERVAL"
NOTIFY_ENV = "PATCHWARDEN_NOTIFY_INTERVAL"
HISTORY_ENV = "PATCHWARDEN_HISTORY_INTERVAL"
PUBLIC_URL_ENV = "PATCHWARDEN_PUBLIC_URL"
DB_UPDATE_ENV = "PATCHWARDEN_DB_UPDATE_EVERY"
DB_FEEDS_ENV = "PATCHWARDEN_DB_UPDATE_FEEDS"
DB_URLS_ENV = "PATCHWARDEN_DB_UPDATE_URLS"
METRICS_PUBLIC_ENV = "PATCHWARDEN_METRICS_PUBLIC"
BATCH_CLAIMS_ENV = "PATCHWARDEN_BATCH_CLAIMS"


@dataclass(frozen=True)
class DbUpdates:
    """The server's own ``db update`` on a schedule: how often (0: never, the default — the
    database is then updated or imported by hand), which feeds (empty: those it holds, else
    the defaults) and from where (``NAME=URL`` mirrors)."""

    every: float = 0.0
    feeds: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> DbUpdates:
        """``PATCHWARDEN_DB_UPDATE_EVERY`` (``6h``, ``1d``; unset or ``0``: off),
        ``PATCHWARDEN_DB_UPDATE_FEEDS`` (``debian-tracker,cisa-kev``) and
        ``PATCHWARDEN_DB_UPDATE_URLS`` (``debian-tracker=https://mirror/…``, comma-separated)."""
        text = environ.get(DB_UPDATE_ENV, "").strip()
        try:
            every = 0.0 if text in ("", "0") else local_settings.parse_age(text).total_seconds()
        except InputError as exc:
            raise InputError(f"{DB_UPDATE_ENV}: {exc}") from None

        def split(name: str) -> tuple[str, ...]:
            return tuple(p.strip() for p in environ.get(name, "").split(",") if p.strip())

        return cls(every, split(DB_FEEDS_ENV), split(DB_URLS_ENV))


def seconds_from_env(name: str, default: float, environ: Mapping[str, str] = os.environ) -> float:
    """``name`` as seconds between 0 (off) and 3600, ``default`` when unset; a one-line
    :class:`InputError` otherwise."""
    text = environ.get(name, "").strip()
    try:
        value = float(text) if text else default
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise InputError(f"{name}: seconds between 0 (off) and 3600, got {text!r}")
    return value


def metrics_public_from_env(environ: Mapping[str, str] = os.environ) -> bool:
    """``PATCHWARDEN_METRICS_PUBLIC``: ``1`` (``true``, ``yes``) lets anyone read
    ``/metrics``; unset, ``0`` (``false``, ``no``): a viewer token is needed."""
    text = environ.get(METRICS_PUBLIC_ENV, "").strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("", "0", "false", "no"):
        return False
    raise InputError(f"{METRICS_PUBLIC_ENV}: 1 or 0, got {text!r}")


def batch_claims_from_env(environ: Mapping[str, str] = os.environ) -> bool:
    """``PATCHWARDEN_BATCH_CLAIMS``: on unless ``0`` (``false``, ``no``) — then every
    waiting node claims alone, as before batch claims (kept to compare them)."""
    return environ.get(BATCH_CLAIMS_ENV, "").strip().lower() not in ("0", "false", "no", "off")


def public_url_from_env(environ: Mapping[str, str] = os.environ) -> str | None:
    """``PATCHWARDEN_PUBLIC_URL`` (``https://patch.example.com``, no trailing slash), ``None``
    when unset; a one-line :class:`InputError` when it is not an http(s) URL."""
    text = environ.get(PUBLIC_URL_ENV, "").strip().rstrip("/")
    if not text:
        return None
    scheme, _, rest = text.partition("://")
    if scheme not in ("http", "https") or not rest or any(c <= " " or c == "\x7f" for c in text):
        raise InputError(f"{PUBLIC_URL_ENV}: an http:// or https:// URL, got {text!r}")
    return text


@dataclass(frozen=True)
class Intervals:
    """Seconds between the rounds of each background loop; 0 turns a loop off (tests then
    drive the round themselves)."""

    scheduler: float = 15.0
    """Maintenance windows (``PATCHWARDEN_SCHEDULER_INTERVAL``)."""
    governance: float = 5.0
    """Rules, remediation and runbooks (``PATCHWARDEN_GOVERNANCE_INTERVAL``)."""
    assess: float = 2.0
    """Vulnerability assessment of uploaded inventories (``PATCHWARDEN_ASSESS_INTERVAL``)."""
    prune: float = 3600.0
    """Pruning the node components' files nobody uses (``PATCHWARDEN_PRUNE_INTERVAL``)."""
    images: float = 30.0
    """Image pipelines' schedules, lifecycle policies, image rescans
    (``PATCHWARDEN_IMAGES_INTERVAL``)."""
    notify: float = 5.0
    """Notifying application events to their targets (``PATCHWARDEN_NOTIFY_INTERVAL``)."""
    history: float = 600.0
    """Recording today's compliance counts for the console's trend
    (``PATCHWARDEN_HISTORY_INTERVAL``)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Intervals:
        """The defaults, overridden by the environment."""
        return cls(
            scheduler=seconds_from_env(SCHEDULER_ENV, cls.scheduler, environ),
            governance=seconds_from_env(GOVERNANCE_ENV, cls.governance, environ),
            assess=seconds_from_env(ASSESS_ENV, cls.assess, environ),
            prune=seconds_from_env(PRUNE_ENV, cls.prune, environ),
            images=seconds_from_env(IMAGES_ENV, cls.images, environ),
            notify=seconds_from_env(NOTIFY_ENV, cls.notify, environ),
            history=seconds_from_env(HISTORY_ENV, cls.history, environ),
        )


def _replica() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class ServerSettings:
    """What :func:`patchwarden.server.app.create_app` needs."""

    database_url: str | None = None
    """SQLAlchemy URL; ``None`` = the SQLite file under the data directory."""
    clock: Clock = WALL
    """Where ``now`` comes from (tests inject their own)."""
    replica_id: str = field(default_factory=_replica)
    """Written into ``invocations.claimed_by`` (which replica delivered an invocation)."""
    long_poll_seconds: float = 20.0
    """Longest wait of ``GET /api/v1/agent/commands`` (agents may ask for less)."""
    poll_check_interval: float = 0.5
    """How often a waiting long-poll looks for new work in the database."""
    online_seconds: int = 300
    """A node is Online when it checked in within this many seconds."""
    inactive_days: int = 30
    """... and Inactive when it has not checked in for this many days (or is deregistered)."""
    migrate: bool = True
    """Apply the Alembic migrations when the app starts."""
    intervals: Intervals = field(default_factory=Intervals.from_env)
    """The background loops' intervals."""
    data_dir: Path = field(default_factory=local_settings.data_dir)
    """Where the server keeps files: ``bundles/`` (the node bundles it serves), ``blobs/``
    (the fact files nodes upload, by SHA-256) and ``nodes/`` (each node component's rebuilt
    root, inventory cache and state)."""
    public_url: str | None = field(default_factory=public_url_from_env)
    """The URL nodes reach this server at, as ``/agent/install.sh`` tells them
    (``PATCHWARDEN_PUBLIC_URL``); ``None``: the URL of the request for the script."""
    db_updates: DbUpdates = field(default_factory=DbUpdates.from_env)
    """The server's scheduled ``db update`` (off unless configured)."""
    vulndb_path: Path = field(default_factory=local_settings.vulndb_path)
    """The vulnerability database every inventory upload is assessed against (opened
    read-only per assessment; while the file does not exist nothing is assessed)."""
    batch_claims: bool = field(default_factory=batch_claims_from_env)
    """Whether waiting long-polls are handed work by one batch claim per rebuild
    (``PATCHWARDEN_BATCH_CLAIMS=0`` turns it off: each node claims alone)."""
    metrics_public: bool = field(default_factory=metrics_public_from_env)
    """Whether ``GET /metrics`` answers without a token (``PATCHWARDEN_METRICS_PUBLIC=1``);
    by default it needs a viewer token, as every read of the API does."""
