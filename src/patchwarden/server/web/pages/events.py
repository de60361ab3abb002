"""Events: what the server did (application events, newest first) and the notifications
that could not be delivered — the same reads as ``GET /api/v1/events`` and
``GET /api/v1/notifications/deliveries``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from patchwarden.adapters.storage import events as outbox
from patchwarden.server.db import ReadDB
from patchwarden.server.web.render import page
from patchwarden.server.web.session import current

router = APIRouter(include_in_schema=False)
SHOWN = 100


@router.get("/events", response_class=HTMLResponse)
def events_page(request: Request, session: ReadDB, type: str = "") -> HTMLResponse:
    """Recent events (``?type=window.*`` filters), failed and pending deliveries."""
    who = current(request)
    types = [t.strip() for t in type.split(",") if t.strip()][:20]
    context = {
        "events": outbox.events(session, [t[:64] for t in types], None, None, SHOWN),
        "failed": outbox.deliveries(session, "failed", SHOWN),
        "pending": outbox.deliveries(session, "pending", SHOWN),
        "type": type,
        "shown": SHOWN,
    }
    return page(request, "events.html", who, context)
