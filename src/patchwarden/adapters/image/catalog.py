"""The image catalog: every build and its history, as JSON records.

:class:`LocalImageCatalog` keeps them in a SQLite file next to the local OCI layouts
(``patchwarden image build`` without a server).  :func:`to_json` / :func:`from_json` are the
record's one JSON form (also what ``image describe -f json`` prints).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from patchwarden.adapters.state import open_private
from patchwarden.core.imagebuild import (
    BuildStep,
    Distributed,
    ImageFix,
    ImagePackage,
    ImageRecord,
    ImageStatus,
    StatusChange,
)
from patchwarden.core.model import OsInfo
from patchwarden.core.semver import ImageVersion
from patchwarden.core.vuln import Severity

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    semantic TEXT NOT NULL,
    build INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS builds (
    name TEXT NOT NULL,
    semantic TEXT NOT NULL,
    last INTEGER NOT NULL,
    PRIMARY KEY (name, semantic)
);
"""


def _ts(value: datetime) -> str:
    return value.isoformat()


def _os_json(info: OsInfo) -> dict[str, str]:
    return {
        "id": info.id,
        "versionId": info.version_id,
        "codename": info.codename,
        "prettyName": info.pretty_name,
        "family": info.family,
        "operatingSystem": info.operating_system,
        "product": info.product,
    }


def _os_of(data: dict[str, Any]) -> OsInfo:
    return OsInfo(
        id=str(data.get("id", "")),
        version_id=str(data.get("versionId", "")),
        codename=str(data.get("codename", "")),
        pretty_name=str(data.get("prettyName", "")),
        family=str(data.get("family", "")),
        operating_system=str(data.get("operatingSystem", "")),
        product=str(data.get("product", "")),
    )


def to_json(record: ImageRecord) -> dict[str, Any]:
    """The record as JSON (AWS-like field names where AWS has the field).  Fields added
    later (``parentImage``, ``packages``, ``os``, ``trigger``, ``fixes``) are optional in
    :func:`from_json`: older records read back with their defaults."""
    return {
        "name": record.name,
        "version": str(record.version),
        "status": record.status.value,
        "reason": record.reason,
        "dateCreated": _ts(record.created),
        "dateUpdated": _ts(record.updated),
        "pipeline": record.pipeline,
        "parent": record.parent,
        "parentDigest": record.parent_digest,
        "parentImage": (
            {"name": record.parent_image[0], "version": record.parent_image[1]}
            if record.parent_image
            else None
        ),
        "trigger": record.trigger,
        "digest": record.digest,
        "packageDigest": record.package_digest,
        "packageCount": record.package_count,
        "layout": record.layout,
        "tag": record.version.tag,
        "findings": dict(record.findings),
        "fixes": [
            {
                "vulnerabilityId": f.vulnerability_id,
                "package": f.package,
                "installedVersion": f.installed,
                "fixedVersion": f.fixed,
                "severity": f.severity.value,
            }
            for f in record.fixes
        ],
        "os": _os_json(record.os_info) if record.os_info else None,
        "packages": [
            {"name": p.name, "arch": p.arch, "version": p.version, "sourceName": p.source_name}
            for p in record.packages
        ],
        "lastScanned": _ts(record.scanned_at) if record.scanned_at else None,
        "labels": dict(record.labels),
        "distributed": [
            {
                "destination": d.destination,
                "tags": list(d.tags),
                "digest": d.digest,
                "tlsVerify": d.tls_verify,
                "credentialsFile": d.credentials_file,
            }
            for d in record.distributed
        ],
        "steps": [
            {
                "component": s.component,
                "phase": s.phase,
                "step": s.step,
                "action": s.action,
                "status": s.status,
                "attempts": s.attempts,
                "durationSeconds": round(s.duration, 3),
                "error": s.error,
            }
            for s in record.steps
        ],
        "history": [
            {"at": _ts(h.at), "status": h.status.value, "reason": h.reason, "actor": h.actor}
            for h in record.history
        ],
    }


def from_json(data: dict[str, Any]) -> ImageRecord:
    """A record from :func:`to_json`."""
    return ImageRecord(
        name=data["name"],
        version=ImageVersion.parse(data["version"]),
        status=ImageStatus(data["status"]),
        created=datetime.fromisoformat(data["dateCreated"]),
        updated=datetime.fromisoformat(data["dateUpdated"]),
        pipeline=data.get("pipeline", ""),
        parent=data.get("parent", ""),
        parent_digest=data.get("parentDigest", ""),
        parent_image=(
            (str(data["parentImage"]["name"]), str(data["parentImage"]["version"]))
            if data.get("parentImage")
            else None
        ),
        trigger=data.get("trigger", ""),
        digest=data.get("digest", ""),
        package_digest=data.get("packageDigest", ""),
        package_count=int(data.get("packageCount", 0)),
        layout=data.get("layout", ""),
        reason=data.get("reason", ""),
        findings=tuple((k, int(v)) for k, v in data.get("findings", {}).items()),
        fixes=tuple(
            ImageFix(
                f["vulnerabilityId"],
                f["package"],
                f.get("installedVersion", ""),
                f["fixedVersion"],
                Severity(f.get("severity", "UNTRIAGED")),
            )
            for f in data.get("fixes") or []
        ),
        os_info=_os_of(data["os"]) if data.get("os") else None,
        packages=tuple(
            ImagePackage(p["name"], p["arch"], p["version"], p.get("sourceName", ""))
            for p in data.get("packages") or []
        ),
        scanned_at=datetime.fromisoformat(data["lastScanned"]) if data.get("lastScanned") else None,
        labels=tuple(sorted(data.get("labels", {}).items())),
        distributed=tuple(
            Distributed(
                d["destination"],
                tuple(d["tags"]),
                d["digest"],
                bool(d.get("tlsVerify", True)),
                d.get("credentialsFile", ""),
            )
            for d in data.get("distributed", [])
        ),
        steps=tuple(
            BuildStep(
                component=s["component"],
                phase=s["phase"],
                step=s["step"],
                action=s["action"],
                status=s["status"],
                attempts=int(s.get("attempts", 1)),
                duration=float(s.get("durationSeconds", 0.0)),
                error=s.get("error", ""),
            )
            for s in data.get("steps", [])
        ),
        history=tuple(
            StatusChange(
                datetime.fromisoformat(h["at"]),
                ImageStatus(h["status"]),
                h.get("reason", ""),
                h.get("actor", ""),
            )
            for h in data.get("history", [])
        ),
    )


class LocalImageCatalog:
    """The catalog in a SQLite file (created on first use, private to its owner)."""

    def __init__(self, path: Path) -> None:
        self._db = open_private(path, _SCHEMA, "the image catalog")

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def next_build(self, name: str, version: str) -> int:
        """One more than any build of ``name`` ``version`` so far (counted even when a
        record was deleted)."""
        with self._db:
            row = self._db.execute(
                "SELECT last FROM builds WHERE name = ? AND semantic = ?", (name, version)
            ).fetchone()
            number = (row[0] if row else 0) + 1
            self._db.execute(
                "INSERT INTO builds (name, semantic, last) VALUES (?, ?, ?) "
                "ON CONFLICT (name, semantic) DO UPDATE SET last = excluded.last",
                (name, version, number),
            )
        return number

    def save(self, record: ImageRecord) -> None:
        """Create or replace ``record``."""
        with self._db:
            self._db.execute(
                "INSERT INTO images (name, version, semantic, build, record) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name, version) "
                "DO UPDATE SET record = excluded.record",
                (
                    record.name,
                    str(record.version),
                    str(record.version.semantic),
                    record.version.build,
                    json.dumps(to_json(record)),
                ),
            )

    def get(self, name: str, version: str) -> ImageRecord | None:
        """The record of ``name`` ``version`` (``x.y.z/build``)."""
        row = self._db.execute(
            "SELECT record FROM images WHERE name = ? AND version = ?", (name, version)
        ).fetchone()
        return from_json(json.loads(row[0])) if row else None

    def images(self, name: str | None = None) -> list[ImageRecord]:
        """Every record (of ``name``), by name then version."""
        query = "SELECT record FROM images"
        args: tuple[str, ...] = ()
        if name is not None:
            query += " WHERE name = ?"
            args = (name,)
        records = [from_json(json.loads(r[0])) for r in self._db.execute(query, args)]
        return sorted(records, key=lambda r: (r.name, r.version))
