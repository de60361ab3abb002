"""Facts the adapters collect and the values the core computes from them.

Everything here is a frozen dataclass of plain values so that it can be serialised, cached,
uploaded by an agent and compared in tests.  Adapters fill :class:`Inventory`; the core
judges it (:mod:`patchwarden.core.baseline`, :mod:`patchwarden.core.compliance`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class PatchState(StrEnum):
    """Per-patch compliance states, exactly the SSM ``PatchComplianceDataState`` enum."""

    INSTALLED = "INSTALLED"
    INSTALLED_OTHER = "INSTALLED_OTHER"
    INSTALLED_PENDING_REBOOT = "INSTALLED_PENDING_REBOOT"
    INSTALLED_REJECTED = "INSTALLED_REJECTED"
    MISSING = "MISSING"
    FAILED = "FAILED"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    AVAILABLE_SECURITY_UPDATE = "AVAILABLE_SECURITY_UPDATE"

    @property
    def compliant(self) -> bool:
        """Whether an item in this state counts as compliant (reference §3.1)."""
        return self not in _NON_COMPLIANT_STATES


_NON_COMPLIANT_STATES = frozenset(
    {
        PatchState.INSTALLED_PENDING_REBOOT,
        PatchState.INSTALLED_REJECTED,
        PatchState.MISSING,
        PatchState.FAILED,
    }
)


class ComplianceLevel(StrEnum):
    """SSM ComplianceLevel / compliance severity, ordered by :attr:`rank`."""

    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    INFORMATIONAL = "INFORMATIONAL"
    UNSPECIFIED = "UNSPECIFIED"

    @property
    def rank(self) -> int:
        """Higher is more severe: UNSPECIFIED=0 … CRITICAL=5."""
        return _LEVEL_RANK[self]


_LEVEL_RANK = {
    ComplianceLevel.UNSPECIFIED: 0,
    ComplianceLevel.INFORMATIONAL: 1,
    ComplianceLevel.LOW: 2,
    ComplianceLevel.MEDIUM: 3,
    ComplianceLevel.HIGH: 4,
    ComplianceLevel.CRITICAL: 5,
}


class Compliance(StrEnum):
    """Node-level rollup."""

    COMPLIANT = "COMPLIANT"
    NON_COMPLIANT = "NON_COMPLIANT"


class Operation(StrEnum):
    """RunPatchBaseline operations."""

    SCAN = "Scan"
    INSTALL = "Install"


@dataclass(frozen=True)
class OsInfo:
    """What ``etc/os-release`` of a root says, plus the SSM names derived from it."""

    id: str
    """os-release ``ID`` (``debian``, ``ubuntu``, ``rocky`` …)."""
    version_id: str
    """os-release ``VERSION_ID`` (``12``, ``22.04``)."""
    codename: str
    """``VERSION_CODENAME`` (``bookworm``), empty when the OS has none."""
    pretty_name: str
    family: str
    """Package family: ``debian`` (apt/dpkg), ``rhel`` (dnf/rpm) or ``alpine`` (apk)."""
    operating_system: str
    """SSM OperatingSystem enum value (``DEBIAN``, ``UBUNTU`` …)."""
    product: str
    """SSM product string (``Debian12``, ``Ubuntu22.04``)."""


@dataclass(frozen=True)
class Origin:
    """Where a package version is published: the facts of an apt Release file or rpm repo."""

    archive: str = ""
    """apt ``Suite`` (``bookworm-security``); the repo id for rpm."""
    codename: str = ""
    label: str = ""
    origin: str = ""
    component: str = ""
    site: str = ""


@dataclass(frozen=True)
class Package:
    """One version of one package, with what the package manager's metadata says about it."""

    name: str
    arch: str
    version: str
    """Full version in the ecosystem's own syntax (deb ``[epoch:]upstream[-revision]``,
    rpm ``[epoch:]version-release``)."""
    source_name: str = ""
    source_version: str = ""
    repository: str = ""
    """Short human name of where it comes from (``bookworm-security``)."""
    origins: tuple[Origin, ...] = ()
    classification: str = ""
    """``Security`` for security updates; rpm advisory type otherwise (``Bugfix`` …)."""
    severity: str = ""
    """Vendor severity (rpm updateinfo ``severity``); empty on apt."""
    priority: str = ""
    """apt ``Priority`` field (``optional``, ``important`` …)."""
    section: str = ""
    """apt ``Section`` field, without component prefix (``libs``)."""
    update_notice: bool = False
    """rpm: an updateinfo notice covers this version.  apt: it comes from a security pocket
    (the implicit security rule of reference §1.9)."""
    release_date: datetime | None = None
    """When it was released (rpm notice dates; apt: first seen by Patchwarden)."""
    advisory_ids: tuple[str, ...] = ()
    cve_ids: tuple[str, ...] = ()
    bugzilla_ids: tuple[str, ...] = ()
    pin_priority: int | None = None
    """apt: the version's pin priority (``apt-cache policy``); among approved versions the
    one apt prefers is chosen (highest priority, then newest).  ``None`` where the package
    manager has no pins (rpm: the newest approved version is chosen)."""
    phasing: int = 100
    """apt: the ``Phased-Update-Percentage`` of this version (Ubuntu phased updates)."""
    kept_back: bool = False
    """apt: the upgrader keeps this version back on this machine (a phased update the
    machine is not yet in, with no version from a ``-security`` archive since the installed
    one); installing it is deferred."""

    @property
    def key(self) -> tuple[str, str]:
        """(name, arch): the identity of a package slot on a node."""
        return (self.name, self.arch)


@dataclass(frozen=True)
class InstalledPackage:
    """A package in the node's package database."""

    package: Package
    """The installed version, enriched with repository facts when a repository carries it."""
    status: str = "installed"
    """Package-database state: dpkg ``installed``, ``half-installed``, ``config-files`` …"""

    @property
    def is_installed(self) -> bool:
        """Fully installed (not only config files left, not half-installed)."""
        return self.status == "installed"


@dataclass(frozen=True)
class Inventory:
    """Everything collected from one root: the facts a scan judges."""

    os: OsInfo
    hostname: str
    root: str
    scheme: str
    """Version scheme for :func:`patchwarden.versions.compare` (``deb``, ``rpm``)."""
    installed: tuple[InstalledPackage, ...]
    updates: tuple[Package, ...]
    """Every version newer than the installed one that the package manager could install,
    several per package where several are offered (apt: each version whose pin priority
    lets apt prefer it to the installed one; dnf: every newer version).  The baseline picks
    the one to report (:meth:`patchwarden.core.baseline.Judge.select_update`)."""
    reboot_required: bool = False
    reboot_packages: tuple[str, ...] = ()
    collected_at: datetime | None = None
    last_boot: datetime | None = None


@dataclass(frozen=True)
class PatchItem:
    """One line of a compliance report."""

    name: str
    arch: str
    installed_version: str | None
    available_version: str | None
    state: PatchState
    classification: str = ""
    severity: ComplianceLevel = ComplianceLevel.UNSPECIFIED
    """Compliance severity: the highest ComplianceLevel of what approved it."""
    vendor_severity: str = ""
    repository: str = ""
    release_date: datetime | None = None
    cves: tuple[str, ...] = ()
    detail: str = ""
    """Why it has this state, when that is not obvious (failure message, rejection)."""
    candidate_version: str | None = None
    """The version the package manager itself would upgrade to (apt's candidate), when it
    is newer than ``available_version`` (or than the installed one when nothing is
    approved): shows why a baseline chose an older version."""
    deferred_version: str | None = None
    """An approved phased update apt keeps back on this node for now (not MISSING)."""


@dataclass(frozen=True)
class ComplianceSummary:
    """The node rollup of reference §3.2."""

    compliance: Compliance
    severity: ComplianceLevel | None
    """NonCompliantSeverity: highest severity among non-compliant items (floor
    INFORMATIONAL); ``None`` when compliant."""
    counts: dict[str, int] = field(default_factory=dict)
    """Number of items per :class:`PatchState` value (every state present, zeros included)."""
    critical_non_compliant: int = 0
    security_non_compliant: int = 0
    other_non_compliant: int = 0
