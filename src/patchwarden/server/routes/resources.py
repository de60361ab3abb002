"""``/api/v1/resources`` (resources imported from elsewhere: an AWS account through
``patchwarden aws import``…) and ``/api/v1/responsibility`` (who patches what, and is it
done: nodes, images and imported resources in one view)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import Field

from patchwarden.adapters.storage.governance.resources import SqlResources
from patchwarden.core.rules import ResourceSnapshot
from patchwarden.core.rules.resources import AWS_TYPES
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.governance.resources import import_source
from patchwarden.render.responsibility import as_json
from patchwarden.server import responsibility
from patchwarden.server.auth import Operator, Viewer
from patchwarden.server.db import Now, ReadDB, settings
from patchwarden.server.errors import bad_request
from patchwarden.server.governance.api import GovernanceDB
from patchwarden.server.schemas import Body, Short, TagKey, TagValue

router = APIRouter(prefix="/api/v1", tags=["responsibility"])
MAX_RESOURCES = 50_000
"""Resources one import may carry."""
SOURCE = r"^[A-Za-z0-9][A-Za-z0-9:._\-]{0,127}$"
TYPES = "^(" + "|".join(AWS_TYPES) + ")$"


class ResourceBody(Body):
    """One imported resource (its attributes follow the contract of its type)."""

    resource_id: Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[^\x00-\x1f]+$")]
    resource_type: Annotated[str, Field(pattern=TYPES)]
    name: Short = ""
    tags: dict[TagKey, TagValue] = Field(default_factory=dict, max_length=50)
    attributes: dict[str, Any] = Field(default_factory=dict, max_length=100)


class ImportBody(Body):
    """``PUT /api/v1/resources/sources/{source}``: everything the source holds now — of
    every type, or of ``resource_types`` only (the others are left as they were)."""

    resources: list[ResourceBody] = Field(max_length=MAX_RESOURCES)
    resource_types: list[Annotated[str, Field(pattern=TYPES)]] | None = Field(
        default=None, max_length=len(AWS_TYPES)
    )


SourcePath = Annotated[str, Path(pattern=SOURCE)]


def _import(gov: GovernanceDB, source: str, body: ImportBody, actor: str, at: Any) -> Any:
    incoming = [
        ResourceSnapshot(
            resource_id=r.resource_id,
            resource_type=r.resource_type,
            name=r.name,
            tags=r.tags,
            attributes=r.attributes,
        )
        for r in body.resources
    ]
    try:
        return import_source(gov, source, incoming, actor, at, body.resource_types)
    except PatchwardenError as exc:
        raise bad_request(str(exc)) from None


@router.put("/resources/sources/{source}")
def put_source(
    source: SourcePath, body: ImportBody, who: Operator, gov: GovernanceDB, at: Now
) -> dict[str, Any]:
    """Replace what ``source`` holds (``aws:ACCOUNT:REGION``…), of every type or of
    ``resource_types``: resources of those types it no longer lists are removed; added
    and changed ones are evaluated by the rules judging their types.  Audited
    ``resources.import``."""
    result = _import(gov, source, body, who.actor, at)
    return {
        "source": result.source,
        "added": result.added,
        "updated": result.updated,
        "removed": result.removed,
        "resources": result.resources,
    }


@router.delete("/resources/sources/{source}")
def delete_source(source: SourcePath, who: Operator, gov: GovernanceDB, at: Now) -> dict[str, Any]:
    """Forget every resource of ``source``."""
    result = _import(gov, source, ImportBody(resources=[]), who.actor, at)
    return {"source": result.source, "removed": result.removed}


@router.get("/resources")
def list_resources(
    _: Viewer,
    session: ReadDB,
    resource_type: Annotated[str | None, Query(alias="type", pattern=TYPES)] = None,
    source: Annotated[str | None, Query(pattern=SOURCE)] = None,
) -> dict[str, Any]:
    """Imported resources with their attributes (filter by ``type`` and ``source``)."""
    rows = [
        {
            "resource_id": r.resource_id,
            "resource_type": r.resource_type,
            "name": r.name,
            "source": r.source,
            "tags": dict(r.tags),
            "attributes": dict(r.attributes),
            "first_seen": r.first_seen.isoformat() if r.first_seen else None,
            "observed_at": r.observed_at.isoformat() if r.observed_at else None,
        }
        for r in SqlResources(session).all()
        if (resource_type is None or r.resource_type == resource_type)
        and (source is None or r.source == source)
    ]
    return {"resources": rows}


@router.get("/responsibility")
def get_responsibility(_: Viewer, session: ReadDB, request: Request, at: Now) -> dict[str, Any]:
    """The responsibility report: per resource kind the owner and state of each layer
    (OS, runtime or engine, application), and every resource's verdicts."""
    report = responsibility.report(session, settings(request), at)
    return as_json(report, responsibility.sources(session))
