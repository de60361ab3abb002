"""The scan report as a readable table (rich) with a one-line summary."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from patchwarden.core.model import PatchState
from patchwarden.core.report import Report

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


def render(report: Report, *, show_all: bool = False, width: int = 120) -> str:
    """Non-compliant items (all items with ``show_all``) and the summary line."""
    rows = [i for i in report.items if show_all or not i.state.compliant]
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
                style=_STYLE.get(i.state),
            )
        console.print(table)
    for warning in report.warnings:
        console.print(f"warning: {warning}")
    if report.rebooted:
        console.print("reboot: requested (RebootIfNeeded)")
    console.print(summary_line(report), soft_wrap=True)
    return out.getvalue()
