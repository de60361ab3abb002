"""The image builder's API: image documents, images, image pipelines and lifecycle policies.

* ``/api/v1/components``, ``/api/v1/image-recipes``, ``/api/v1/image-pipelines``,
  ``/api/v1/distribution-configurations``, ``/api/v1/lifecycle-policies`` — the documents
  ``patchwarden apply`` stored (list, get by name, delete);
* ``POST /api/v1/image-pipelines/{name}/start`` — StartImagePipelineExecution: a builder
  agent builds the image;
* ``/api/v1/images`` — every build (list, describe, delete: its manifests leave the
  registries it was pushed to);
* ``POST /api/v1/lifecycle-policies/{name}/run`` — apply a policy now (``dry_run``).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request
from pydantic import Field

from patchwarden.adapters.image.catalog import to_json
from patchwarden.adapters.image.store import RegistryRemover
from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.images import SqlImageCatalog, SqlImageDocuments
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.fleet.images import (
    DOCUMENT,
    IMAGE_KINDS,
    StartRequest,
)
from patchwarden.pipeline.image_lifecycle import delete_image, find_image, run_lifecycle
from patchwarden.server.auth import NodeCaller, Operator, Viewer
from patchwarden.server.db import Now, ReadDB, WriteDB
from patchwarden.server.errors import bad_request, not_found
from patchwarden.server.images import start_build, stored_documents
from patchwarden.server.outcomes import answered
from patchwarden.server.schemas import Body

router = APIRouter(prefix="/api/v1", tags=["images"])
agent_router = APIRouter(prefix="/api/v1/agent", tags=["agent"])

PATHS = {
    "Component": "components",
    "ImageRecipe": "image-recipes",
    "ImagePipeline": "image-pipelines",
    "DistributionConfiguration": "distribution-configurations",
    "LifecyclePolicy": "lifecycle-policies",
}


def _documents_routes(kind: str, path: str) -> None:
    @router.get(f"/{path}", name=f"list {kind}")
    def listing(_: Viewer, session: ReadDB) -> list[dict[str, Any]]:
        return SqlImageDocuments(session).listing(kind)

    @router.get(f"/{path}/{{name}}", name=f"get {kind}")
    def one(name: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
        store = SqlImageDocuments(session)
        versions = [row for row in store.listing(kind) if row["name"] == name]
        if not versions:
            raise not_found(f"{kind} {name!r}")
        documents = [store.get(kind, name, row["version"]) for row in versions]
        return {**versions[-1], "versions": [r["version"] for r in versions if r["version"]],
                "documents": documents}  # fmt: skip

    @router.delete(f"/{path}/{{name}}", name=f"delete {kind}")
    def remove(
        name: str,
        who: Operator,
        session: WriteDB,
        at: Now,
        version: Annotated[str | None, Query(max_length=40)] = None,
    ) -> dict[str, Any]:
        deleted = SqlImageDocuments(session).delete(kind, name, version)
        if not deleted:
            raise not_found(f"{kind} {name!r}" + (f" version {version}" if version else ""))
        SqlAuditLog(session).record(who.actor, f"{path}.delete", name, at, {"version": version})
        return {"deleted": deleted}


for _kind, _path in PATHS.items():
    _documents_routes(_kind, _path)


class StartBody(Body):
    """``POST /api/v1/image-pipelines/{name}/start``."""

    forceParent: bool = False
    imageTestsEnabled: bool | None = None
    distribute: bool = True
    node: Annotated[str, Field(max_length=20)] = ""
    sourceDateEpoch: Annotated[int | None, Field(ge=0, le=2**33)] = None


@router.post("/image-pipelines/{name}/start", status_code=201)
def start_pipeline(
    name: str, who: Operator, session: WriteDB, at: Now, body: StartBody | None = None
) -> dict[str, Any]:
    """StartImagePipelineExecution: the image (PENDING) and the build command."""
    body = body or StartBody()
    docs = stored_documents(session)
    request = StartRequest(
        pipeline=name,
        epoch=body.sourceDateEpoch if body.sourceDateEpoch is not None else int(time.time()),
        force_parent=body.forceParent,
        tests=body.imageTestsEnabled,
        distribute=body.distribute,
        node=body.node,
    )
    if not any(p.name == name for p in docs.pipelines):
        raise not_found(f"image pipeline {name!r}")
    with answered():
        plan, command_id = start_build(session, docs, request, who.actor, at)
    return {"image": to_json(plan.image), "node": plan.node, "command_id": command_id}


def _image_view(record: Any) -> dict[str, Any]:
    view = to_json(record)
    view.pop("steps", None)
    view.pop("history", None)
    view.pop("layout", None)
    view.pop("packages", None)  # GET /images/{name}/{semantic}/{build} has them
    return view


@router.get("/images")
def list_images(
    _: Viewer,
    session: ReadDB,
    name: Annotated[str | None, Query(max_length=128)] = None,
    all: bool = False,
) -> list[dict[str, Any]]:
    """Every image (of ``name``), DELETED ones only with ``all``."""
    records = SqlImageCatalog(session).images(name)
    return [_image_view(r) for r in records if all or r.status.value != "DELETED"]


@router.get("/images/{name}/{semantic}/{build}")
def get_image(name: str, semantic: str, build: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
    """One image with its build log and history."""
    try:
        record = find_image(SqlImageCatalog(session), name, f"{semantic}/{build}")
    except PatchwardenError as exc:
        raise not_found(str(exc)) from None
    return to_json(record)


@router.post("/images/{name}/{semantic}/{build}/cancel")
def cancel_image(
    name: str, semantic: str, build: str, who: Operator, session: WriteDB, at: Now
) -> dict[str, Any]:
    """CancelImageCreation: a build not yet taken by its builder ends CANCELLED; one already
    running finishes (the builder does not stop mid-build)."""
    from patchwarden.adapters.storage.commands import SqlCommands
    from patchwarden.pipeline.fleet import commands
    from patchwarden.server.images import sweep

    catalog = SqlImageCatalog(session)
    record = catalog.get(name, f"{semantic}/{build}")
    found = catalog.builder(name, f"{semantic}/{build}")
    if record is None or found is None:
        raise not_found(f"image {name} {semantic}/{build}")
    if record.status.value not in ("PENDING", "BUILDING", "TESTING", "DISTRIBUTING"):
        raise bad_request(
            f"image {name} {record.version} is {record.status.value}: nothing to cancel"
        )
    if not found[1]:
        raise bad_request(f"image {name} {record.version} was not built by the server")
    with answered():
        commands.cancel_command(SqlCommands(session), SqlAuditLog(session), found[1], who.actor, at)
    sweep(session, at)
    now = catalog.get(name, f"{semantic}/{build}")
    assert now is not None
    return _image_view(now)


@router.delete("/images/{name}/{semantic}/{build}")
def delete_one(
    name: str,
    semantic: str,
    build: str,
    who: Operator,
    session: WriteDB,
    at: Now,
    keep_registries: bool = False,
) -> dict[str, Any]:
    """Delete an image: its manifests leave the registries it was pushed to (unless
    ``keep_registries``); the record stays, DELETED."""
    catalog = SqlImageCatalog(session)
    record = catalog.get(name, f"{semantic}/{build}")
    if record is None:
        raise not_found(f"image {name} {semantic}/{build}")
    with answered():
        done = delete_image(
            record, catalog, RegistryRemover(), at, actor=who.actor, registries=not keep_registries
        )
    SqlAuditLog(session).record(
        who.actor, "image.delete", f"{name} {record.version}", at,
        {"removed": list(done.removed), "kept": list(done.kept)},
    )  # fmt: skip
    return {
        "image": _image_view(done.record),
        "removed": list(done.removed),
        "kept": list(done.kept),
    }


@router.post("/lifecycle-policies/{name}/run")
def run_policy(
    name: str, who: Operator, session: WriteDB, at: Now, dry_run: bool = False
) -> dict[str, Any]:
    """Apply the lifecycle policy now (``dry_run``: only say what it would do)."""
    docs = stored_documents(session)
    found = [d for d in docs.lifecycle_policies if d.name == name]
    if not found:
        raise not_found(f"lifecycle policy {name!r}")
    with answered():
        planned = run_lifecycle(
            found[0].policy, SqlImageCatalog(session), RegistryRemover(), at,
            dry_run=dry_run, actor=who.actor,
        )  # fmt: skip
    actions = [
        {
            "image": a.image.name,
            "version": str(a.image.version),
            "action": a.action.value,
            "reason": a.reason,
        }
        for a in planned
    ]
    if not dry_run:
        SqlAuditLog(session).record(
            who.actor, "lifecycle-policy.run", name, at, {"actions": actions}
        )
    return {"policy": name, "dry_run": dry_run, "actions": actions}


def apply_image(session: Any, who: Any, doc: Any, at: Any) -> dict[str, Any] | None:
    """``patchwarden apply`` of an image document (None: not an image kind)."""
    from patchwarden.adapters.storage.images import version_of
    from patchwarden.pipeline.fleet.images import apply_image_document

    if doc.kind not in IMAGE_KINDS:
        return None
    stored = doc.to_json()
    if doc.kind == "ImageRecipe":
        name = doc.recipe.name
    elif doc.kind == "Component":
        name = doc.spec.name
    else:
        name = doc.name
    try:
        result = apply_image_document(
            SqlImageDocuments(session), SqlAuditLog(session), doc.kind, name,
            version_of(doc.kind, stored), stored, who.actor, at,
        )  # fmt: skip
    except PatchwardenError as exc:
        raise bad_request(str(exc)) from None
    if doc.kind == "ImagePipeline":
        from patchwarden.adapters.storage.images import SqlPipelineState

        state = SqlPipelineState(session).get(name)
        if state.status == "DISABLED":  # applying it again is how an operator re-enables it
            state.status = "ENABLED"
            state.consecutive_failures = 0
            state.enabled_at = at
            SqlAuditLog(session).record(who.actor, "image-pipeline.enable", name, at)
            result = "enabled" if result == "unchanged" else result
    return {"kind": doc.kind, "name": name, "result": result}


class ImageUpdate(Body):
    """``PUT /api/v1/agent/images``: the record of the image a builder's invocation builds."""

    invocation_id: Annotated[str, Field(min_length=1, max_length=36)]
    record: dict[str, Any]


@agent_router.put("/images")
def builder_record(
    body: ImageUpdate,
    who: NodeCaller,
    session: WriteDB,
    at: Now,
    request: Request,
    after: BackgroundTasks,
) -> dict[str, Any]:
    """A builder's image record as it changes (each status, each step).  Only the node the
    build command went to, for the image that command builds; an ended image stays ended."""
    from patchwarden.adapters.image.catalog import from_json
    from patchwarden.adapters.storage.queries import commands as reads
    from patchwarden.pipeline.fleet.images import receive_record
    from patchwarden.server.errors import ApiError

    found = reads.invocation_by_id(session, body.invocation_id)
    if found is None:
        raise not_found(f"invocation {body.invocation_id}")
    invocation, command = found
    if invocation.node_id != who.id:
        raise ApiError(403, "forbidden", f"invocation {body.invocation_id} is another node's")
    if command.document_name != DOCUMENT:
        raise bad_request(f"invocation {body.invocation_id} does not build an image")
    params = command.parameters
    version = str(params.get("Version", ""))
    name = next(
        (
            str(d.get("spec", {}).get("name") or d.get("metadata", {}).get("name"))
            for d in params.get("Documents", [])
            if isinstance(d, dict) and d.get("kind") == "ImageRecipe"
        ),
        "",
    )
    catalog = SqlImageCatalog(session)
    with answered():
        record = receive_record(catalog, (name, version), body.record, from_json)
    if record.status.value in ("AVAILABLE", "FAILED", "CANCELLED"):
        SqlAuditLog(session).record(
            f"node:{who.id}", f"image.{record.status.value.lower()}", f"{name} {version}", at,
            {"reason": record.reason} if record.reason else None,
        )  # fmt: skip
    if record.status.value == "AVAILABLE" and record.pipeline:
        promotion = next(
            (d.pipeline.deployment for d in stored_documents(session).pipelines
             if d.pipeline.name == record.pipeline), "",
        )  # fmt: skip
        if promotion:  # after the answer, so after this record is committed
            from patchwarden.server.routes.deployments import deployments

            service = deployments(request)
            after.add_task(service.promote, promotion, f"{name} {version}")
    return {"status": record.status.value}
