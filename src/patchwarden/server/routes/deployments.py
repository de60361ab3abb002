"""The deployments API (docs/deployments.md, "On the server").

* ``GET /api/v1/deployments`` — every stored ``Deployment``: its group, what serves it, its
  last run; ``GET /api/v1/deployments/{name}`` — one, with its document and runs;
* ``POST /api/v1/deployments/{name}/start`` — record a run and carry it out in the
  background (``202``; ``wait: true`` answers when it ended);
* ``POST /api/v1/deployments/{name}/rollback`` — stop the run in progress with a rollback,
  or redeploy the image the last successful run replaced;
* ``GET /api/v1/deployment-runs/{id}`` — one run and every event of it;
* ``DELETE /api/v1/deployments/{name}`` — forget the document (its runs stay).

``Deployment`` documents are stored by ``POST /api/v1/apply``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from patchwarden.adapters.deployers.catalog import group_json, run_json
from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.deployments import group_state, run_record, runs_of
from patchwarden.adapters.storage.images import SqlImageDocuments
from patchwarden.core.deploy.model import ACTIVE
from patchwarden.documents.deployment import KIND
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.deploy import AlreadyServing, Busy, DeployOptions
from patchwarden.pipeline.fleet.images import apply_image_document
from patchwarden.server.auth import Operator, Viewer
from patchwarden.server.db import Now, ReadDB, WriteDB
from patchwarden.server.deployments import Deployments, NoSuchDeployment
from patchwarden.server.errors import bad_request, conflict, not_found
from patchwarden.server.outcomes import answered
from patchwarden.server.schemas import Body

router = APIRouter(prefix="/api/v1", tags=["deployments"])


def deployments(request: Request) -> Deployments:
    """The server's :class:`Deployments` (made on first use)."""
    state = request.app.state
    if getattr(state, "deployments", None) is None:
        state.deployments = Deployments(state.db, state.settings)
    found: Deployments = state.deployments
    return found


def apply_deployment(session: Any, who: Any, doc: Any, at: Any) -> dict[str, Any] | None:
    """``patchwarden apply`` of a ``Deployment`` (None: another kind)."""
    if doc.kind != KIND:
        return None
    try:
        result = apply_image_document(
            SqlImageDocuments(session), SqlAuditLog(session), KIND, doc.name, "",
            doc.to_json(), who.actor, at,
        )  # fmt: skip
    except PatchwardenError as exc:
        raise bad_request(str(exc)) from None
    return {"kind": KIND, "name": doc.name, "result": result}


def _summary(session: Any, document: dict[str, Any]) -> dict[str, Any]:
    name = document["metadata"]["name"]
    group_name = document["spec"]["deploymentGroup"].get("name") or name
    runs = runs_of(session, group_name)
    active = [r for r in runs if r.status in ACTIVE]
    group = group_state(session, group_name)
    return {
        "name": name,
        "serving": group.image,
        "instances": len(group.instances),
        "last_run_id": runs[-1].id if runs else "",
        "last_status": runs[-1].status.value if runs else "",
        "group": group_json(group),
        "active": run_json(active[-1]) if active else None,
        "last_run": run_json(runs[-1]) if runs else None,
    }


@router.get("/deployments")
def list_deployments(_: Viewer, session: ReadDB) -> list[dict[str, Any]]:
    """Every Deployment, what its group serves and its last run."""
    store = SqlImageDocuments(session)
    return [_summary(session, store.get(KIND, row["name"]) or {}) for row in store.listing(KIND)]


@router.get("/deployments/{name}")
def get_deployment(name: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
    """One Deployment: its document, its group and its runs."""
    document = SqlImageDocuments(session).get(KIND, name)
    if document is None:
        raise not_found(f"Deployment {name!r}")
    summary = _summary(session, document)
    runs = [r for r in runs_of(session) if r.deployment == name]
    return {**summary, "document": document, "runs": [run_json(r) for r in runs]}


@router.delete("/deployments/{name}")
def delete_deployment(name: str, who: Operator, session: WriteDB, at: Now) -> dict[str, Any]:
    """Forget a Deployment document (its runs and its group's live set stay)."""
    deleted = SqlImageDocuments(session).delete(KIND, name, None)
    if not deleted:
        raise not_found(f"Deployment {name!r}")
    SqlAuditLog(session).record(who.actor, "deployment.delete", name, at)
    return {"deleted": deleted}


class StartBody(Body):
    """``POST /api/v1/deployments/{name}/start``."""

    image: Annotated[str, Field(max_length=200)] = ""
    """``name:x.y.z/build`` or ``name:1.x.x`` instead of the newest AVAILABLE image."""
    force: bool = False
    wait: bool = False


@router.post("/deployments/{name}/start", status_code=202)
def start_deployment(
    name: str, who: Operator, request: Request, body: StartBody | None = None
) -> Any:
    """Start a run (202 with the run; ``wait``: 200 with the finished run; 200 with
    ``nothing_to_do`` when the image already serves the group)."""
    body = body or StartBody()
    service = deployments(request)
    options = DeployOptions(image=body.image, force=body.force, actor=who.actor)
    try:
        with answered():
            run = service.start(name, options, wait=body.wait)
    except AlreadyServing as exc:
        return JSONResponse({"nothing_to_do": str(exc)}, status_code=200)
    except NoSuchDeployment:
        raise not_found(f"Deployment {name!r}") from None
    except Busy as exc:
        raise conflict(str(exc)) from None
    return JSONResponse(run_json(run), status_code=200 if body.wait else 202)


@router.post("/deployments/{name}/rollback")
def rollback_deployment(name: str, who: Operator, request: Request) -> dict[str, Any]:
    """Stop the run in progress with a rollback, or redeploy the previous image."""
    try:
        with answered():
            result = deployments(request).rollback(name, who.actor)
    except NoSuchDeployment:
        raise not_found(f"Deployment {name!r}") from None
    return {"action": result.action, "detail": result.detail, "run": run_json(result.run)}


@router.get("/deployment-runs/{run_id}")
def get_run(run_id: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
    """One run, with every event."""
    record = run_record(session, run_id)
    if record is None:
        raise not_found(f"deployment run {run_id!r}")
    return record
