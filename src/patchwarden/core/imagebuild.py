"""Image builds (EC2 Image Builder's image resource), pure: statuses, records, labels.

An image is one build of a recipe version: ``name`` and ``x.y.z/build``.  Its status moves
``PENDING → BUILDING → TESTING → DISTRIBUTING → AVAILABLE`` or ends ``FAILED`` (with the
reason) or ``CANCELLED``; lifecycle policies later make an AVAILABLE image ``DEPRECATED``,
``DISABLED`` or ``DELETED`` (reference §11; AWS's CREATING and INTEGRATING have nothing to
do here and are not used).  The build itself is :mod:`patchwarden.pipeline.image_build`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from patchwarden.core.model import InstalledPackage, OsInfo
from patchwarden.core.semver import ImageVersion
from patchwarden.core.vuln import Finding, FindingStatus, FixAvailable, Severity


class ImageStatus(StrEnum):
    """An image's status (AWS ``ImageStatus``, the ones a container build passes)."""

    PENDING = "PENDING"
    BUILDING = "BUILDING"
    TESTING = "TESTING"
    DISTRIBUTING = "DISTRIBUTING"
    AVAILABLE = "AVAILABLE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    DEPRECATED = "DEPRECATED"
    DISABLED = "DISABLED"
    DELETED = "DELETED"


IN_PROGRESS = frozenset(
    {ImageStatus.PENDING, ImageStatus.BUILDING, ImageStatus.TESTING, ImageStatus.DISTRIBUTING}
)
"""A build is running."""
USABLE_PARENTS = frozenset({ImageStatus.AVAILABLE, ImageStatus.DEPRECATED})
"""Statuses an image may have to be another's parent (DEPRECATED only when forced)."""

LABEL_PREFIX = "dev.patchwarden.image."
"""Labels the builder writes into the image config (besides the OCI ones)."""


@dataclass(frozen=True)
class BuildStep:
    """One step of a build's log: a component step, or a stage of the builder itself
    (``component`` is then empty and ``phase`` names the stage: bootstrap, pack, scan …)."""

    component: str
    phase: str
    step: str
    action: str
    status: str
    """``Success``, ``Failed``, ``Ignored``, ``Skipped`` (the component run's statuses)."""
    attempts: int = 1
    duration: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class StatusChange:
    """One entry of an image's history."""

    at: datetime
    status: ImageStatus
    reason: str = ""
    actor: str = ""


@dataclass(frozen=True)
class Distributed:
    """Where a build was pushed: ``registry/repository`` and its tags."""

    destination: str
    tags: tuple[str, ...]
    digest: str
    tls_verify: bool = True
    credentials_file: str = ""


@dataclass(frozen=True)
class ImagePackage:
    """One package of an image, as its package database said at pack time."""

    name: str
    arch: str
    version: str
    source_name: str = ""
    """The source package (``zlib`` for ``zlib1g``); empty when it is the binary's name or
    unknown."""


@dataclass(frozen=True)
class ImageFix:
    """An ACTIVE finding of an image for which a fixed version exists: what makes the image
    stale by a fix (:mod:`patchwarden.core.staleness`)."""

    vulnerability_id: str
    package: str
    installed: str
    fixed: str
    severity: Severity


TRIGGER_MANUAL = "manual"
"""The trigger of a build started by hand (CLI or API)."""
TRIGGER_SCHEDULE = "schedule"
"""The trigger of a build its pipeline's schedule started (EXPRESSION_MATCH_ONLY)."""


@dataclass(frozen=True)
class ImageRecord:
    """One image (one build of one recipe version)."""

    name: str
    version: ImageVersion
    status: ImageStatus
    created: datetime
    updated: datetime
    pipeline: str = ""
    parent: str = ""
    """What the image was built on: ``bootstrap bookworm``, ``web-base 1.0.0/2``, a reference."""
    parent_digest: str = ""
    parent_image: tuple[str, str] | None = None
    """The parent's key ``(name, "x.y.z/build")`` when the parent is another Patchwarden
    image (``None``: a bootstrap or an external image, or a record from before ancestry was
    recorded: :func:`parent_key` reads it from ``parent`` then)."""
    digest: str = ""
    """The manifest digest (``sha256:…``) once packed."""
    package_digest: str = ""
    package_count: int = 0
    packages: tuple[ImagePackage, ...] = ()
    """The installed packages at pack time, sorted (empty: not recorded)."""
    os_info: OsInfo | None = None
    """The image's OS (its ``etc/os-release``) at pack time: with :attr:`packages`, what an
    assessment needs without reading the image again."""
    trigger: str = ""
    """Why the build ran: ``manual``, ``schedule``, ``dependency update: …``, ``parent
    updated: …``, ``fix for CVE-… in …``, ``stale: …`` (empty: not recorded)."""
    layout: str = ""
    """The OCI layout directory that holds the image (tag :attr:`ImageVersion.tag`)."""
    reason: str = ""
    """Why the image is FAILED or CANCELLED (one line); empty otherwise."""
    findings: tuple[tuple[str, int], ...] = ()
    """ACTIVE findings of the scan by severity (empty when not scanned)."""
    fixes: tuple[ImageFix, ...] = ()
    """ACTIVE findings of the last scan that have a fixed version (sorted)."""
    scanned_at: datetime | None = None
    """When the server last assessed the image against its database (its rescans)."""
    steps: tuple[BuildStep, ...] = ()
    distributed: tuple[Distributed, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    history: tuple[StatusChange, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        """``(name, "x.y.z/build")``."""
        return self.name, str(self.version)

    def moved(
        self, status: ImageStatus, at: datetime, reason: str = "", actor: str = ""
    ) -> ImageRecord:
        """The record in ``status`` from ``at`` on (the change joins its history)."""
        return replace(
            self,
            status=status,
            updated=at,
            reason=reason if status in (ImageStatus.FAILED, ImageStatus.CANCELLED) else self.reason,
            history=(*self.history, StatusChange(at, status, reason, actor)),
        )


def parent_key(record: ImageRecord) -> tuple[str, str] | None:
    """The parent image's ``(name, "x.y.z/build")``: :attr:`ImageRecord.parent_image`, else
    read from ``parent`` (``web-base 1.0.0/2``) of an older record; ``None`` for a bootstrap
    or external parent."""
    if record.parent_image is not None:
        return record.parent_image
    name, _, version = record.parent.partition(" ")
    try:
        return name, str(ImageVersion.parse(version))
    except ValueError:
        return None


def image_packages(packages: Iterable[InstalledPackage]) -> tuple[ImagePackage, ...]:
    """An image's package list from its package database (installed ones only), sorted."""
    found = {
        ImagePackage(
            i.package.name,
            i.package.arch,
            i.package.version,
            i.package.source_name if i.package.source_name != i.package.name else "",
        )
        for i in packages
        if i.is_installed
    }
    return tuple(sorted(found, key=lambda p: (p.name, p.arch, p.version)))


def active_counts(findings: Iterable[Finding]) -> tuple[tuple[str, int], ...]:
    """How many ACTIVE findings of each severity (``(severity, count)``, by severity name):
    what an image record keeps of a scan."""
    counts: dict[str, int] = {}
    for f in findings:
        if f.status is FindingStatus.ACTIVE:
            counts[f.severity.value] = counts.get(f.severity.value, 0) + 1
    return tuple(sorted(counts.items()))


def image_fixes(findings: Iterable[Finding]) -> tuple[ImageFix, ...]:
    """The ACTIVE findings that have a fixed version, as :class:`ImageFix` (sorted)."""
    fixes = {
        ImageFix(f.vulnerability_id, f.package_name, f.package_version, f.fixed_version, f.severity)
        for f in findings
        if f.status is FindingStatus.ACTIVE
        and f.fixed_version
        and f.fix_available is not FixAvailable.NO
    }
    return tuple(sorted(fixes, key=lambda x: (x.vulnerability_id, x.package, x.installed)))


def epoch_time(epoch: int) -> str:
    """``SOURCE_DATE_EPOCH`` as the RFC 3339 UTC time OCI configs and labels carry."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def package_digest(packages: Iterable[InstalledPackage]) -> str:
    """A digest of the installed package list (``name arch version`` lines, sorted): two
    images with the same packages have the same package digest whatever else differs."""
    lines = sorted(f"{i.package.name} {i.package.arch} {i.package.version}" for i in packages)
    return "sha256:" + hashlib.sha256("\n".join(lines).encode()).hexdigest()


def image_labels(
    recipe: str,
    version: str,
    parent_digest: str,
    packages: str,
    user_labels: Iterable[tuple[str, str]] = (),
    created: str = "",
) -> tuple[tuple[str, str], ...]:
    """The labels of a built image: the recipe's own, then the builder's (which win).

    The build number is not among them: it is assigned per build, and two builds of the
    same inputs must give the same image (the same digest).
    """
    labels = dict(user_labels)
    labels.update(
        {
            "org.opencontainers.image.title": recipe,
            "org.opencontainers.image.version": version,
            f"{LABEL_PREFIX}recipe": f"{recipe}/{version}",
            f"{LABEL_PREFIX}parent": parent_digest,
            f"{LABEL_PREFIX}packages": packages,
        }
    )
    if created:
        labels["org.opencontainers.image.created"] = created
    return tuple(sorted((k, v) for k, v in labels.items() if v))
