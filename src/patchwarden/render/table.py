"""The scan report as a readable table (rich) with a one-line summary."""

from __future__ import annotations

import io
import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cmp_to_key
from typing import Literal

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from patchwarden.core.ecosystems import ecosystem_of, scheme_of
from patchwarden.core.exploit import high_epss, priority
from patchwarden.core.model import PatchItem, PatchState
from patchwarden.core.report import Report
from patchwarden.core.versions import COMPARATORS, Comparator
from patchwarden.core.vuln import Finding, FindingStatus, FixAvailable, Severity

By = Literal["package", "cve"]
BY: tuple[By, ...] = ("package", "cve")
"""How the findings table is laid out: one row per (package, arch), or per finding."""

_STYLE = {
    PatchState.MISSING: "yellow",
    PatchState.FAILED: "red",
    PatchState.INSTALLED_REJECTED: "red",
    PatchState.INSTALLED_PENDING_REBOOT: "magenta",
}


DEFAULT_WIDTH = 80
"""The table width when stdout is not a terminal and ``COLUMNS`` is not set (as rich)."""


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


_DATABASE_FREE_SOURCES = frozenset({"changelog", "updateinfo"})
"""Sources read without a vulnerability database (they carry no CVSS score)."""


def untriaged_for_lack_of_data(findings: Sequence[Finding]) -> int:
    """ACTIVE findings left UNTRIAGED because only changelogs or update notices named them:
    a vulnerability database (``patchwarden db update``) would give their severity."""
    return sum(
        1
        for f in findings
        if f.status is FindingStatus.ACTIVE
        and f.severity is Severity.UNTRIAGED
        and set(f.sources) <= _DATABASE_FREE_SOURCES
    )


def next_line(
    report: Report,
    options: Sequence[str] = (),
    *,
    by: By = "package",
    rerun: Sequence[str] = (),
) -> str:
    """``next: patchwarden install --dry-run`` — what to run after this report, in one line.

    ``options``: the scan's ``--root``/``--baseline`` to repeat; ``rerun``: the scan's
    command line (shell-quoted words) to repeat with ``--by cve``."""
    opts = "".join(f" {o}" for o in options)
    if report.node.root != "/" and "--root" not in options and report.image is None:
        opts = f" --root {report.node.root}{opts}"
    counts = report.summary.counts
    if counts.get(PatchState.FAILED.value):
        return (
            f"next: patchwarden scan --format json{opts}  "
            "(the FAILED patches' detail), then patchwarden install --dry-run"
        )
    findings = report.vulnerabilities or ()
    active = [f for f in findings if f.status is FindingStatus.ACTIVE]
    untriaged = untriaged_for_lack_of_data(findings)
    if untriaged:
        return f"next: patchwarden db update  (the severity of {untriaged} UNTRIAGED findings)"
    fixable = sum(1 for f in active if f.fix_available is not FixAvailable.NO)
    if report.image is None and (counts.get(PatchState.MISSING.value) or fixable):
        return f"next: patchwarden install --dry-run{opts}"
    if counts.get(PatchState.INSTALLED_PENDING_REBOOT.value):
        return "next: reboot the node to finish the installed patches (INSTALLED_PENDING_REBOOT)"
    if counts.get(PatchState.INSTALLED_REJECTED.value):
        return "next: remove the rejected packages, or review the baseline's rejected patches"
    if active and by == "package":
        command = " ".join(rerun) or (
            f"patchwarden image scan {shlex.quote(report.image.ref)}"
            if report.image is not None
            else f"patchwarden scan --vulns{opts}"
        )
        return f"next: {command} --by cve  (every finding, one row each)"
    if fixable:
        return f"next: rebuild the image on updated packages ({fixable} findings have a fix)"
    if active:
        return f"next: nothing to do until fixes come out ({len(active)} findings have none)"
    return "next: nothing to do"


_SEVERITY_STYLE = {Severity.CRITICAL: "red", Severity.HIGH: "red", Severity.MEDIUM: "yellow"}


def vulnerability_line(findings: tuple[Finding, ...], width: int | None = None) -> str:
    """``vulnerabilities: 1 critical, 2 high, 0 medium, 3 low, … (6 active, 1 suppressed …)``;
    when that is longer than ``width``, without the zero counts:
    ``vulnerabilities: 1 critical, 2 high, 3 low; 5 of 6 active fixable; 1 suppressed``."""
    active = [f for f in findings if f.status is FindingStatus.ACTIVE]
    order = sorted(Severity, key=lambda s: -s.rank)
    severities = [(sum(1 for f in active if f.severity is s), s.value.lower()) for s in order]
    states = [(sum(1 for f in findings if f.status is s), s.value.lower()) for s in FindingStatus]
    fixable = sum(1 for f in active if f.fix_available is not FixAvailable.NO)
    counts = ", ".join(f"{n} {what}" for n, what in severities)
    held = ", ".join(f"{n} {what}" for n, what in states)
    full = f"vulnerabilities: {counts} ({held}; {fixable} active with a fix)"
    if width is None or len(full) <= width:
        return full
    counts = ", ".join(f"{n} {what}" for n, what in severities if n)
    others = "".join(f"; {n} {what}" for n, what in states[1:] if n)
    if not active:
        return f"vulnerabilities: {'none active' + others if others else 'none'}"
    return f"vulnerabilities: {counts}; {fixable} of {len(active)} active fixable{others}"


@dataclass(frozen=True)
class _Column:
    """A table column: ``whole`` cells (names, versions, states) are never broken (a cell
    may hold several lines, each whole); the others wrap at word boundaries; an ``ellipsis``
    column (titles, lists of ids) stays on one line and is cut with "…" to the room the
    other columns leave; columns with a ``drop`` rank go first (lowest first) when the
    whole cells do not fit the width."""

    header: str
    whole: bool = True
    drop: int | None = None
    shrink: int | None = None
    """A wrapped column whose words may fold (mid-word) down to this width."""
    ellipsis: int | None = None
    """An ellipsis column: the least room worth showing it in (else it is dropped)."""


def _lines_width(text: str) -> int:
    return max(cell_len(line) for line in text.split("\n"))


def _need(column: _Column, cells: Sequence[str]) -> int:
    """The least width of ``column`` that shows ``cells`` unbroken."""
    cells = [column.header, *cells]
    if column.ellipsis is not None:
        return min(max(_lines_width(c) for c in cells), max(column.ellipsis, len(column.header)))
    if column.whole:
        return max(_lines_width(c) for c in cells)
    longest = max(cell_len(word) for c in cells for word in (c.split() or [""]))
    return min(longest, column.shrink or longest)


def _fit(
    columns: Sequence[_Column], rows: Sequence[Sequence[str]], width: int
) -> tuple[list[int], bool, int]:
    """The indexes of the columns to show at ``width``: all of them when every whole cell
    fits unbroken (wrapped columns at least their longest word), else without the
    low-value columns, in their drop order, until it fits; whether it does; and the room
    left over (what an ellipsis column may grow into)."""
    needs = [_need(c, [row[i] for row in rows]) for i, c in enumerate(columns)]
    kept = list(range(len(columns)))
    droppable = sorted(
        (i for i, c in enumerate(columns) if c.drop is not None),
        key=lambda i: columns[i].drop or 0,
    )
    while True:
        # rich without edges: " │ " between two columns
        spare = width - sum(needs[i] for i in kept) - 3 * (len(kept) - 1)
        if spare >= 0 or not droppable:
            return kept, spare >= 0, spare
        kept.remove(droppable.pop(0))


def _table(
    columns: Sequence[_Column],
    rows: Sequence[tuple[Sequence[str], str | None]],
    width: int,
) -> tuple[Table, list[str]] | None:
    """The rich table of ``rows`` (cells, style) at ``width`` and the headers left out;
    None when the whole cells cannot fit unbroken."""
    kept, fits, spare = _fit(columns, [cells for cells, _ in rows], width)
    if not fits:
        return None
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for i in kept:
        col = columns[i]
        if col.ellipsis is not None:
            room = _need(col, [cells[i] for cells, _ in rows]) + spare
            table.add_column(col.header, no_wrap=True, overflow="ellipsis", max_width=room)
        elif col.whole:
            table.add_column(col.header, no_wrap=True, overflow="ignore")
        else:
            table.add_column(col.header, overflow="fold")
    for cells, style in rows:
        table.add_row(*(Text(cells[i]) for i in kept), style=style)
    dropped = [c.header for i, c in enumerate(columns) if i not in kept]
    return table, dropped


def _first_fit(
    layouts: Sequence[tuple[Sequence[_Column], Sequence[tuple[Sequence[str], str | None]]]],
    width: int,
) -> tuple[Table, list[str]] | None:
    """The first of ``layouts`` (columns, rows), widest first, whose whole cells fit."""
    for columns, rows in layouts:
        fitted = _table(columns, rows, width)
        if fitted is not None:
            return fitted
    return None


def _clean(text: str) -> str:
    """Feed text (titles) on one line, without control characters."""
    return "".join(c if c.isprintable() else " " for c in text)


def _stacked(*lines: str, arrow: bool = True) -> str:
    """Two values in one cell, one per line: ``installed →`` over ``fixed``."""
    return (" →\n" if arrow else "\n").join(lines)


Layouts = list[tuple[Sequence[_Column], Sequence[tuple[Sequence[str], str | None]]]]


def _findings_table(
    findings: list[Finding], width: int, show_all: bool
) -> tuple[Table, list[str]] | None:
    """``--by cve``: one row per finding at ``width`` (None: too narrow for whole ids and
    versions).  Narrower, the installed and fixed versions share a column (one per line),
    then the severity goes under the id."""
    status = (_Column("Status", drop=3),) if show_all else ()
    tail = (_Column("Fix", drop=2), *status, _Column("Title", drop=0, ellipsis=12))
    rows = [(_finding_cells(f, show_all), _finding_style(f)) for f in findings]
    layouts: Layouts = [
        (
            (
                _Column("Vulnerability"),
                _Column("Severity"),
                _Column("Package"),
                _Column("Installed"),
                _Column("Fixed"),
                *tail,
            ),
            rows,
        ),
        (
            (
                _Column("Vulnerability"),
                _Column("Severity"),
                _Column("Package"),
                _Column("Installed → Fixed"),
                *tail,
            ),
            [((c[0], c[1], c[2], _stacked(c[3], c[4]), *c[5:]), s) for c, s in rows],
        ),
        (
            (_Column("Vulnerability"), _Column("Package"), _Column("Installed → Fixed"), *tail),
            [
                ((_stacked(c[0], c[1], arrow=False), c[2], _stacked(c[3], c[4]), *c[5:]), s)
                for c, s in rows
            ],
        ),
    ]
    return _first_fit(layouts, width)


KEV_MARK = " KEV"
"""After the severity of a known-exploited finding (and the worst severity of its package)."""


def _finding_cells(f: Finding, show_all: bool = True) -> tuple[str, ...]:
    status = f.status.value + (f" ({f.suppressed_by})" if f.suppressed_by else "")
    return (
        f.vulnerability_id,
        f.severity.value
        + (" (vendor)" if f.severity_source == "vendor" else "")
        + (KEV_MARK if f.known_exploited else ""),
        f"{f.package_name}:{f.package_arch}",
        f.package_version,
        f.fixed_version or f"- ({f.advisory_status.value})",
        f.fix_available.value,
        *((status,) if show_all else ()),
        _clean(f.title) or "-",
    )


def _finding_style(f: Finding) -> str | None:
    return _SEVERITY_STYLE.get(f.severity) if f.status is FindingStatus.ACTIVE else "dim"


@dataclass(frozen=True)
class PackageFindings:
    """The findings of one installed package (name, arch): one row of the grouped table."""

    name: str
    arch: str
    version: str
    findings: tuple[Finding, ...]
    """In priority order (:func:`patchwarden.core.exploit.priority`)."""
    active: tuple[Finding, ...]
    worst: Severity
    """Over the ACTIVE findings (over all of them when none is ACTIVE)."""
    fixed_version: str | None
    """The highest fixed version among the ACTIVE findings."""
    fix: str
    """YES (every ACTIVE finding has a fix), NO (none has), PARTIAL, or ``-`` (none ACTIVE)."""
    known_exploited: bool = False
    """One of the ACTIVE findings (of all, when none is ACTIVE) is known exploited (KEV)."""


def by_package(findings: Sequence[Finding], compare: Comparator | None) -> list[PackageFindings]:
    """``findings`` grouped by (package, arch) in priority order: a known-exploited finding
    first, then a high EPSS score, then the worst severity, then the oldest finding, then
    the most findings, then by name.  ``compare`` orders fixed versions (None: as text)."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.package_name, f.package_arch), []).append(f)
    rows = []
    for (name, arch), found in groups.items():
        found.sort(key=priority)
        active = tuple(f for f in found if f.status is FindingStatus.ACTIVE)
        counted = active or tuple(found)
        fixes = [f.fixed_version for f in active if f.fixed_version]
        key = cmp_to_key(compare) if compare is not None else None
        available = {f.fix_available is not FixAvailable.NO for f in active}
        rows.append(
            PackageFindings(
                name,
                arch,
                found[0].package_version,
                tuple(found),
                active,
                max((f.severity for f in active or found), key=lambda s: s.rank),
                max(fixes, key=key) if fixes else None,
                "-"
                if not active
                else "PARTIAL"
                if len(available) == 2
                else ("YES" if available == {True} else "NO"),
                any(f.known_exploited for f in counted),
            )
        )
    rows.sort(key=_group_order)
    return rows


def _group_order(g: PackageFindings) -> tuple[bool, bool, int, datetime, int, str, str]:
    counted = g.active or g.findings
    oldest = min(priority(f)[4] for f in counted)  # first observed; never observed: last
    return (
        not g.known_exploited,
        not any(high_epss(f) for f in counted),
        -g.worst.rank,
        oldest,
        -len(g.findings),
        g.name,
        g.arch,
    )


def _comparator(report: Report) -> Comparator | None:
    ecosystem = ecosystem_of(report.node.os)
    scheme = scheme_of(ecosystem) if ecosystem else None
    return COMPARATORS.get(scheme or "")


def _package_table(groups: list[PackageFindings], width: int) -> tuple[Table, list[str]] | None:
    """The default view: one row per (package, arch) at ``width`` (None: too narrow)."""
    tail = (_Column("Fix", drop=1), _Column("Vulnerabilities", drop=0, ellipsis=14))
    rows = []
    for g in groups:
        cells = (
            f"{g.name}:{g.arch}",
            str(len({f.vulnerability_id for f in g.findings})),
            g.worst.value + (KEV_MARK if g.known_exploited else ""),
            g.version,
            g.fixed_version or "-",
            g.fix,
            " ".join(dict.fromkeys(f.vulnerability_id for f in g.findings)),
        )
        style = _SEVERITY_STYLE.get(g.worst) if g.active else "dim"
        rows.append((cells, style))
    head = (_Column("Package"), _Column("CVEs"), _Column("Worst"))
    layouts: Layouts = [
        ((*head, _Column("Installed"), _Column("Fixed"), *tail), rows),
        (
            (*head, _Column("Installed → Fixed"), *tail),
            [((*c[:3], _stacked(c[3], c[4]), *c[5:]), s) for c, s in rows],
        ),
    ]
    return _first_fit(layouts, width)


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
    by: By = "package",
    rerun: Sequence[str] = (),
) -> str:
    """Non-compliant items (all items with ``show_all``), ACTIVE findings (all with
    ``show_all``) when vulnerabilities were assessed — one row per (package, arch) ``by``
    package, one per finding ``by`` cve — the verdict, the vulnerability counts and the
    next command (``options``: the scan's ``--root``/``--baseline`` to repeat in it;
    ``rerun``: the scan's command line, to repeat with ``--by cve``).

    ``width`` defaults to :func:`terminal_width`.  Package names, versions and states are
    never broken: narrow terminals leave out the low-value columns (said in a note), cut
    titles and id lists with "…", then put both versions in one column (one per line);
    narrower still, each row is one line the terminal wraps."""
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
                console.print(line, soft_wrap=True, markup=False)
        else:
            console.print(fitted[0])
            dropped += fitted[1]
    findings = report.vulnerabilities
    shown = [f for f in findings or () if show_all or f.status is FindingStatus.ACTIVE]
    if shown and by == "cve":
        shown.sort(key=priority)
        found = _findings_table(shown, width, show_all)
        if found is None:
            for f in shown:
                line = " ".join(_finding_cells(f, show_all)[:-1])
                console.print(line, soft_wrap=True, markup=False)
        else:
            console.print(found[0])
            dropped += [c for c in found[1] if c not in dropped]
    elif shown:
        groups = by_package(shown, _comparator(report))
        found = _package_table(groups, width)
        if found is None:
            for g in groups:
                kev = KEV_MARK if g.known_exploited else ""
                line = (
                    f"{g.name}:{g.arch} {len(g.findings)} {g.worst.value}{kev} "
                    f"{g.version} → {g.fixed_version or '-'} {g.fix}"
                )
                console.print(line, soft_wrap=True, markup=False)
        else:
            console.print(found[0])
            dropped += [c for c in found[1] if c not in dropped]
    if dropped:
        console.print(
            f"note: not shown at {width} columns: {', '.join(dropped)} (in -f json)",
            markup=False,
        )
    for note in _choice_notes(report.items):
        console.print(note, soft_wrap=True, markup=False)
    for warning in report.warnings:
        console.print(f"warning: {warning}", soft_wrap=True, markup=False)
    if report.rebooted:
        console.print("reboot: requested (RebootIfNeeded)")
    if report.image is not None:
        console.print(image_line(report), soft_wrap=True, markup=False)
    else:
        console.print(summary_line(report), soft_wrap=True, markup=False)
    if findings is not None:
        console.print(vulnerability_line(findings, width), soft_wrap=True, markup=False)
    console.print(next_line(report, options, by=by, rerun=rerun), soft_wrap=True, markup=False)
    return out.getvalue()
