"""Images and deployments: the image pipelines with their newest images (status, findings,
last scan, staleness and why), one image (digest, parent, labels, packages, findings,
trigger, history, build log, its ancestry and the deployments that ran it), the deployments
(what serves now, the runs and their events, live while a run is in progress), and
starting a pipeline (operator).

Every number comes from what the JSON API answers with: the image catalog and the stored
documents (``/api/v1/images``, ``/api/v1/image-pipelines``), the deployments' summaries and
runs (``/api/v1/deployments`` — the route functions themselves), the staleness judge the
server's deployments use (:class:`patchwarden.pipeline.image_staleness.Judge`), the
ancestry of ``patchwarden image tree`` (:func:`patchwarden.core.staleness.image_tree`); a
pipeline starts through the API's own route (same validation, same audit record)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from patchwarden.adapters.storage.images import SqlImageCatalog
from patchwarden.core.deploy.model import ACTIVE
from patchwarden.core.imagebuild import ImageRecord, ImageStatus, parent_key
from patchwarden.core.recipe import PipelineSchedule
from patchwarden.core.schedule import next_runs
from patchwarden.core.staleness import Staleness, TreeNode, TreeRoot, image_tree
from patchwarden.core.vuln import Severity
from patchwarden.errors import InputError, PatchwardenError
from patchwarden.pipeline.image_lifecycle import find_image
from patchwarden.server.auth import Principal
from patchwarden.server.db import ReadDB, Settings, database
from patchwarden.server.db import Session as DbSession
from patchwarden.server.db import settings as settings_of
from patchwarden.server.errors import ApiError
from patchwarden.server.images import judging, stored_documents
from patchwarden.server.routes import deployments as deployment_routes
from patchwarden.server.routes import images as image_routes
from patchwarden.server.settings import ServerSettings
from patchwarden.server.web.render import ago, page
from patchwarden.server.web.session import ConsoleError, Session, current, form_of

router = APIRouter(include_in_schema=False)

SEVERITIES = tuple(s.value for s in sorted(Severity, key=lambda s: s.rank, reverse=True))
"""Most severe first (UNTRIAGED last)."""
SHORT = {"CRITICAL": "Crit", "HIGH": "High", "MEDIUM": "Med", "LOW": "Low",
         "INFORMATIONAL": "Info", "UNTRIAGED": "Untr"}  # fmt: skip
LATEST = 5
"""Images shown per pipeline on ``/images`` (``?all=true``: every one, DELETED too)."""
STATUS_CLASSES = {
    "AVAILABLE": "ok",
    "FAILED": "bad",
    "CANCELLED": "none",
    "DEPRECATED": "low",
    "DISABLED": "none",
    "DELETED": "none",
    "Succeeded": "ok",
    "Failed": "bad",
    "Stopped": "bad",
}
"""Status → badge class (the status is always written next to the colour)."""
ACTIVE_RUNS = frozenset(s.value for s in ACTIVE)
"""Run statuses that still own their group (the page refreshes itself then)."""


def staleness_of(
    records: Sequence[ImageRecord], shown: Sequence[ImageRecord], db: DbSession,
    settings: ServerSettings,
) -> dict[tuple[str, str], Staleness]:  # fmt: skip
    """The staleness of every AVAILABLE image among ``shown`` (as ``image tree`` marks them)."""
    with judging(records, db, settings) as judge:
        return {r.key: judge(r) for r in shown if r.status is ImageStatus.AVAILABLE}


def image_href(key: tuple[str, str]) -> str:
    """The page of the image ``(name, "x.y.z/build")``."""
    return f"/images/{quote(key[0], safe='')}/{key[1]}"


def images(db: DbSession, settings: ServerSettings, *, everything: bool) -> dict[str, Any]:
    """The pipelines and their newest images (``everything``: all, DELETED too); the
    images of no stored pipeline after them (what ``/images`` shows and the tests read)."""
    records = SqlImageCatalog(db).images()
    listed = [r for r in records if everything or r.status is not ImageStatus.DELETED]
    documents = stored_documents(db)
    pipelines = []
    named = set()
    for document in documents.pipelines:
        pipeline = document.pipeline
        named.add(pipeline.name)
        own = sorted(
            (r for r in listed if r.pipeline == pipeline.name),
            key=lambda r: r.created,
            reverse=True,
        )
        pipelines.append(
            {
                **_next_match(pipeline.schedule, settings.clock.now()),
                "name": pipeline.name,
                "pipeline": pipeline,
                "recipe": f"{pipeline.recipe[0]} {pipeline.recipe[1]}",
                "images": own if everything else own[:LATEST],
                "count": len(own),
            }
        )
    others = sorted(
        (r for r in listed if r.pipeline not in named), key=lambda r: r.created, reverse=True
    )
    shown = [i for p in pipelines for i in p["images"]] + others
    return {
        "pipelines": pipelines,
        "others": others,
        "stale": staleness_of(records, shown, db, settings),
    }


def _next_match(schedule: PipelineSchedule | None, now: datetime) -> dict[str, Any]:
    """When the schedule's expression matches next, in UTC and in the schedule's own zone
    (whether that match builds depends on its start condition)."""
    if schedule is None:
        return {"next_match": None, "next_local": ""}
    try:
        runs = next_runs(schedule.expression, after=now, timezone=schedule.timezone)
    except PatchwardenError:
        runs = []
    if not runs:
        return {"next_match": None, "next_local": ""}
    local = runs[0].astimezone(ZoneInfo(schedule.timezone)).strftime("%Y-%m-%d %H:%M")
    return {"next_match": runs[0], "next_local": f"{local} {schedule.timezone}"}


def _lineage(roots: Sequence[TreeRoot], key: tuple[str, str]) -> tuple[TreeRoot, ...]:
    """The tree cut to ``key``'s ancestors, the image itself and everything built on it."""

    def cut(node: TreeNode) -> TreeNode | None:
        if node.record.key == key:
            return node
        kept = [c for c in (cut(child) for child in node.children) if c is not None]
        return TreeNode(node.record, tuple(kept)) if kept else None

    found = []
    for root in roots:
        kept = [n for n in (cut(image) for image in root.images) if n is not None]
        if kept:
            found.append(TreeRoot(root.parent, tuple(kept)))
    return tuple(found)


def _image_deployments(db: DbSession, who: Principal, record: ImageRecord) -> list[dict[str, Any]]:
    """Each deployment that ran ``record`` (or serves it now): what it serves and those
    runs (the API's answers for ``/api/v1/deployments/{name}``)."""
    text = f"{record.name} {record.version}"
    found = []
    for summary in deployment_routes.list_deployments(who, db):
        one = deployment_routes.get_deployment(summary["name"], who, db)
        runs = [r for r in one["runs"] if text in (r["image"], r["previous_image"])]
        if runs or one["serving"] == text:
            found.append({**one, "runs": list(reversed(runs)), "serves": one["serving"] == text})
    return found


def image(
    db: DbSession, settings: ServerSettings, who: Principal, name: str, version: str
) -> dict[str, Any]:
    """One image: its record (the API's), staleness, ancestry, deployments."""
    catalog = SqlImageCatalog(db)
    try:
        record = find_image(catalog, name, version)
    except PatchwardenError as exc:
        raise ConsoleError(404, str(exc)) from None
    records = catalog.images()
    keys = {r.key for r in records}
    parent = parent_key(record)
    roots = image_tree(records, record.name, deleted=record.status is ImageStatus.DELETED)
    return {
        "image": record,
        "parent_key": parent if parent is not None and parent in keys else None,
        "stale": staleness_of(records, [record], db, settings).get(record.key),
        "ancestry": _lineage(roots, record.key),
        "deployments": _image_deployments(db, who, record),
    }


def _common(request: Request, session: Session) -> dict[str, Any]:
    at = settings_of(request).clock.now()
    return {
        "severities": SEVERITIES,
        "short": SHORT,
        "classes": STATUS_CLASSES,
        "image_href": image_href,
        "ago": lambda value: ago(value, at),
        "done": request.query_params.get("done", "")[:200],
        "operator": session.may("operator"),
    }


@router.get("/images", response_class=HTMLResponse)
def images_page(
    request: Request, db: ReadDB, settings: Settings, all: bool = False
) -> HTMLResponse:
    """The image pipelines, their newest images, and starting a pipeline."""
    session = current(request)
    data = images(db, settings, everything=all)
    return page(
        request,
        "images.html",
        session,
        {**_common(request, session), **data, "everything": all, "latest": LATEST, "error": ""},
    )


class _Refused(Exception):
    """The start was refused: the API's status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _start(request: Request, who: Principal, name: str) -> str:
    """Start ``name`` through the API's route (its validation, its audit record); the
    image it records."""
    with database(request).write() as db, db.begin():
        try:
            started = image_routes.start_pipeline(name, who, db, settings_of(request).clock.now())
        except ApiError as exc:
            raise _Refused(exc.status, exc.message) from None
        except InputError as exc:  # as the API answers it: 400 with the message
            raise _Refused(400, str(exc)) from None
    return f"{started['image']['name']} {started['image']['version']}"


def _refused_page(request: Request, session: Session, refused: _Refused) -> HTMLResponse:
    with database(request).read() as db:
        data = images(db, settings_of(request), everything=False)
    context = {**_common(request, session), **data, "everything": False, "latest": LATEST}
    context["error"] = refused.message
    status = refused.status if 400 <= refused.status < 500 else 400
    return page(request, "images.html", session, context, status=status)


@router.post("/images/pipelines/{name}/start", response_model=None)
async def start_pipeline(request: Request, name: str) -> Response:
    """Start an image pipeline (operator): a builder builds the image."""
    session, _form = await form_of(request, "operator")
    try:
        built = await run_in_threadpool(_start, request, session.who, name)
    except _Refused as refused:
        return await run_in_threadpool(_refused_page, request, session, refused)
    done = quote(f"pipeline {name} started: {built} PENDING")
    return RedirectResponse(f"/images?done={done}", status_code=303)


@router.get("/images/{name}/{semantic}/{build}", response_class=HTMLResponse)
def image_page(
    request: Request, name: str, semantic: str, build: str, db: ReadDB, settings: Settings
) -> HTMLResponse:
    """One image, its ancestry and the deployments that ran it."""
    session = current(request)
    data = image(db, settings, session.who, name, f"{semantic}/{build}")
    return page(request, "image.html", session, {**_common(request, session), **data})


@router.get("/deployments", response_class=HTMLResponse)
def deployments_page(request: Request, db: ReadDB) -> HTMLResponse:
    """Every deployment: what serves now, its last run (live while one is in progress)."""
    session = current(request)
    listed = deployment_routes.list_deployments(session.who, db)
    context = {
        **_common(request, session),
        "deployments": listed,
        "live": any(d["active"] for d in listed),
        "key_of": _key_of,
    }
    return page(request, "deployments.html", session, context)


@router.get("/deployments/{name}", response_class=HTMLResponse)
def deployment_page(request: Request, name: str, db: ReadDB) -> HTMLResponse:
    """One deployment: its group, what serves it, every run with its events."""
    session = current(request)
    try:
        one = deployment_routes.get_deployment(name, session.who, db)
    except ApiError as exc:
        raise ConsoleError(exc.status, exc.message) from None
    runs = list(reversed(one["runs"]))
    context = {
        **_common(request, session),
        "deployment": one,
        "runs": runs,
        "live": any(r["status"] in ACTIVE_RUNS for r in runs),
        "key_of": _key_of,
    }
    return page(request, "deployment.html", session, context)


def _key_of(text: str) -> tuple[str, str] | None:
    """``(name, "x.y.z/build")`` of a run's ``web 1.0.0/1`` (None: not an image's)."""
    name, _, version = text.partition(" ")
    parts = version.split("/")
    return (name, version) if name and len(parts) == 2 and all(parts) else None
