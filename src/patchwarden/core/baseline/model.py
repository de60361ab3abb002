"""The SSM patch-baseline model (reference §1.1, §1.3) as frozen dataclasses.

Building a :class:`PatchBaseline` validates it (§1.1/§1.3/§1.5): a value that AWS would
refuse raises :class:`~patchwarden.core.baseline.validate.BaselineFieldError` (an
:class:`~patchwarden.errors.InputError`) whose message starts with the AWS field path,
e.g. ``ApprovalRules.PatchRules[0].ApproveAfterDays: must be between 0 and 360, got 400``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from patchwarden.core.baseline.patterns import NameList
from patchwarden.core.baseline.validate import validate_baseline
from patchwarden.core.model import ComplianceLevel


class RejectedPatchesAction(StrEnum):
    """What a rejected package may still do (reference §1.8)."""

    ALLOW_AS_DEPENDENCY = "ALLOW_AS_DEPENDENCY"
    """Installed only as another package's dependency; reported INSTALLED_OTHER."""
    BLOCK = "BLOCK"
    """Never installed; an installed one is reported INSTALLED_REJECTED (non-compliant)."""


class SecurityUpdates(StrEnum):
    """Which version to install when a security version is approved (a Patchwarden
    setting beyond AWS, ``spec.Patchwarden.SecurityUpdates``; Debian/Ubuntu only)."""

    AS_APPROVED = "AS_APPROVED"
    """AWS: the highest approved version, even when a newer one exists (the default)."""
    NEWEST_IN_RELEASE = "NEWEST_IN_RELEASE"
    """The newest version of the same release that is at least the approved security
    version (a Debian point release, Ubuntu ``-updates``): it contains the fix."""


@dataclass(frozen=True)
class PatchFilter:
    """One ``{Key, Values}`` filter: the values are OR-ed, ``*`` matches anything."""

    key: str
    values: tuple[str, ...]


PatchFilterGroup = tuple[PatchFilter, ...]
"""A PatchFilterGroup: its filters are AND-ed."""


@dataclass(frozen=True)
class PatchRule:
    """One approval rule: filters AND-ed, plus a release-date test and the security test."""

    filters: PatchFilterGroup
    compliance_level: ComplianceLevel = ComplianceLevel.UNSPECIFIED
    approve_after_days: int | None = None
    """Approve a package this many days (0-360) after its release date."""
    approve_until_date: date | None = None
    """Approve packages released on or before this day (UTC)."""
    enable_non_security: bool = False
    """Also approve packages that are not security updates (no notice / not a security
    pocket), reference §1.9."""


@dataclass(frozen=True)
class PatchSource:
    """An alternative package repository (reference §1.9 Sources)."""

    name: str
    products: tuple[str, ...]
    configuration: str


@dataclass(frozen=True)
class PatchBaseline:
    """An SSM patch baseline; the AWS field names map 1:1 (``approved_patches`` is
    ``ApprovedPatches``).  Validated when built."""

    name: str
    operating_system: str
    """SSM OperatingSystem value (``DEBIAN``, ``REDHAT_ENTERPRISE_LINUX`` …)."""
    description: str | None = None
    global_filters: PatchFilterGroup = ()
    approval_rules: tuple[PatchRule, ...] = ()
    approved_patches: tuple[str, ...] = ()
    approved_patches_compliance_level: ComplianceLevel = ComplianceLevel.UNSPECIFIED
    approved_patches_enable_non_security: bool = False
    rejected_patches: tuple[str, ...] = ()
    rejected_patches_action: RejectedPatchesAction = RejectedPatchesAction.ALLOW_AS_DEPENDENCY
    sources: tuple[PatchSource, ...] = ()
    security_updates: SecurityUpdates = SecurityUpdates.AS_APPROVED
    """Patchwarden's own setting (not in AWS): see :class:`SecurityUpdates`."""
    approved_matcher: NameList = field(init=False, repr=False, compare=False)
    """ApprovedPatches compiled once (lower-cased, globs folded into one regex)."""
    rejected_matcher: NameList = field(init=False, repr=False, compare=False)
    """RejectedPatches compiled once."""

    def __post_init__(self) -> None:
        validate_baseline(self)
        object.__setattr__(self, "approved_matcher", NameList.compile(self.approved_patches))
        object.__setattr__(self, "rejected_matcher", NameList.compile(self.rejected_patches))

    @property
    def uses_release_dates(self) -> bool:
        """Whether any rule's verdict depends on release dates (a delay or a cutoff date)."""
        return any(
            (r.approve_after_days or 0) > 0 or r.approve_until_date is not None
            for r in self.approval_rules
        )

    @property
    def blocks_rejected(self) -> bool:
        """Whether RejectedPatchesAction is BLOCK."""
        return self.rejected_patches_action is RejectedPatchesAction.BLOCK


@dataclass(frozen=True)
class Approval:
    """The verdict of the approval algorithm (reference §1.4) on one package version."""

    approved: bool
    rejected: bool
    """On RejectedPatches (then never approved)."""
    level: ComplianceLevel
    """Highest ComplianceLevel among what approved it; UNSPECIFIED when not approved."""
    reason: str
    """What approved or rejected it (``ApprovalRules.PatchRules[0]``), or why not."""
