"""The responsibility report of the server: its nodes, the newest AVAILABLE image of each
image name (findings and staleness, as ``image tree`` judges them) and the imported
resources, judged by the governance rules (:mod:`patchwarden.core.responsibility`)."""

from __future__ import annotations

from datetime import datetime

from patchwarden.adapters.storage.governance.resources import SqlResources
from patchwarden.adapters.storage.images import SqlImageCatalog
from patchwarden.core.imagebuild import ImageRecord, ImageStatus
from patchwarden.core.responsibility import Report
from patchwarden.core.rules import ResourceSnapshot
from patchwarden.core.rules.resources import IMAGE
from patchwarden.pipeline.governance import responsibility
from patchwarden.server.db import Session
from patchwarden.server.governance.wiring import detached
from patchwarden.server.images import judging
from patchwarden.server.settings import ServerSettings


def newest_images(records: list[ImageRecord]) -> list[ImageRecord]:
    """The newest AVAILABLE image of each image name (what would be deployed now)."""
    newest: dict[str, ImageRecord] = {}
    for record in records:
        if record.status is not ImageStatus.AVAILABLE:
            continue
        held = newest.get(record.name)
        if held is None or record.created > held.created:
            newest[record.name] = record
    return [newest[name] for name in sorted(newest)]


def image_snapshots(session: Session, settings: ServerSettings) -> list[ResourceSnapshot]:
    """The golden images as resources of the ``Image`` type."""
    records = SqlImageCatalog(session).images()
    shown = newest_images(records)
    if not shown:
        return []
    with judging(records, session, settings) as judge:
        out = []
        for record in shown:
            staleness = judge(record)
            out.append(
                ResourceSnapshot(
                    resource_id=f"image:{record.name}:{record.version}",
                    resource_type=IMAGE,
                    name=f"{record.name} {record.version}",
                    source="patchwarden",
                    attributes={
                        "findings": dict(record.findings),
                        "stale": staleness.stale,
                        "stale_reasons": [r.text for r in staleness.reasons],
                        "created": record.created.isoformat(),
                        "digest": record.digest,
                    },
                    first_seen=record.created,
                    observed_at=record.scanned_at or record.updated,
                )
            )
    return out


def report(session: Session, settings: ServerSettings, at: datetime) -> Report:
    """The report now (read-only: nothing is recorded)."""
    gov = detached(session)
    return responsibility.report(gov, image_snapshots(session, settings), at)


def sources(session: Session) -> list[dict[str, object]]:
    """Each import source, its resource count and when it was last imported."""
    return [
        {"source": source, "resources": count, "imported_at": at.isoformat()}
        for source, (count, at) in SqlResources(session).sources().items()
    ]
