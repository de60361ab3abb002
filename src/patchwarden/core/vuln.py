"""Vulnerability facts (advisories from feeds) and judgements (findings), Inspector-style.

An :class:`Advisory` is one statement of one data source about one package in one
distribution release ("CVE-2024-1234 affects source package openssl in Debian:12, fixed in
3.0.13-1~deb12u1").  The matcher (:mod:`patchwarden.core.matching`) turns advisories and an
inventory into :class:`Finding` values, one per (vulnerability, installed package), aliases
merged.  Everything is plain frozen data: serialisable, comparable, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class Severity(StrEnum):
    """Inspector severities; CVSS bands 0 / 0.1-3.9 / 4-6.9 / 7-8.9 / 9-10."""

    INFORMATIONAL = "INFORMATIONAL"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"
    UNTRIAGED = "UNTRIAGED"

    @property
    def rank(self) -> int:
        """Ordering for thresholds: UNTRIAGED=0, INFORMATIONAL=1 … CRITICAL=5."""
        return _SEVERITY_RANK[self]

    @classmethod
    def from_cvss(cls, score: float) -> Severity:
        """The Inspector band of a CVSS base score."""
        if score >= 9.0:
            return cls.CRITICAL
        if score >= 7.0:
            return cls.HIGH
        if score >= 4.0:
            return cls.MEDIUM
        if score >= 0.1:
            return cls.LOW
        return cls.INFORMATIONAL


_SEVERITY_RANK = {
    Severity.UNTRIAGED: 0,
    Severity.INFORMATIONAL: 1,
    Severity.LOW: 2,
    Severity.MEDIUM: 3,
    Severity.HIGH: 4,
    Severity.CRITICAL: 5,
}


class AdvisoryStatus(StrEnum):
    """What a source says about a package in a release."""

    FIXED = "fixed"
    """Affected below ``fixed_version``."""
    AFFECTED = "affected"
    """Affected, no fix yet (Debian ``open``, OSV range without ``fixed``)."""
    UNDETERMINED = "undetermined"
    """The source has not decided yet (Debian ``undetermined``)."""
    WONT_FIX = "wont-fix"
    """Affected, and the distribution will not fix it (``ignored``, ``postponed``, EOL)."""
    NOT_AFFECTED = "not-affected"
    """The release never shipped a vulnerable version (Debian ``fixed_version`` ``0``)."""


class FindingStatus(StrEnum):
    """Inspector finding statuses."""

    ACTIVE = "ACTIVE"
    SUPPRESSED = "SUPPRESSED"
    CLOSED = "CLOSED"


class FixAvailable(StrEnum):
    """Whether a fixed version exists (PARTIAL: for only some of the affected packages)."""

    YES = "YES"
    NO = "NO"
    PARTIAL = "PARTIAL"


@dataclass(frozen=True)
class Advisory:
    """One source's statement about one package in one release."""

    id: str
    """Vulnerability id as the source names it (``CVE-2024-1234``, ``DSA-5678-1``, ``GHSA-…``)."""
    source: str
    """Feed that said it: ``debian-tracker``, ``osv``, ``alpine-secdb``, ``updateinfo``,
    ``changelog``."""
    ecosystem: str
    """OSV-style release: ``Debian:12``, ``Ubuntu:22.04:LTS``, ``Alpine:v3.19``,
    ``Rocky Linux:9``."""
    package: str
    """Source package name (Debian, Ubuntu, Alpine origin); rpm: the (source) rpm name."""
    status: AdvisoryStatus
    fixed_version: str | None = None
    events: tuple[tuple[str, str], ...] = ()
    """OSV ECOSYSTEM range events in order (``("introduced", "0")``, ``("fixed", "1.2-1")``,
    ``("last_affected", …)``); empty when ``status``/``fixed_version`` say it all."""
    aliases: tuple[str, ...] = ()
    cvss_vector: str = ""
    cvss_score: float | None = None
    vendor_severity: str = ""
    """The distribution's own rating (Debian urgency, Ubuntu priority, RHEL severity)."""
    summary: str = ""
    published: datetime | None = None
    modified: datetime | None = None


@dataclass(frozen=True)
class Finding:
    """One vulnerability affecting one installed package of one resource."""

    vulnerability_id: str
    """The primary id: the CVE when there is one, else the source's id."""
    aliases: tuple[str, ...]
    package_name: str
    package_version: str
    package_arch: str
    source_name: str
    fixed_version: str | None
    fix_available: FixAvailable
    severity: Severity
    severity_source: str
    """``cvss`` (the score's band), ``vendor`` (the vendor rating mapped and shown as such) or
    ``none`` (UNTRIAGED)."""
    advisory_status: AdvisoryStatus
    sources: tuple[str, ...]
    status: FindingStatus = FindingStatus.ACTIVE
    cvss_score: float | None = None
    cvss_vector: str = ""
    vendor_severity: str = ""
    title: str = ""
    first_observed: datetime | None = None
    last_observed: datetime | None = None
    suppressed_by: str = ""
    """Name of the Suppression document that suppressed it."""
    suppression_reason: str = ""
    known_exploited: bool = False
    """In CISA's Known Exploited Vulnerabilities catalogue (:mod:`patchwarden.core.exploit`)."""
    kev_due_date: date | None = None
    """CISA's remediation due date for federal agencies, when known exploited."""
    epss: float | None = None
    """FIRST EPSS: the probability (0-1) of exploitation in the next 30 days."""
    epss_percentile: float | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """(vulnerability id, package name, arch): a finding's identity on one resource."""
        return (self.vulnerability_id, self.package_name, self.package_arch)
