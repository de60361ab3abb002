"""The scan report as a CycloneDX 1.6 JSON SBOM with its vulnerabilities (cyclonedx-python-lib).

- ``metadata.component``: the node (type ``device``: the machine, physical or virtual, whose
  root was scanned; hostname as name), or for an image report the image (type
  ``container``: the reference as name, the manifest digest as version, labels as
  properties), whose components are then all its installed packages; ``metadata.tools``:
  Patchwarden; ``metadata.timestamp``: the report's ``generated_at``; the serial number is
  a UUIDv5 of the report's content, so the same report always gives the same document;
- ``components``: the operating system (type ``operating-system``, ``<id>`` + ``VERSION_ID``)
  and every installed package (type ``library``) with its purl (:mod:`.refs`) as bom-ref and
  its patch state; dependencies node → OS → packages;
- ``vulnerabilities``: one per finding (a vulnerability in one package, so each keeps its own
  analysis), with the id, its source and page, aliases as references, a rating (CVSS score,
  vector and method when known, else the severity alone), ``affects`` the package's
  component at its installed version, a recommendation naming the fixed version.
  ``analysis`` (CycloneDX's VEX field) is set only where Patchwarden knows something:
  SUPPRESSED → ``in_triage`` with the suppression's name and reason as detail (a suppression
  records an operator's decision, not an exploitability verdict: ``not_affected`` or
  ``false_positive`` would tell VEX consumers the package is safe); CLOSED → ``resolved``;
  ACTIVE → no analysis (a match is a detection, not an analysis).
A report without assessment (``vulnerabilities=None``) gives the SBOM without vulnerabilities.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from decimal import Decimal

from cyclonedx.model import Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.impact_analysis import ImpactAnalysisAffectedStatus, ImpactAnalysisState
from cyclonedx.model.tool import ToolRepository
from cyclonedx.model.vulnerability import (
    BomTarget,
    BomTargetVersionRange,
    Vulnerability,
    VulnerabilityAnalysis,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from packageurl import PackageURL

from patchwarden import __version__
from patchwarden.core.model import OsInfo
from patchwarden.core.report import Report
from patchwarden.core.vuln import Finding, FindingStatus, Severity
from patchwarden.render.json import report_dict
from patchwarden.render.refs import advisory_url, distro, package_url

SCHEMA_VERSION = SchemaVersion.V1_6
_SEVERITIES = {
    Severity.CRITICAL: VulnerabilitySeverity.CRITICAL,
    Severity.HIGH: VulnerabilitySeverity.HIGH,
    Severity.MEDIUM: VulnerabilitySeverity.MEDIUM,
    Severity.LOW: VulnerabilitySeverity.LOW,
    Severity.INFORMATIONAL: VulnerabilitySeverity.INFO,
    Severity.UNTRIAGED: VulnerabilitySeverity.UNKNOWN,
}
_SOURCE_NAMES = {
    "debian-tracker": "Debian Security Tracker",
    "osv": "OSV",
    "alpine-secdb": "Alpine secdb",
    "updateinfo": "updateinfo",
    "changelog": "Debian changelog",
}
_NS = "patchwarden:"


def _serial(report: Report) -> uuid.UUID:
    content = json.dumps(report_dict(report), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(content.encode()).hexdigest()
    return uuid.uuid5(uuid.NAMESPACE_URL, f"urn:patchwarden:report:{digest}")


def _props(**values: str | None) -> list[Property]:
    return [Property(name=_NS + k, value=v) for k, v in values.items() if v]


def _package(os_info: OsInfo, name: str, version: str, arch: str, **extra: str | None) -> Component:
    purl = package_url(os_info, name, version, arch)
    return Component(
        type=ComponentType.LIBRARY,
        name=name,
        version=version,
        purl=PackageURL.from_string(purl),
        bom_ref=purl,
        properties=_props(arch=arch, **extra),
    )


def _rating(f: Finding) -> VulnerabilityRating:
    severity = _SEVERITIES[f.severity]
    if f.cvss_score is None:
        why = (
            f"the distribution's rating: {f.vendor_severity}"
            if f.severity_source == "vendor" and f.vendor_severity
            else "no CVSS score or vendor rating"
        )
        return VulnerabilityRating(severity=severity, justification=why)
    method = VulnerabilityScoreSource.get_from_vector(f.cvss_vector) if f.cvss_vector else None
    return VulnerabilityRating(
        score=Decimal(f"{f.cvss_score:.1f}"),
        severity=severity,
        method=method,
        vector=f.cvss_vector or None,
    )


def _recommendation(f: Finding) -> str:
    if f.fixed_version:
        return f"Upgrade {f.package_name} to {f.fixed_version} or later."
    return f"No fixed version of {f.package_name} is available ({f.advisory_status.value})."


def _analysis(f: Finding) -> VulnerabilityAnalysis | None:
    if f.status is FindingStatus.SUPPRESSED:
        by = f" {f.suppressed_by}" if f.suppressed_by else ""
        detail = f"Suppressed by{by}: {f.suppression_reason or 'no reason given'}"
        return VulnerabilityAnalysis(state=ImpactAnalysisState.IN_TRIAGE, detail=detail)
    if f.status is FindingStatus.CLOSED:
        return VulnerabilityAnalysis(state=ImpactAnalysisState.RESOLVED)
    return None


def _versions(f: Finding) -> list[BomTargetVersionRange]:
    if f.status is FindingStatus.CLOSED:
        return []  # the affected version is gone; the component holds the current one
    affected = ImpactAnalysisAffectedStatus.AFFECTED
    return [BomTargetVersionRange(version=f.package_version, status=affected)]


def _vulnerability(f: Finding, ref: str, os_info: OsInfo) -> Vulnerability:
    names = [_SOURCE_NAMES.get(s, s) for s in f.sources]
    url = advisory_url(f.vulnerability_id, os_info)
    references = [
        VulnerabilityReference(
            id=a, source=VulnerabilitySource(url=XsUri(advisory_url(a, os_info)))
        )
        for a in f.aliases
        if a != f.vulnerability_id
    ]
    return Vulnerability(
        bom_ref=f"{f.vulnerability_id}/{ref}",
        id=f.vulnerability_id,
        source=VulnerabilitySource(name=", ".join(names) or None, url=XsUri(url)),
        references=references,
        ratings=[_rating(f)],
        description=f.title or None,
        recommendation=_recommendation(f),
        analysis=_analysis(f),
        affects=[BomTarget(ref=ref, versions=_versions(f))],
        properties=_props(
            status=f.status.value,
            fix_available=f.fix_available.value,
            fixed_version=f.fixed_version,
            advisory_status=f.advisory_status.value,
            severity=f.severity.value,
            severity_source=f.severity_source,
            vendor_severity=f.vendor_severity,
            suppressed_by=f.suppressed_by,
            known_exploited="true" if f.known_exploited else None,
            kev_due_date=f.kev_due_date.isoformat() if f.kev_due_date else None,
            epss=f"{f.epss:g}" if f.epss is not None else None,
            epss_percentile=f"{f.epss_percentile:g}" if f.epss_percentile is not None else None,
        ),
    )


def _subject(report: Report) -> Component:
    """What was scanned: the node (``device``) or the image (``container``)."""
    image = report.image
    if image is None:
        return Component(
            type=ComponentType.DEVICE,
            name=report.node.hostname,
            bom_ref=f"node:{report.node.hostname}",
            properties=_props(root=report.node.root, baseline=report.baseline),
        )
    labels = [Property(name=f"{_NS}label:{k}", value=v) for k, v in image.labels]
    return Component(
        type=ComponentType.CONTAINER,
        name=image.ref,
        version=image.digest or None,
        bom_ref=f"image:{image.digest or image.ref}",
        properties=[*_props(digest=image.digest, platform=image.platform), *labels],
    )


def bom(report: Report) -> Bom:
    """The CycloneDX model of a report (see the module docstring for the mapping)."""
    os_info = report.node.os
    node = _subject(report)
    system = Component(
        type=ComponentType.OPERATING_SYSTEM,
        name=os_info.id,
        version=os_info.version_id or None,
        description=os_info.pretty_name or None,
        bom_ref=f"os:{distro(os_info)}",
        properties=_props(codename=os_info.codename, product=os_info.product),
    )
    packages: dict[tuple[str, str], Component] = {}
    for item in report.items:
        if item.installed_version and (item.name, item.arch) not in packages:
            packages[(item.name, item.arch)] = _package(
                os_info,
                item.name,
                item.installed_version,
                item.arch,
                patch_state=item.state.value,
                available_version=item.available_version,
            )
    if report.image is not None and report.inventory is not None:
        for ip in report.inventory.installed:  # an image's SBOM lists all its packages
            pkg = ip.package
            if pkg.key not in packages:
                packages[pkg.key] = _package(
                    os_info, pkg.name, pkg.version, pkg.arch, source=pkg.source_name or None
                )
    findings = [
        f
        for f in report.vulnerabilities or ()
        if f.status is not FindingStatus.CLOSED or (f.package_name, f.package_arch) in packages
    ]  # a CLOSED finding of a package no longer installed has no component to point at
    for f in findings:
        if (f.package_name, f.package_arch) not in packages:
            packages[(f.package_name, f.package_arch)] = _package(
                os_info, f.package_name, f.package_version, f.package_arch
            )
    tool = Component(type=ComponentType.APPLICATION, name="patchwarden", version=__version__)
    document = Bom(
        serial_number=_serial(report),
        metadata=BomMetaData(
            timestamp=report.generated_at,
            tools=ToolRepository(components=[tool]),
            component=node,
            properties=_props(
                compliance=None if report.image else report.summary.compliance.value,
                operation=report.operation.value,
            ),
        ),
        components=[system, *packages.values()],
    )
    document.register_dependency(node, [system])
    document.register_dependency(system, list(packages.values()))
    for component in packages.values():
        document.register_dependency(component)
    document.vulnerabilities = [
        _vulnerability(f, str(packages[(f.package_name, f.package_arch)].bom_ref), os_info)
        for f in findings
    ]
    return document


def render(report: Report) -> str:
    """CycloneDX 1.6 JSON text."""
    return make_outputter(bom(report), OutputFormat.JSON, SCHEMA_VERSION).output_as_string(indent=2)
