"""The scan report as a readable table (rich) with a one-line summary."""

from __future__ import annotations

import io
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass

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


DEFAULT_WIDTH = 120
"""The table width when stdout is not a terminal and ``COLUMNS`` is not set."""


def terminal_width() -> int:
    """``COLUMNS`` when set to a positive number, else the terminal's width when stdout is
    a terminal, else :data:`DEFAULT_WIDTH`."""
    override = os.environ.get("COLUMNS", "").strip()
    if override.isdigit() and int(override) > 0:
        return int(override)
    try:
        tty = sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed stdout
        tty = False
    if tty:
        return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return DEFAULT_WIDTH


def _verdict_severity(report: Report) -> str:
    """The summary's NonCompliantSeverity, said so that it agrees with the rows: the
    rollup floors at INFORMATIONAL, so UNSPECIFIED rows read ``INFORMATIONAL; patch
    severity UNSPECIFIED``."""
    s = report.summary
    if s.severity is None:
        return ""
    worst = max(
        (i.severity for i in report.items if not i.state.compliant),
        key=lambda level: level.rank,
        default=s.severity,
    )
    if worst is s.severity:
        return f" [{s.severity.value}]"
    return f" [{s.severity.value}; patch severity {worst.value}]"


def summary_line(report: Report) -> str:
    """``host (Debian12) NON_COMPLIANT [HIGH]: 3 missing, …`` in one line."""
    s = report.summary
    parts = [f"{n} {state.lower().replace('_', ' ')}" for state, n in s.counts.items() if n]
    verdict = s.compliance.value + _verdict_severity(report)
    node = f"{report.node.hostname} ({report.node.os.product})"
    return f"{node} against {report.baseline}: {verdict}: {', '.join(parts) or 'no packages'}"


def image_line(report: Report) -> str:
    """``image REF (Debian12, linux/amd64) sha256:…: 92 dpkg packages`` in one line."""
    image = report.image
    if image is None:
        return summary_line(report)
    where = ", ".join(x for x in (report.node.os.product, image.platform) if x)
    database = f" {image.package_database}" if image.package_database else ""
    noun = "package" if image.package_count == 1 else "packages"
    return f"image {image.ref} ({where}) {image.digest}: {image.package_count}{database} {noun}"


def next_line(report: Report, options: Sequence[str] = ()) -> str:
    """``next: patchwarden install --dry-run`` — what to run after this report."""
    opts = "".join(f" {o}" for o in options)
    if report.node.root != "/" and "--root" not in options:
        opts = f" --root {report.node.root}{opts}"
    counts = report.summary.counts
    if counts.get(PatchState.FAILED.value):
        return (
            f"next: patchwarden scan --format json{opts}  "
            "(the FAILED patches' detail), then patchwarden install --dry-run"
        )
    if counts.get(PatchState.MISSING.value):
        return f"next: patchwarden install --dry-run{opts}"
    if counts.get(PatchState.INSTALLED_PENDING_REBOOT.value):
        return "next: reboot the node to finish the installed patches (INSTALLED_PENDING_REBOOT)"
    if counts.get(PatchState.INSTALLED_REJECTED.value):
        return "next: remove the rejected packages, or review the baseline's rejected patches"
    return "next: nothing to do"


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


@dataclass(frozen=True)
class _Column:
    """A table column: ``whole`` cells (names, versions, states) are never broken;
    the others wrap at word boundaries; columns with a ``drop`` rank go first (lowest
    first) when the whole cells do not fit the width."""

    header: str
    whole: bool = True
    drop: int | None = None
    shrink: int | None = None
    """A wrapped column whose words may fold (mid-word) down to this width."""


def _fit(
    columns: Sequence[_Column], rows: Sequence[Sequence[str]], width: int
) -> tuple[list[int], bool]:
    """The indexes of the columns to show at ``width``: all of them when every whole cell
    fits unbroken (wrapped columns at least their longest word), else without the
    low-value columns, in their drop order, until it fits; and whether it does."""

    def need(index: int) -> int:
        cells = [columns[index].header, *(row[index] for row in rows)]
        if columns[index].whole:
            return max(len(c) for c in cells)
        longest = max(len(word) for c in cells for word in (c.split() or [""]))
        return min(longest, columns[index].shrink or longest)

    kept = list(range(len(columns)))
    droppable = sorted(
        (i for i, c in enumerate(columns) if c.drop is not None),
        key=lambda i: columns[i].drop or 0,
    )
    while True:
        # rich without edges: " │ " between two columns
        fits = sum(need(i) for i in kept) + 3 * (len(kept) - 1) <= width
        if fits or not droppable:
            return kept, fits
        kept.remove(droppable.pop(0))


def _table(
    columns: Sequence[_Column],
    rows: Sequence[tuple[Sequence[str], str | None]],
    width: int,
) -> tuple[Table, list[str]] | None:
    """The rich table of ``rows`` (cells, style) at ``width`` and the headers left out;
    None when the whole cells cannot fit unbroken."""
    kept, fits = _fit(columns, [cells for cells, _ in rows], width)
    if not fits:
        return None
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for i in kept:
        col = columns[i]
        if col.whole:
            table.add_column(col.header, no_wrap=True, overflow="ignore")
        else:
            table.add_column(col.header, overflow="fold")
    for cells, style in rows:
        table.add_row(*(cells[i] for i in kept), style=style)
    dropped = [c.header for i, c in enumerate(columns) if i not in kept]
    return table, dropped


def _findings_table(findings: list[Finding], width: int) -> tuple[Table, list[str]] | None:
    """The findings at ``width`` (None: too narrow for whole ids and versions)."""
    columns = [
        _Column("Vulnerability"),
        _Column("Severity"),
        _Column("Package"),
        _Column("Installed"),
        _Column("Fixed in", whole=False),
        _Column("Fix", drop=1),
        _Column("Status", whole=False, drop=0),
    ]
    rows: list[tuple[Sequence[str], str | None]] = []
    for f in findings:
        rows.append((_finding_cells(f), _finding_style(f)))
    return _table(columns, rows, width)


def _finding_cells(f: Finding) -> tuple[str, ...]:
    status = f.status.value + (f" ({f.suppressed_by})" if f.suppressed_by else "")
    return (
        f.vulnerability_id,
        f.severity.value + (" (vendor)" if f.severity_source == "vendor" else ""),
        f"{f.package_name}:{f.package_arch}",
        f.package_version,
        f.fixed_version or f"- ({f.advisory_status.value})",
        f.fix_available.value,
        status,
    )


def _finding_style(f: Finding) -> str | None:
    return _SEVERITY_STYLE.get(f.severity) if f.status is FindingStatus.ACTIVE else "dim"


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


_PATCH_COLUMNS = (
    _Column("Package"),
    _Column("Arch", drop=3),
    _Column("Installed"),
    _Column("Available"),
    _Column("State"),
    _Column("Class.", whole=False, drop=1),
    _Column("Severity", drop=2),
    _Column("Repository", whole=False, drop=0, shrink=10),
)
_NARROW_PATCH_COLUMNS = (
    _Column("Package"),
    _Column("Arch", drop=3),
    _Column("Installed → Available", whole=False),
    _Column("State"),
    _Column("Class.", whole=False, drop=1),
    _Column("Severity", drop=2),
    _Column("Repository", whole=False, drop=0, shrink=10),
)
"""When both version columns do not fit: one column, the two versions on their lines."""


def _patch_cells(item: PatchItem, assessed: bool) -> tuple[str, ...]:
    return (
        item.name,
        item.arch,
        item.installed_version or "-",
        item.available_version or "-",
        item.state.value,
        item.classification or "-",
        item.severity.value,
        item.repository or "-",
        *((_cves(item.cves),) if assessed else ()),
    )


def _patches_table(
    items: list[PatchItem], assessed: bool, width: int
) -> tuple[Table, list[str]] | None:
    """The patch rows at ``width``: every column that fits, then the two versions in one
    column, then None (too narrow for a table)."""
    fixes = (_Column("Fixes", whole=False, drop=4),) if assessed else ()
    rows = [(_patch_cells(i, assessed), _STYLE.get(i.state)) for i in items]
    wide = _table((*_PATCH_COLUMNS, *fixes), rows, width)
    if wide is not None:
        return wide
    merged = [((c[0], c[1], f"{c[2]} → {c[3]}", *c[4:]), style) for c, style in rows]
    return _table((*_NARROW_PATCH_COLUMNS, *fixes), merged, width)


def render(
    report: Report,
    *,
    show_all: bool = False,
    width: int | None = None,
    options: Sequence[str] = (),
) -> str:
    """Non-compliant items (all items with ``show_all``), ACTIVE findings (all with
    ``show_all``) when vulnerabilities were assessed, the verdict and the next command
    (``options``: the scan's ``--root``/``--baseline`` to repeat in it).

    ``width`` defaults to :func:`terminal_width`.  Package names, versions and states are
    never broken: Repository and Class. wrap (Repository folds), narrow terminals leave
    out the low-value columns (Repository, Class., Severity, Arch: said in a note) and
    then put both versions in one column; narrower still, each row is one line the
    terminal wraps."""
    width = terminal_width() if width is None else width
    rows = [i for i in report.items if show_all or not i.state.compliant]
    assessed = report.vulnerabilities is not None
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False, color_system=None)
    dropped: list[str] = []
    if rows:
        fitted = _patches_table(rows, assessed, width)
        if fitted is None:
            for i in rows:
                c = _patch_cells(i, assessed)
                line = f"{c[0]}:{c[1]} {c[2]} → {c[3]} {' '.join(c[4:])}"
                console.print(line, soft_wrap=True)
        else:
            console.print(fitted[0])
            dropped += fitted[1]
    findings = report.vulnerabilities
    shown = [f for f in findings or () if show_all or f.status is FindingStatus.ACTIVE]
    if shown:
        found = _findings_table(shown, width)
        if found is None:
            for f in shown:
                console.print(" ".join(_finding_cells(f)), soft_wrap=True)
        else:
            console.print(found[0])
            dropped += [c for c in found[1] if c not in dropped]
    if dropped:
        console.print(
            f"note: {width} columns: {', '.join(dropped)} left out (--format json has them)",
            soft_wrap=True,
        )
    for note in _choice_notes(report.items):
        console.print(note, soft_wrap=True)
    for warning in report.warnings:
        console.print(f"warning: {warning}", soft_wrap=True)
    if report.rebooted:
        console.print("reboot: requested (RebootIfNeeded)")
    if report.image is not None:
        console.print(image_line(report), soft_wrap=True)
    else:
        console.print(summary_line(report), soft_wrap=True)
        console.print(next_line(report, options), soft_wrap=True)
    if findings is not None:
        console.print(vulnerability_line(findings), soft_wrap=True)
    return out.getvalue()
