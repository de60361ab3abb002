"""The scan report as a readable table (rich) with a one-line summary."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from patchwarden.core.model import PatchItem, PatchState
from patchwarden.core.report import Report
from patchwarden.core.vuln import Finding, FindingStatus, FixAvailable, Severity

_STYLE = {
    PatchState.MISSING: "yellow",
    PatchState.FAILED: "red",
    PatchState.INSTALLED_REJECTED: "red",
    PatchState.INSTALLED_PENDING_REBOOT: "magenta",
}


def summary_line(report: Report) -> str:
    """``host (Debian12) NON_COMPLIANT [HIGH]: 3 missing, …`` in one line."""
    s = report.summary
    parts = [f"{n} {state.lower().replace('_', ' ')}" for state, n in s.counts.items() if n]
    verdict = s.compliance.value + (f" [{s.severity.value}]" if s.severity else "")
    node = f"{report.node.hostname} ({report.node.os.product})"
    return f"{node} against {report.baseline}: {verdict}: {', '.join(parts) or 'no packages'}"


_SEVERITY_STYLE = {Severity.CRITICAL: "red", Severity.HIGH: "red", Severity.MEDIUM: "yellow"}


def vulnerability_line(findings: tuple[Finding, ...]) -> str:
    """``vulnerabilities: 1 critical, 2 high, 0 medium, 3 low, … (6 active, 1 suppressed …)``."""
    active = [f for f in findings if f.status is FindingStatus.ACTIVE]
    order = sorted(Severity, key=lambda s: -s.rank)
    counts = ", ".join(
        f"{sum(1 for f in active if f.severity is s)} {s.value.lower()}" for s in order
    )
    states = ", ".join(
        f"{sum(1 for f in findings if f.status is s)} {s.value.lower()}" for s in FindingStatus
    )
    fixable = sum(1 for f in active if f.fix_available is not FixAvailable.NO)
    return f"vulnerabilities: {counts} ({states}; {fixable} active with a fix)"


def _findings_table(findings: list[Finding]) -> Table:
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for col in ("Vulnerability", "Severity", "Package", "Installed", "Fixed in", "Fix", "Status"):
        table.add_column(col, overflow="fold")
    for f in findings:
        status = f.status.value + (f" ({f.suppressed_by})" if f.suppressed_by else "")
        table.add_row(
            f.vulnerability_id,
            f.severity.value + (" (vendor)" if f.severity_source == "vendor" else ""),
            f"{f.package_name}:{f.package_arch}",
            f.package_version,
            f.fixed_version or f"- ({f.advisory_status.value})",
            f.fix_available.value,
            status,
            style=_SEVERITY_STYLE.get(f.severity) if f.status is FindingStatus.ACTIVE else "dim",
        )
    return table


def _cves(cves: tuple[str, ...]) -> str:
    """At most two CVE ids, then a count (the JSON report has them all)."""
    if len(cves) <= 2:
        return " ".join(cves) or "-"
    return f"{' '.join(cves[:2])} +{len(cves) - 2}"


def _choice_notes(items: tuple[PatchItem, ...]) -> list[str]:
    """Why versions differ from what ``apt upgrade`` would do (phasing, unapproved newer)."""
    notes = []
    older = [i for i in items if i.available_version and i.candidate_version]
    if older:
        notes.append(
            f"note: {_count(older, 'patch', 'patches')} at the highest approved version, "
            "older than the package manager's newest (not approved); "
            "--format json shows candidate_version"
        )
    deferred = [i for i in items if i.deferred_version]
    if deferred:
        shown = ", ".join(f"{i.name} {i.deferred_version}" for i in deferred[:5])
        more = f" +{len(deferred) - 5}" if len(deferred) > 5 else ""
        notes.append(
            f"deferred: {_count(deferred, 'phased update', 'phased updates')} apt keeps back "
            f"on this node for now: {shown}{more}"
        )
    return notes


def _count(items: list[PatchItem], one: str, many: str) -> str:
    return f"{len(items)} {one if len(items) == 1 else many}"


def render(report: Report, *, show_all: bool = False, width: int = 120) -> str:
    """Non-compliant items (all items with ``show_all``), ACTIVE findings (all with
    ``show_all``) when vulnerabilities were assessed, and the summary lines."""
    rows = [i for i in report.items if show_all or not i.state.compliant]
    assessed = report.vulnerabilities is not None
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False, color_system=None)
    if rows:
        table = Table(show_edge=False, header_style="bold", pad_edge=False)
        for col in (
            "Package",
            "Arch",
            "Installed",
            "Available",
            "State",
            "Class.",
            "Severity",
            "Repository",
            *(("Fixes",) if assessed else ()),
        ):
            table.add_column(col, overflow="fold")
        for i in rows:
            table.add_row(
                i.name,
                i.arch,
                i.installed_version or "-",
                i.available_version or "-",
                i.state.value,
                i.classification or "-",
                i.severity.value,
                i.repository or "-",
                *((_cves(i.cves),) if assessed else ()),
                style=_STYLE.get(i.state),
            )
        console.print(table)
    findings = report.vulnerabilities
    shown = [f for f in findings or () if show_all or f.status is FindingStatus.ACTIVE]
    if shown:
        console.print(_findings_table(shown))
    for note in _choice_notes(report.items):
        console.print(note, soft_wrap=True)
    for warning in report.warnings:
        console.print(f"warning: {warning}")
    if report.rebooted:
        console.print("reboot: requested (RebootIfNeeded)")
    console.print(summary_line(report), soft_wrap=True)
    if findings is not None:
        console.print(vulnerability_line(findings), soft_wrap=True)
    return out.getvalue()
