"""The image builder in the server process: starting a pipeline (by hand or on its schedule)
and the background round (every ``PATCHWARDEN_IMAGES_INTERVAL`` seconds, default 30) —
sweep, schedules and lifecycle in one transaction, rescans, then rebuilds — over
:mod:`patchwarden.pipeline.fleet.image_round` (what each step decides) bound to the server's
database here.

**rescans** — every AVAILABLE image is assessed against the server's vulnerability database
when it was never scanned here or the database changed since (Inspector's continuous ECR
scanning): its recorded package list when the builder sent one, else the image read back
from the registry it was pushed to; its findings and fixable findings are recorded.

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
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool

from patchwarden.adapters.image.store import RegistryRemover
from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.baselines import SqlBaselines
from patchwarden.adapters.storage.images import (
    SqlBuilds,
    SqlImageCatalog,
    SqlImageDocuments,
    SqlPipelineState,
)
from patchwarden.core.imagebuild import ImageRecord, ImageStatus
from patchwarden.documents.image import ImageDocuments, image_documents_of
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.fleet import image_round
from patchwarden.pipeline.fleet.image_round import BuildRound
from patchwarden.pipeline.fleet.images import IMAGE_KINDS, StartPlan, StartRequest
from patchwarden.pipeline.image_staleness import Judge, reassess
from patchwarden.server.db import Database, Session
from patchwarden.server.fleet.commands import fleet
from patchwarden.server.settings import ServerSettings

log = logging.getLogger("patchwarden.server.images")


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


def bound(session: Session) -> BuildRound:
    """The image builder's ports over ``session`` (the caller owns its transaction)."""
    return BuildRound(
        catalog=SqlImageCatalog(session),
        states=SqlPipelineState(session),
        builds=SqlBuilds(session),
        fleet=fleet(session),
        audit=SqlAuditLog(session),
        remover=RegistryRemover(),
    )


def start_build(
    session: Session, docs: ImageDocuments, request: StartRequest, actor: str, at: datetime
) -> tuple[StartPlan, str]:
    """Start ``request.pipeline`` (:func:`image_round.start_build`) in ``session``."""
    return image_round.start_build(bound(session), docs, request, actor, at)


def sweep(session: Session, at: datetime) -> int:
    """Images in progress whose build invocation ended end FAILED; how many."""
    return image_round.sweep(bound(session), at)


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


def images_round(db: Database, settings: ServerSettings) -> dict[str, Any]:
    """One background round (sweep, schedules, lifecycle, rescans, then rebuilds)."""
    at = settings.clock.now()
    with db.write() as session, session.begin():
        ports, docs = bound(session), stored_documents(session)
        swept = image_round.sweep(ports, at)
        started = image_round.schedules(ports, docs, at)
        actions = image_round.lifecycle(ports, docs, at)
    rescanned = rescan(db, settings)
    with db.write() as session, session.begin():
        rebuilt = image_round.rebuilds(bound(session), stored_documents(session), at)
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
