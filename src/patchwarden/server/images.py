"""The image builder in the server process: starting a pipeline (by hand or on its schedule)
and the background round (every ``PATCHWARDEN_IMAGES_INTERVAL`` seconds, default 30):

1. **sweep** — an image still in progress whose build invocation has ended (the builder
   died, timed out, or its last record never arrived) ends FAILED with the invocation's
   status and output;
2. **schedules** — each ENABLED pipeline with a ``schedule`` starts when its cron expression
   matched since the last round: on every match (EXPRESSION_MATCH_ONLY) or only when the
   recipe, a component or the parent image now resolves to another version than the last
   build used (EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE, the default);
   ``autoDisablePolicy.failureCount`` consecutive failures disable the pipeline;
3. **lifecycle** — each ENABLED LifecyclePolicy runs once a day;
4. **rescans** — every AVAILABLE image is assessed against the server's vulnerability
   database when it was never scanned here or the database changed since (Inspector's
   continuous ECR scanning): its recorded package list when the builder sent one, else the
   image read back from the registry it was pushed to; its findings and fixable findings
   are recorded;
5. **rebuilds** — each ENABLED pipeline with ``rebuildOnFix`` whose newest AVAILABLE image
   is stale by a fix at or above its severity, or by a parent update when its recipe is
   built on another image, starts a build (trigger ``fix for …`` / ``parent updated: …``),
   within its cool-down and builds per UTC day
   (:func:`patchwarden.pipeline.image_staleness.plan_rebuilds`).

Every build records its trigger: ``manual`` (started through the API), ``schedule``,
``dependency update: …``, or the rebuild's reason.  Every action is in the audit log (actor
``scheduler``); a rebuild held back is audited once per reason (``image-pipeline.skip``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool

from patchwarden.adapters.image.store import RegistryRemover
from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.baselines import SqlBaselines
from patchwarden.adapters.storage.images import (
    SqlImageCatalog,
    SqlImageDocuments,
    SqlPipelineState,
    builders,
    builds_in_progress,
)
from patchwarden.core.imagebuild import TRIGGER_SCHEDULE, ImageRecord, ImageStatus
from patchwarden.core.recipe import ImagePipeline, ImageSelector, Recipe, StartCondition
from patchwarden.core.rollout import InvocationStatus
from patchwarden.documents.image import ImageDocuments, image_documents_of
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.fleet import commands
from patchwarden.pipeline.fleet.commands import CommandRequest
from patchwarden.pipeline.fleet.images import (
    CAPABILITY,
    DOCUMENT,
    IMAGE_KINDS,
    StartPlan,
    StartRequest,
    consecutive_failures,
    dependencies,
    dependency_trigger,
    plan_start,
    scheduled_start,
)
from patchwarden.pipeline.image_build import resolve_parent
from patchwarden.pipeline.image_lifecycle import run_lifecycle
from patchwarden.pipeline.image_staleness import Judge, plan_rebuilds, reassess
from patchwarden.server.db import Database, Session
from patchwarden.server.fleet.commands import fleet
from patchwarden.server.settings import ServerSettings

log = logging.getLogger("patchwarden.server.images")

BUILD_TIMEOUT = 4 * 3600
"""Seconds a builder may take for one image (the command's execution timeout)."""
LIFECYCLE_EVERY = timedelta(days=1)
SCHEDULER = "scheduler"
ENDED = tuple(s.value for s in InvocationStatus if s.terminal)


def stored_documents(session: Session) -> ImageDocuments:
    """Every stored image document, resolved (and the baselines pipelines name)."""
    raws = SqlImageDocuments(session).documents(IMAGE_KINDS)
    baselines = SqlBaselines(session)
    for raw in list(raws):
        if raw.get("kind") != "ImagePipeline":
            continue
        name = raw.get("spec", {}).get("patchBaseline")
        document = baselines.named_document(name) if name else None
        if document is not None and document not in raws:
            raws.append(document)
    return image_documents_of(raws, "stored")


@contextmanager
def judging(
    records: Sequence[ImageRecord], session: Session, settings: ServerSettings
) -> Iterator[Judge]:
    """The server's staleness judge: every record, the stored recipes, the server's
    vulnerability database when it has one (the server does not read mirrors)."""
    from patchwarden.adapters.vulndb import SqliteVulnDb

    documents = stored_documents(session)
    path = settings.vulndb_path
    advisories = SqliteVulnDb(path) if path.is_file() else None
    try:
        yield Judge(
            records=records,
            now=settings.clock.now(),
            recipe_of=documents.recipe_or_none,
            advisories=advisories,
        )
    finally:
        if advisories is not None:
            advisories.close()


def start_build(
    session: Session, docs: ImageDocuments, request: StartRequest, actor: str, at: datetime
) -> tuple[StartPlan, str]:
    """Start ``request.pipeline``: the plan (image PENDING, builder, parameters) and the id
    of the build command; the pipeline's state remembers what the build resolved."""
    catalog = SqlImageCatalog(session)
    plan = plan_start(
        docs, docs.stored_for, catalog, builders(session, CAPABILITY), request, actor, at
    )
    command = commands.create_command(
        fleet(session),
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
    catalog.save(plan.image, node_id=plan.node, command_id=command.id)
    parent = plan.parameters.get("Parent", {}).get("description", "")
    state = SqlPipelineState(session).get(request.pipeline)
    state.last_inputs = dependencies(plan.parameters["Documents"], parent)
    SqlAuditLog(session).record(
        actor,
        "image-pipeline.start",
        request.pipeline,
        at,
        {"image": f"{plan.image.name} {plan.image.version}", "node": plan.node,
         "command": command.id, "trigger": request.trigger},
    )  # fmt: skip
    return plan, command.id


def sweep(session: Session, at: datetime) -> int:
    """Images in progress whose build invocation ended end FAILED; how many."""
    catalog = SqlImageCatalog(session)
    ended = 0
    for record, _command, status, output in builds_in_progress(session):
        if status not in ENDED:
            continue
        first = output.strip().splitlines()[:1]
        why = f"the build's invocation ended {status}" + (f": {first[0][:300]}" if first else "")
        final = ImageStatus.CANCELLED if status == "Cancelled" else ImageStatus.FAILED
        catalog.save(record.moved(final, at, why, SCHEDULER))
        SqlAuditLog(session).record(
            SCHEDULER,
            f"image.{final.value.lower()}",
            f"{record.name} {record.version}",
            at,
            {"reason": why},
        )
        ended += 1
    return ended


def _current_dependencies(
    session: Session, docs: ImageDocuments, name: str
) -> dict[str, str] | None:
    """What starting ``name`` now would resolve (None: it cannot be resolved now)."""
    try:
        inputs = docs.build_inputs(name, None)
        parent = ""
        if isinstance(inputs.recipe.parent, ImageSelector):
            chosen = resolve_parent(SqlImageCatalog(session), inputs.recipe.parent, force=False)
            parent = f"{chosen.name} {chosen.version}"
        return dependencies(docs.stored_for(inputs), parent)
    except PatchwardenError:
        return None


def schedules(session: Session, at: datetime) -> list[str]:
    """Start every pipeline whose schedule says so; the pipelines started."""
    docs = stored_documents(session)
    states = SqlPipelineState(session)
    catalog = SqlImageCatalog(session)
    audit = SqlAuditLog(session)
    started: list[str] = []
    records = catalog.images()  # read once: the builds started below do not count as failures
    for document in docs.pipelines:
        pipeline = document.pipeline
        schedule = pipeline.schedule
        if schedule is None or not pipeline.enabled:
            continue
        state = states.get(pipeline.name)
        if state.status != "ENABLED":
            continue
        if schedule.failure_count is not None:
            since = state.enabled_at
            failures = consecutive_failures(
                [
                    r
                    for r in records
                    if r.pipeline == pipeline.name and (since is None or r.created >= since)
                ]
            )
            state.consecutive_failures = failures
            if failures >= schedule.failure_count:
                state.status = "DISABLED"
                audit.record(SCHEDULER, "image-pipeline.disable", pipeline.name, at,
                             {"consecutive_failures": failures})  # fmt: skip
                log.warning("image pipeline %s disabled after %d failures", pipeline.name, failures)
                continue
        if state.last_started_at is None:  # first seen: its schedule counts from now
            state.last_started_at = at
            continue
        current = _current_dependencies(session, docs, pipeline.name)
        fired, build = scheduled_start(
            schedule, state.last_started_at, at, at, dict(state.last_inputs or {}), current or {}
        )
        if fired is None:
            continue
        state.last_started_at = at
        if not build or current is None:
            why = "no dependency updates" if current else "its documents do not resolve"
            audit.record(SCHEDULER, "image-pipeline.skip", pipeline.name, at, {"reason": why})
            continue
        trigger = (
            TRIGGER_SCHEDULE
            if schedule.start_condition is StartCondition.EXPRESSION_MATCH_ONLY
            else dependency_trigger(dict(state.last_inputs or {}), current)
        )
        try:
            start_build(
                session,
                docs,
                StartRequest(pipeline.name, int(at.timestamp()), trigger=trigger),
                SCHEDULER,
                at,
            )
        except PatchwardenError as exc:
            audit.record(SCHEDULER, "image-pipeline.skip", pipeline.name, at, {"reason": str(exc)})
            log.warning("image pipeline %s not started: %s", pipeline.name, exc)
            continue
        started.append(pipeline.name)
    return started


def lifecycle(session: Session, at: datetime) -> int:
    """Run every ENABLED lifecycle policy not run in the last day; the actions taken."""
    docs = stored_documents(session)
    states = SqlPipelineState(session)
    taken = 0
    for document in docs.lifecycle_policies:
        policy = document.policy
        if not policy.enabled:
            continue
        state = states.get(f"lifecycle/{policy.name}")
        if state.last_started_at is not None and at - state.last_started_at < LIFECYCLE_EVERY:
            continue
        state.last_started_at = at
        try:
            planned = run_lifecycle(
                policy, SqlImageCatalog(session), RegistryRemover(), at, actor=SCHEDULER
            )
        except PatchwardenError as exc:
            log.warning("lifecycle policy %s: %s", policy.name, exc)
            continue
        if planned:
            done = [f"{a.action.value} {a.image.name} {a.image.version}" for a in planned]
            SqlAuditLog(session).record(
                SCHEDULER, "lifecycle-policy.run", policy.name, at, {"actions": done}
            )
        taken += len(planned)
    return taken


def rescan(db: Database, settings: ServerSettings) -> int:
    """Assess every AVAILABLE image not scanned with the current database (its recorded
    package list, else the image in its registry); how many."""
    from patchwarden.adapters.image.reader import OciImageReader
    from patchwarden.adapters.vulndb import SqliteVulnDb
    from patchwarden.core.imagebuild import active_counts, image_fixes
    from patchwarden.pipeline.image_scan import assess_image

    path = settings.vulndb_path
    try:
        db_time = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return 0
    with db.read() as session:
        due = [
            r
            for r in SqlImageCatalog(session).images()
            if r.status is ImageStatus.AVAILABLE
            and (r.distributed or (r.packages and r.os_info is not None))
            and (r.scanned_at is None or r.scanned_at < db_time)
        ]
    done = 0
    store = SqliteVulnDb(path)
    try:
        for record in due:
            try:
                again = reassess(record, store, settings.clock.now())
                if again is None:
                    target = record.distributed[0]
                    reference = f"docker://{target.destination}@{target.digest}"
                    contents = OciImageReader(tls_verify=target.tls_verify).read(reference)
                    report = assess_image(contents, settings.clock.now(), store=store)
                    found = report.vulnerabilities or ()
                    again = active_counts(found), image_fixes(found)
            except PatchwardenError as exc:
                log.warning("rescan of %s %s: %s", record.name, record.version, exc)
                continue
            findings, fixes = again
            with db.write() as session, session.begin():
                catalog = SqlImageCatalog(session)
                fresh = catalog.get(record.name, str(record.version))
                if fresh is None or fresh.status is not ImageStatus.AVAILABLE:
                    continue
                catalog.save(replace(fresh, findings=findings, fixes=fixes, scanned_at=db_time))
            done += 1
    finally:
        store.close()
    return done


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


def rebuilds(session: Session, at: datetime) -> list[str]:
    """rebuildOnFix: start each pipeline whose newest AVAILABLE image is stale by a fix or
    a parent update; the pipelines started."""
    docs = stored_documents(session)
    states = SqlPipelineState(session)
    audit = SqlAuditLog(session)
    pipelines = [(p, r) for p, r in _resolved(docs) if states.get(p.name).status == "ENABLED"]
    started: list[str] = []
    for plan in plan_rebuilds(pipelines, SqlImageCatalog(session).images(), at):
        memory = states.get(f"rebuild/{plan.pipeline}")
        image = f"{plan.image.name} {plan.image.version}"
        why = plan.decision.skipped
        if plan.decision.start:
            try:
                start_build(
                    session,
                    docs,
                    StartRequest(plan.pipeline, int(at.timestamp()), trigger=plan.decision.trigger),
                    SCHEDULER,
                    at,
                )
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
            audit.record(SCHEDULER, "image-pipeline.skip", plan.pipeline, at,
                         {"reason": f"rebuild of {image}: {why}"})  # fmt: skip
    return started


def images_round(db: Database, settings: ServerSettings) -> dict[str, Any]:
    """One background round (sweep, schedules, lifecycle, rescans, then rebuilds)."""
    at = settings.clock.now()
    with db.write() as session, session.begin():
        swept = sweep(session, at)
        started = schedules(session, at)
        actions = lifecycle(session, at)
    rescanned = rescan(db, settings)
    with db.write() as session, session.begin():
        rebuilt = rebuilds(session, at)
    return {
        "swept": swept,
        "started": started,
        "lifecycle": actions,
        "rescanned": rescanned,
        "rebuilt": rebuilt,
    }


async def loop(db: Database, settings: ServerSettings, seconds: float) -> None:
    """:func:`images_round` every ``seconds``."""
    while True:
        await asyncio.sleep(seconds)
        began = time.monotonic()
        try:
            await run_in_threadpool(images_round, db, settings)
        except Exception:  # tried again at the next round
            log.exception("image builder round failed")
        log.debug("image round took %.2f s", time.monotonic() - began)
