"""``/api/v1/events`` (application events, newest first), ``/api/v1/notifications/targets``
(the admin's notification targets) and ``/api/v1/notifications/deliveries`` (what was sent
to them, and what failed)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from patchwarden.adapters.storage import events as outbox
from patchwarden.core.notify import MAX_TARGETS, Targets, origin
from patchwarden.errors import InputError
from patchwarden.server import audit
from patchwarden.server.auth import Admin, Principal, Viewer
from patchwarden.server.db import Now, ReadDB, WriteDB
from patchwarden.server.errors import bad_request
from patchwarden.server.schemas import Body

router = APIRouter(prefix="/api/v1", tags=["events"])
MAX_ID = 2**31 - 1
"""The largest id a PostgreSQL ``integer`` holds."""
DELIVERY_STATUSES = ("pending", "delivered", "failed")


class TargetsBody(Body):
    """``PUT /api/v1/notifications/targets``: the whole set of targets (replaced)."""

    targets: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_TARGETS)
    allow_http: bool = False
    allow_private: bool = False


def _view(targets: Targets, who: Principal) -> dict[str, Any]:
    """The targets as the API shows them: URLs in full to admins only (they may hold a
    secret), others see scheme and host."""
    return targets.to_json(show_urls=who.role == "admin")


@router.get("/notifications/targets")
def get_targets(who: Viewer, session: ReadDB) -> dict[str, Any]:
    """The notification targets (URLs in full for admins only)."""
    return _view(outbox.targets(session), who)


@router.put("/notifications/targets")
def put_targets(body: TargetsBody, who: Admin, session: WriteDB, at: Now) -> dict[str, Any]:
    """Admin only: replace the notification targets (audited, without the URLs)."""
    try:
        wanted = Targets.from_json(body.model_dump())
    except InputError as exc:
        raise bad_request(str(exc)) from None
    outbox.put_targets(session, wanted, who.actor, at)
    detail = {
        "targets": [{**t.to_json(), "url": origin(t.url)} for t in wanted.targets],
        "allow_http": wanted.allow_http,
        "allow_private": wanted.allow_private,
    }
    audit.record(session, who, "notifications.targets.set", "targets", at, detail)
    return _view(wanted, who)


@router.get("/notifications/deliveries")
def list_deliveries(
    _: Viewer,
    session: ReadDB,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Deliveries of events to targets, latest change first: the target by name (never its
    URL), attempts, the last error (one line) and, while pending, the next attempt."""
    return {"deliveries": outbox.deliveries(session, status, limit)}


@router.get("/events")
def list_events(
    _: Viewer,
    session: ReadDB,
    type: Annotated[
        list[str] | None,
        Query(description="event types or globs (window.*), repeated or comma-separated"),
    ] = None,
    since: Annotated[datetime | None, Query(description="events at or after (ISO-8601)")] = None,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="events with a smaller id (next page)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Application events, newest first; ``next`` is the ``before`` of the next page."""
    types = [t.strip() for value in type or () for t in value.split(",") if t.strip()]
    if any(len(t) > 64 for t in types) or len(types) > 20:
        raise bad_request("type: at most 20 types of at most 64 characters")
    if since is not None and since.tzinfo is None:
        raise bad_request("since: an ISO-8601 time with its offset (2026-03-01T12:00:00Z)")
    found = outbox.events(session, types, since, before, limit)
    return {"events": found, "next": found[-1]["id"] if len(found) == limit else None}
