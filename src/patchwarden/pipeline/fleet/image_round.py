"""The fleet's image builder, as the server runs it: starting a pipeline's build on a
builder node, and the decisions of the background round that need no vulnerability
database or registry:

* :func:`sweep` — an image still in progress whose build invocation has ended (the builder
  died, timed out, or its last record never arrived) ends FAILED (CANCELLED when the
  command was cancelled) with the invocation's status and output;
* :func:`schedules` — each ENABLED pipeline with a ``schedule`` starts when its cron
  expression matched since the last round: on every match (EXPRESSION_MATCH_ONLY) or only
  when the recipe, a component or the parent image now resolves to another version than
  the last build used; ``autoDisablePolicy.failureCount`` consecutive failures disable it;
* :func:`lifecycle` — each ENABLED LifecyclePolicy runs once a day;
* :func:`rebuilds` — rebuildOnFix: a pipeline whose newest AVAILABLE image is stale by a fix
  or a parent update starts a build, within its cool-down and builds per day; a rebuild held
  back is audited once per reason.

Every action is audited with the actor :data:`SCHEDULER`.  The shell binds the ports to one
transaction (:class:`BuildRound`) and owns the loop."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from patchwarden.core.imagebuild import TRIGGER_SCHEDULE, ImageRecord, ImageStatus
from patchwarden.core.recipe import ImagePipeline, ImageSelector, Recipe, StartCondition
from patchwarden.core.rollout import InvocationStatus
from patchwarden.documents.image import ImageDocuments
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.fleet.commands import CommandRequest, Fleet, create_command
from patchwarden.pipeline.fleet.images import (
    CAPABILITY,
    DOCUMENT,
    StartPlan,
    StartRequest,
    consecutive_failures,
    dependencies,
    dependency_trigger,
    plan_start,
    scheduled_start,
)
from patchwarden.pipeline.image_build import resolve_parent
from patchwarden.pipeline.image_lifecycle import ImageRemover, run_lifecycle
from patchwarden.pipeline.image_staleness import plan_rebuilds
from patchwarden.ports import AuditLog, ImageCatalog

log = logging.getLogger("patchwarden.images")

SCHEDULER = "scheduler"
"""The actor of everything the round does on its own."""
BUILD_TIMEOUT = 4 * 3600
"""Seconds a builder may take for one image (the build command's execution timeout)."""
LIFECYCLE_EVERY = timedelta(days=1)
ENDED = frozenset(s.value for s in InvocationStatus if s.terminal)


class BuildCatalog(ImageCatalog, Protocol):
    """The server's image catalog: an image record also remembers its builder and build
    command."""

    def save(self, record: ImageRecord, *, node_id: str = "", command_id: str = "") -> None:
        """Create or replace the record (``node_id``/``command_id`` kept when not given)."""
        ...


class PipelineMemory(Protocol):
    """What one pipeline's schedule (or rebuild, or lifecycle policy) remembers; changes
    are kept with the round's transaction."""

    status: str
    """ENABLED, or DISABLED by its autoDisablePolicy."""
    consecutive_failures: int
    enabled_at: datetime | None
    """When an operator last (re-)enabled it: failures before that do not count."""
    last_started_at: datetime | None
    last_inputs: dict[str, Any]


class PipelineStates(Protocol):
    """The memory of each pipeline, made on first use."""

    def get(self, name: str) -> PipelineMemory: ...


@dataclass(frozen=True)
class Build:
    """An image still in progress and its build command's invocation."""

    record: ImageRecord
    command_id: str
    status: str
    output: str


class Builders(Protocol):
    """The builder nodes and the builds they run."""

    def builders(self, capability: str) -> list[tuple[str, datetime | None]]:
        """(node id, last seen) of every registered node with ``capability``."""
        ...

    def in_progress(self) -> list[Build]:
        """Every image in progress that has a build command."""
        ...


@dataclass(frozen=True)
class BuildRound:
    """The ports of one transaction of the image builder."""

    catalog: BuildCatalog
    states: PipelineStates
    builds: Builders
    fleet: Fleet
    audit: AuditLog
    remover: ImageRemover


def start_build(
    ports: BuildRound, docs: ImageDocuments, request: StartRequest, actor: str, at: datetime
) -> tuple[StartPlan, str]:
    """Start ``request.pipeline``: the plan (image PENDING, builder, parameters) and the id
    of the build command; the pipeline's memory keeps what the build resolved."""
    builders = ports.builds.builders(CAPABILITY)
    plan = plan_start(docs, docs.stored_for, ports.catalog, builders, request, actor, at)
    command = create_command(
        ports.fleet,
        CommandRequest(
            document_name=DOCUMENT,
            parameters=plan.parameters,
            baseline_override=None,
            snapshot_id="",
            instance_ids=(plan.node,),
            targets=(),
            max_concurrency="1",
            max_errors="0",
            timeout_seconds=600,
            execution_timeout_seconds=BUILD_TIMEOUT,
            comment=f"image pipeline {request.pipeline}",
        ),
        actor,
        at,
    )
    ports.catalog.save(plan.image, node_id=plan.node, command_id=command.id)
    parent = plan.parameters.get("Parent", {}).get("description", "")
    ports.states.get(request.pipeline).last_inputs = dependencies(
        plan.parameters["Documents"], parent
    )
    ports.audit.record(
        actor,
        "image-pipeline.start",
        request.pipeline,
        at,
        {"image": f"{plan.image.name} {plan.image.version}", "node": plan.node,
         "command": command.id, "trigger": request.trigger},
    )  # fmt: skip
    return plan, command.id


def sweep(ports: BuildRound, at: datetime) -> int:
    """Images in progress whose build invocation ended end FAILED (or CANCELLED); how
    many."""
    ended = 0
    for build in ports.builds.in_progress():
        if build.status not in ENDED:
            continue
        first = build.output.strip().splitlines()[:1]
        why = f"the build's invocation ended {build.status}" + (
            f": {first[0][:300]}" if first else ""
        )
        final = ImageStatus.CANCELLED if build.status == "Cancelled" else ImageStatus.FAILED
        record = build.record
        ports.catalog.save(record.moved(final, at, why, SCHEDULER))
        ports.audit.record(
            SCHEDULER,
            f"image.{final.value.lower()}",
            f"{record.name} {record.version}",
            at,
            {"reason": why},
        )
        ended += 1
    return ended


def _current_dependencies(
    ports: BuildRound, docs: ImageDocuments, name: str
) -> dict[str, str] | None:
    """What starting ``name`` now would resolve (None: it cannot be resolved now)."""
    try:
        inputs = docs.build_inputs(name, None)
        parent = ""
        if isinstance(inputs.recipe.parent, ImageSelector):
            chosen = resolve_parent(ports.catalog, inputs.recipe.parent, force=False)
            parent = f"{chosen.name} {chosen.version}"
        return dependencies(docs.stored_for(inputs), parent)
    except PatchwardenError:
        return None


def _disabled(
    ports: BuildRound,
    pipeline: ImagePipeline,
    memory: PipelineMemory,
    records: Sequence[ImageRecord],
    at: datetime,
) -> bool:
    """Whether the autoDisablePolicy disables ``pipeline`` now (audited when it does)."""
    schedule = pipeline.schedule
    if schedule is None or schedule.failure_count is None:
        return False
    since = memory.enabled_at
    failures = consecutive_failures(
        [
            r
            for r in records
            if r.pipeline == pipeline.name and (since is None or r.created >= since)
        ]
    )
    memory.consecutive_failures = failures
    if failures < schedule.failure_count:
        return False
    memory.status = "DISABLED"
    ports.audit.record(SCHEDULER, "image-pipeline.disable", pipeline.name, at,
                       {"consecutive_failures": failures})  # fmt: skip
    log.warning("image pipeline %s disabled after %d failures", pipeline.name, failures)
    return True


def schedules(ports: BuildRound, docs: ImageDocuments, at: datetime) -> list[str]:
    """Start every pipeline whose schedule says so; the pipelines started."""
    started: list[str] = []
    records = ports.catalog.images()  # read once: the builds started below are not failures
    for document in docs.pipelines:
        pipeline = document.pipeline
        schedule = pipeline.schedule
        if schedule is None or not pipeline.enabled:
            continue
        memory = ports.states.get(pipeline.name)
        if memory.status != "ENABLED" or _disabled(ports, pipeline, memory, records, at):
            continue
        if memory.last_started_at is None:  # first seen: its schedule counts from now
            memory.last_started_at = at
            continue
        previous = dict(memory.last_inputs or {})
        current = _current_dependencies(ports, docs, pipeline.name)
        fired, build = scheduled_start(
            schedule, memory.last_started_at, at, at, previous, current or {}
        )
        if fired is None:
            continue
        memory.last_started_at = at
        if not build or current is None:
            why = "no dependency updates" if current else "its documents do not resolve"
            ports.audit.record(SCHEDULER, "image-pipeline.skip", pipeline.name, at, {"reason": why})
            continue
        trigger = (
            TRIGGER_SCHEDULE
            if schedule.start_condition is StartCondition.EXPRESSION_MATCH_ONLY
            else dependency_trigger(previous, current)
        )
        request = StartRequest(pipeline.name, int(at.timestamp()), trigger=trigger)
        try:
            start_build(ports, docs, request, SCHEDULER, at)
        except PatchwardenError as exc:
            ports.audit.record(
                SCHEDULER, "image-pipeline.skip", pipeline.name, at, {"reason": str(exc)}
            )
            log.warning("image pipeline %s not started: %s", pipeline.name, exc)
            continue
        started.append(pipeline.name)
    return started


def lifecycle(ports: BuildRound, docs: ImageDocuments, at: datetime) -> int:
    """Run every ENABLED lifecycle policy not run in the last day; the actions taken."""
    taken = 0
    for document in docs.lifecycle_policies:
        policy = document.policy
        if not policy.enabled:
            continue
        memory = ports.states.get(f"lifecycle/{policy.name}")
        if memory.last_started_at is not None and at - memory.last_started_at < LIFECYCLE_EVERY:
            continue
        memory.last_started_at = at
        try:
            planned = run_lifecycle(policy, ports.catalog, ports.remover, at, actor=SCHEDULER)
        except PatchwardenError as exc:
            log.warning("lifecycle policy %s: %s", policy.name, exc)
            continue
        if planned:
            done = [f"{a.action.value} {a.image.name} {a.image.version}" for a in planned]
            ports.audit.record(
                SCHEDULER, "lifecycle-policy.run", policy.name, at, {"actions": done}
            )
        taken += len(planned)
    return taken


def _resolved(docs: ImageDocuments) -> list[tuple[ImagePipeline, Recipe]]:
    """Each pipeline with rebuildOnFix and the recipe it resolves to now."""
    found = []
    for document in docs.pipelines:
        if document.pipeline.rebuild_on_fix is None:
            continue
        try:
            found.append((document.pipeline, docs.build_inputs(document.name, None).recipe))
        except PatchwardenError as exc:
            log.warning("image pipeline %s: %s", document.name, exc)
    return found


def rebuilds(ports: BuildRound, docs: ImageDocuments, at: datetime) -> list[str]:
    """rebuildOnFix: start each pipeline whose newest AVAILABLE image is stale by a fix or
    a parent update; the pipelines started."""
    enabled = [(p, r) for p, r in _resolved(docs) if ports.states.get(p.name).status == "ENABLED"]
    started: list[str] = []
    for plan in plan_rebuilds(enabled, ports.catalog.images(), at):
        memory = ports.states.get(f"rebuild/{plan.pipeline}")
        image = f"{plan.image.name} {plan.image.version}"
        why = plan.decision.skipped
        if plan.decision.start:
            request = StartRequest(
                plan.pipeline, int(at.timestamp()), trigger=plan.decision.trigger
            )
            try:
                start_build(ports, docs, request, SCHEDULER, at)
            except PatchwardenError as exc:
                why = str(exc)
                log.warning("image pipeline %s not rebuilt: %s", plan.pipeline, exc)
            else:
                memory.last_started_at = at
                memory.last_inputs = {}
                started.append(plan.pipeline)
                continue
        held = {"image": image, "reason": why}
        if dict(memory.last_inputs or {}) != held:  # audited once per reason, not every round
            memory.last_inputs = held
            ports.audit.record(SCHEDULER, "image-pipeline.skip", plan.pipeline, at,
                               {"reason": f"rebuild of {image}: {why}"})  # fmt: skip
    return started
