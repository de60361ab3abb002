"""The image builder on the server: image documents, pipeline runs by builder agents, the
records they send, deletion and lifecycle policies.

A pipeline run (``StartImagePipelineExecution``) resolves the pipeline's documents now,
assigns the build number, records the image PENDING, and hands the build to one node whose
agent has the ``image-builder`` capability as a ``Patchwarden-BuildImage`` command: its
parameters carry the documents themselves (the builder needs nothing else from the server)
and, for a parent that is another Patchwarden image, the registry reference the parent was
pushed to (any builder can fetch it).  The builder sends the image record as it changes
(:func:`receive_record`); its invocation ends with the build.

Why a build runs is its ``trigger`` (``manual`` by hand, ``schedule``, ``dependency update:
…``, ``fix for …``, ``parent updated: …``): the server records it in the PENDING image and
sends it as the command's optional ``Trigger`` parameter; the parent image's key travels as
the optional ``Parent.image`` (an older builder ignores both, and the server keeps its own
values when the builder's record lacks them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from patchwarden import wire
from patchwarden.core.imagebuild import IN_PROGRESS, TRIGGER_MANUAL, ImageRecord, ImageStatus
from patchwarden.core.recipe import BuildInputs, ImageSelector, PipelineSchedule, StartCondition
from patchwarden.core.semver import ImageVersion
from patchwarden.errors import InputError
from patchwarden.pipeline.image_build import resolve_parent
from patchwarden.ports import AuditLog, ImageCatalog

IMAGE_KINDS = (
    "Component",
    "ImageRecipe",
    "ImagePipeline",
    "DistributionConfiguration",
    "LifecyclePolicy",
)
CAPABILITY = "image-builder"


class ImageDocumentStore(Protocol):
    """Stored image documents (JSON as ``apply`` stored them)."""

    def get(self, kind: str, name: str, version: str = "") -> dict[str, Any] | None: ...

    def put(
        self, kind: str, name: str, version: str, document: dict[str, Any], actor: str, at: datetime
    ) -> bool: ...

    def documents(self, kinds: Sequence[str] = ()) -> list[dict[str, Any]]: ...


class Documents(Protocol):
    """The resolved view of stored documents (``documents.image.ImageDocuments``)."""

    def build_inputs(
        self, pipeline: str | None = None, recipe: str | None = None
    ) -> BuildInputs: ...


@dataclass(frozen=True)
class StartRequest:
    """``StartImagePipelineExecution`` and Patchwarden's options."""

    pipeline: str
    epoch: int
    force_parent: bool = False
    tests: bool | None = None
    distribute: bool = True
    node: str = ""
    """Build on this node (it must have the capability); default: the builder seen last."""
    trigger: str = TRIGGER_MANUAL
    """Why the build runs (recorded in the image)."""


@dataclass(frozen=True)
class StartPlan:
    """What starting a pipeline decided: the image (PENDING), the builder node and the
    build command's parameters."""

    image: ImageRecord
    node: str
    parameters: dict[str, Any]


def apply_image_document(
    store: ImageDocumentStore,
    audit: AuditLog,
    kind: str,
    name: str,
    version: str,
    document: dict[str, Any],
    actor: str,
    at: datetime,
) -> str:
    """Store one image document: ``created``, ``configured`` or ``unchanged``.  A Component
    or ImageRecipe version is immutable: changing a stored version is refused."""
    stored = store.get(kind, name, version)
    if stored == document:
        return "unchanged"
    if stored is not None and version:
        raise InputError(
            f"{kind} {name} {version} exists and versions are immutable: "
            "give the change a new semanticVersion"
        )
    made = store.put(kind, name, version, document, actor, at)
    audit.record(
        actor, f"{_action(kind)}.{'create' if made else 'update'}", f"{name} {version}".strip(), at
    )
    return "created" if made else "configured"


def _action(kind: str) -> str:
    return {
        "Component": "component",
        "ImageRecipe": "image-recipe",
        "ImagePipeline": "image-pipeline",
        "DistributionConfiguration": "distribution-configuration",
        "LifecyclePolicy": "lifecycle-policy",
        "Deployment": "deployment",
        "Suppression": "suppression",
    }[kind]


def plan_start(
    documents: Documents,
    raw: Callable[[BuildInputs], list[dict[str, Any]]],
    catalog: ImageCatalog,
    builders: Sequence[tuple[str, datetime | None]],
    request: StartRequest,
    actor: str,
    at: datetime,
) -> StartPlan:
    """Resolve and record a pipeline run (the caller sends the command).  ``raw`` gives the
    stored documents the build is made of (they travel with the command)."""
    inputs = documents.build_inputs(request.pipeline, None)
    pipeline = inputs.pipeline
    assert pipeline is not None
    if not pipeline.enabled:
        raise InputError(f"image pipeline {pipeline.name} is DISABLED: enable it to start it")
    node = _builder(builders, request.node)
    parent: dict[str, Any] | None = None
    if isinstance(inputs.recipe.parent, ImageSelector):
        chosen = resolve_parent(catalog, inputs.recipe.parent, force=request.force_parent)
        if not chosen.distributed:
            raise InputError(
                f"parent image {chosen.name} {chosen.version} was never pushed to a registry, "
                "so a builder cannot fetch it: give its pipeline a distribution configuration"
            )
        target = chosen.distributed[0]
        parent = {
            "reference": f"docker://{target.destination}@{target.digest}",
            "tlsVerify": target.tls_verify,
            "description": f"{chosen.name} {chosen.version}",
            "image": [chosen.name, str(chosen.version)],
        }
    recipe = inputs.recipe
    version = ImageVersion(recipe.version, catalog.next_build(recipe.name, str(recipe.version)))
    image = ImageRecord(
        name=recipe.name,
        version=version,
        status=ImageStatus.PENDING,
        created=at,
        updated=at,
        pipeline=pipeline.name,
        trigger=request.trigger,
        parent_image=((parent["image"][0], parent["image"][1]) if parent is not None else None),
    ).moved(ImageStatus.PENDING, at, "", actor)
    parameters: dict[str, Any] = {
        "Pipeline": pipeline.name,
        "Version": str(version),
        "SourceDateEpoch": request.epoch,
        "Tests": "" if request.tests is None else ("true" if request.tests else "false"),
        "Distribute": "true" if request.distribute else "false",
        "Documents": raw(inputs),
        "Trigger": request.trigger,
    }
    if parent is not None:
        parameters["Parent"] = parent
    return StartPlan(image, node, parameters)


def _builder(builders: Sequence[tuple[str, datetime | None]], wanted: str) -> str:
    """The node that builds: ``wanted`` (it must be a builder), else the one seen last."""
    if wanted:
        if wanted not in {node for node, _ in builders}:
            raise InputError(
                f"node {wanted} is not an image builder (run its agent with --image-builder)"
            )
        return wanted
    if not builders:
        raise InputError(
            "no node can build images: run an agent with `patchwarden agent run "
            "--image-builder` (root, with mmdebstrap, umoci and skopeo installed)"
        )
    return max(builders, key=lambda b: (b[1] is not None, b[1] or datetime.min, b[0]))[0]


def receive_record(
    catalog: ImageCatalog,
    expected: tuple[str, str],
    raw: dict[str, Any],
    decode: Callable[[dict[str, Any]], ImageRecord],
) -> ImageRecord:
    """A builder's record of the image it builds: it must be that image, and an image that
    ended stays ended (a late or repeated update changes nothing)."""
    try:
        record = decode(raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"record: malformed image record ({exc})") from None
    if record.key != expected:
        raise InputError(
            f"record: this invocation builds {expected[0]} {expected[1]}, "
            f"not {record.name} {record.version}"
        )
    stored = catalog.get(*expected)
    if stored is not None and stored.status not in IN_PROGRESS:
        return stored
    # the builder's layout means nothing here; the pipeline and the creation time are the
    # server's, from the start
    if stored is not None:
        record = replace(
            record,
            pipeline=stored.pipeline,
            created=stored.created,
            trigger=stored.trigger or record.trigger,
            parent_image=record.parent_image or stored.parent_image,
        )
    record = replace(record, layout="")
    catalog.save(record)
    return record


DOCUMENT = wire.BUILD_IMAGE_DOCUMENT


def dependencies(stored: Sequence[dict[str, Any]], parent: str = "") -> dict[str, str]:
    """What a build resolved, for EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE: the
    recipe and component versions (``kind/name/x.y.z``) and the parent image."""
    versioned = sorted(
        f"{d.get('kind')}/{d.get('spec', {}).get('name') or d.get('metadata', {}).get('name')}"
        f"/{d.get('spec', {}).get('semanticVersion')}"
        for d in stored
        if d.get("kind") in ("ImageRecipe", "Component")
    )
    return {"versions": ",".join(versioned), "parent": parent}


def dependency_trigger(previous: dict[str, str], current: dict[str, str]) -> str:
    """The trigger of a scheduled build started for dependency updates: ``dependency
    update: recipe web 1.0.1, component site 1.0.1`` (what :func:`dependencies` gives now
    and did not give the last build), ``parent updated: web-base 1.0.0/3``, or ``schedule``
    when nothing is known to have changed (the first build)."""
    before = set(filter(None, previous.get("versions", "").split(",")))
    changed = []
    for entry in filter(None, current.get("versions", "").split(",")):
        if entry in before:
            continue
        kind, _, rest = entry.partition("/")
        name, _, version = rest.rpartition("/")
        label = {"ImageRecipe": "recipe", "Component": "component"}.get(kind, kind)
        changed.append(f"{label} {name} {version}")
    parent = current.get("parent", "")
    if not changed and previous and parent and parent != previous.get("parent", ""):
        return f"parent updated: {parent}"
    if not changed or not previous:
        return "schedule"
    return "dependency update: " + ", ".join(changed)


def scheduled_start(
    schedule: PipelineSchedule,
    last: datetime | None,
    anchor: datetime,
    now: datetime,
    previous: dict[str, str],
    current: dict[str, str],
) -> tuple[datetime | None, bool]:
    """(the schedule's latest match in (``last`` or ``anchor``, ``now``], whether to build
    then).  EXPRESSION_MATCH_ONLY builds on every match; the default condition only when
    the resolved dependencies differ from the last build's (or there was none)."""
    from patchwarden.core.schedule import next_runs

    after = last or anchor
    fired: datetime | None = None
    for run in next_runs(schedule.expression, after=after, count=1000, timezone=schedule.timezone):
        if run > now:
            break
        fired = run
    if fired is None:
        return None, False
    if schedule.start_condition is StartCondition.EXPRESSION_MATCH_ONLY:
        return fired, True
    return fired, not previous or previous != current


def consecutive_failures(records: Sequence[ImageRecord]) -> int:
    """FAILED builds since the pipeline's last AVAILABLE one (builds in progress and
    CANCELLED ones do not count)."""
    count = 0
    for record in sorted(records, key=lambda r: (r.created, r.version), reverse=True):
        if record.status is ImageStatus.FAILED:
            count += 1
        elif record.status is ImageStatus.CANCELLED or record.status in IN_PROGRESS:
            continue
        else:
            break
    return count
