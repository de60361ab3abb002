"""Use cases of the vulnerability database: status, and the staleness warning of reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from patchwarden.ports import AdvisoryDatabase, AdvisoryStore, FeedSource


@dataclass(frozen=True)
class FeedAge:
    """One feed in ``db status``."""

    name: str
    updated_at: datetime | None
    age: timedelta | None
    records: int
    url: str
    stale: bool


@dataclass(frozen=True)
class DbStatus:
    """What ``db status`` shows."""

    path: Path
    feeds: tuple[FeedAge, ...]
    max_age: timedelta
    warning: str | None
    sources: tuple[FeedSource, ...] = field(default=())


def status(db: AdvisoryDatabase, now: datetime, max_age: timedelta) -> DbStatus:
    """Each feed's age and record count, and the staleness warning if any."""
    rows = tuple(
        FeedAge(
            f.name,
            f.updated_at,
            now - f.updated_at if f.updated_at else None,
            f.records,
            f.url,
            f.updated_at is None or now - f.updated_at > max_age,
        )
        for f in db.feeds()
    )
    warning = staleness_warning(db, now, max_age)
    return DbStatus(db.path, rows, max_age, warning, tuple(db.sources()))


def staleness_warning(store: AdvisoryStore, now: datetime, max_age: timedelta) -> str | None:
    """A one-line warning for reports when the vulnerability data is missing or older than
    ``max_age`` (the oldest feed counts); ``None`` when it is fresh."""
    feeds = store.feeds()
    if not feeds:
        return "the vulnerability database is empty: run `patchwarden db update`"
    dated = [f for f in feeds if f.updated_at is not None]
    if len(dated) < len(feeds):
        return "the vulnerability database has feeds never updated: run `patchwarden db update`"
    oldest = min(dated, key=lambda f: f.updated_at or now)
    age = now - (oldest.updated_at or now)
    if age <= max_age:
        return None
    return (
        f"the vulnerability database is stale: feed {oldest.name} was updated "
        f"{format_age(age)} ago (limit {format_age(max_age)}): run `patchwarden db update`"
    )


def format_age(age: timedelta) -> str:
    """``3d 4h``, ``5h 10m``, ``12m``, ``0m``."""
    minutes = max(int(age.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    return f"{hours}h {mins}m" if hours else f"{mins}m"
