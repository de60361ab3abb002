"""``patchwarden`` — the command line.  Heavy imports happen inside the commands."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from patchwarden import __version__
from patchwarden.cli.common import handle_errors

app = typer.Typer(
    name="patchwarden",
    help="Patch management and vulnerability compliance for Linux fleets (AWS SSM semantics).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
baseline_app = typer.Typer(
    help="Patch baselines: import AWS JSON, show defaults.", no_args_is_help=True
)
app.add_typer(baseline_app, name="baseline")


class Format(StrEnum):
    """Report formats."""

    table = "table"
    json = "json"


RootOpt = Annotated[
    str, typer.Option("--root", help="Root directory to work on (like dpkg --root).")
]
BaselineOpt = Annotated[
    Path | None,
    typer.Option("--baseline", help="PatchBaseline document or raw AWS get-patch-baseline JSON."),
]
RefreshOpt = Annotated[
    bool, typer.Option("--refresh", help="Update the package indices first (apt-get update).")
]


@app.command()
@handle_errors
def scan(
    root: RootOpt = "/",
    baseline: BaselineOpt = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    fail_on_noncompliant: Annotated[
        bool, typer.Option("--fail-on-noncompliant", help="Exit 1 when the node is NON_COMPLIANT.")
    ] = False,
    refresh: RefreshOpt = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="Table: list compliant packages too.")
    ] = False,
) -> None:
    """Scan a host (or root) against a patch baseline and report compliance."""
    from patchwarden.cli.run import run_scan

    code = run_scan(root, baseline, format.value, fail_on_noncompliant, refresh, show_all)
    raise typer.Exit(code)


class RebootChoice(StrEnum):
    """RebootOption values as typed on the command line."""

    RebootIfNeeded = "RebootIfNeeded"
    NoReboot = "NoReboot"


@app.command()
@handle_errors
def install(
    root: RootOpt = "/",
    baseline: BaselineOpt = None,
    reboot_option: Annotated[
        RebootChoice,
        typer.Option("--reboot-option", help="Reboot after installing (AWS RebootOption)."),
    ] = RebootChoice.RebootIfNeeded,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be installed; change nothing.")
    ] = False,
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    refresh: RefreshOpt = False,
) -> None:
    """Install the approved missing patches (RunPatchBaseline Install)."""
    from patchwarden.cli.run import run_install

    code = run_install(root, baseline, reboot_option.value, dry_run, format.value, refresh)
    raise typer.Exit(code)


@baseline_app.command("import")
@handle_errors
def baseline_import(
    file: Annotated[Path, typer.Argument(help="JSON printed by `aws ssm get-patch-baseline`.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the document here.")
    ] = None,
) -> None:
    """Convert raw AWS patch-baseline JSON into a Patchwarden PatchBaseline document."""
    from patchwarden.cli.run import run_baseline_import

    run_baseline_import(file, output)


@baseline_app.command("default")
@handle_errors
def baseline_default(
    operating_system: Annotated[str, typer.Argument(help="SSM OperatingSystem, e.g. DEBIAN.")],
) -> None:
    """Print the predefined default baseline of an operating system as a document."""
    from patchwarden.cli.run import run_baseline_default

    run_baseline_default(operating_system)


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except BrokenPipeError:
        sys.exit(0)
