"""``patchwarden`` — the command line.

argparse (stdlib) keeps start-up cheap: ``patchwarden scan`` must answer in a fraction of
the time ``apt list --upgradable`` takes, so every command imports what it needs inside its
handler.  Usage errors exit 2 (argparse's own convention, and DESIGN.md §4).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from patchwarden import __version__
from patchwarden.cli.common import finding_options, handle_errors

FORMATS = ("table", "json", "sarif", "cyclonedx")
REBOOT_OPTIONS = ("RebootIfNeeded", "NoReboot")

Handler = Callable[[argparse.Namespace], int]
Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _command_groups() -> list[Registrar]:
    """Command groups that live in their own modules (each has ``register(subparsers)``;
    the modules define options only and import their work inside the handlers)."""
    from patchwarden.cli import (
        agent,
        aws,
        component,
        db,
        demo,
        deploy,
        fleet,
        governance,
        image,
        pipeline,
        server,
        window,
    )

    return [
        db.register,
        image.register,
        pipeline.register,
        deploy.register,
        component.register,
        server.register,
        agent.register,
        fleet.register,
        window.register,
        governance.register,
        aws.register,
        demo.register,
    ]


def _scan(args: argparse.Namespace) -> int:
    from patchwarden.cli.common import by_option, epss_option, fail_on_option
    from patchwarden.cli.run import VulnOptions, run_scan

    by = by_option(args.by)
    fail_on = fail_on_option(args.fail_on)
    fail_on_epss = epss_option(args.fail_on_epss)
    wanted = (
        args.vulns
        or fail_on
        or fail_on_epss is not None
        or args.ignore_unfixed
        or args.suppressions
        or args.changelogs
        or args.by
    )
    vulns = (
        VulnOptions(
            fail_on,
            args.ignore_unfixed,
            tuple(args.suppressions or ()),
            args.changelogs,
            by,
            fail_on_epss,
        )
        if wanted
        else None
    )
    return run_scan(
        args.root,
        args.baseline,
        args.format,
        args.fail_on_noncompliant,
        args.refresh,
        args.all,
        vulns=vulns,
    )


def _install(args: argparse.Namespace) -> int:
    from patchwarden.cli.run import run_install

    return run_install(
        args.root,
        args.baseline,
        args.reboot_option,
        args.dry_run,
        args.format,
        args.refresh,
        override_list=args.override_list,
    )


def _baseline_import(args: argparse.Namespace) -> int:
    from patchwarden.cli.run import run_baseline_import

    run_baseline_import(args.file, args.output, aws_strict=args.aws_strict)
    return 0


def _baseline_default(args: argparse.Namespace) -> int:
    from patchwarden.cli.run import run_baseline_default

    run_baseline_default(args.operating_system)
    return 0


def _version(_: argparse.Namespace) -> int:
    print(__version__)
    return 0


def _common_node_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default="/", metavar="DIR", help="root directory (like dpkg --root)")
    p.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="PatchBaseline document or raw `aws ssm get-patch-baseline` JSON",
    )
    p.add_argument("--format", "-f", choices=FORMATS, default="table", help="output format")
    p.add_argument(
        "--refresh", action="store_true", help="update the package indices first (apt-get update)"
    )


def _vulnerability_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("vulnerabilities (each option below implies --vulns)")
    g.add_argument(
        "--vulns", action="store_true", help="assess vulnerabilities with the local database"
    )
    finding_options(g)
    g.add_argument(
        "--changelogs",
        action="store_true",
        help="Debian/Ubuntu: also read the CVE ids named by pending updates' changelogs "
        "(downloads the candidate .debs into apt's cache; works without a database)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(
        prog="patchwarden",
        description="Patch management and vulnerability compliance for Linux fleets "
        "(AWS SSM semantics).",
    )
    parser.add_argument("--version", action="version", version=f"patchwarden {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    scan = sub.add_parser("scan", help="scan a host or root against a patch baseline")
    _common_node_options(scan)
    scan.add_argument(
        "--fail-on-noncompliant", action="store_true", help="exit 1 when NON_COMPLIANT"
    )
    scan.add_argument("--all", action="store_true", help="table: list compliant packages too")
    _vulnerability_options(scan)
    scan.set_defaults(handler=_scan)

    install = sub.add_parser(
        "install",
        help="install the approved missing patches (then reboots if needed, as on AWS)",
        description="Install the approved missing patches at the approved versions. Like "
        "AWS-RunPatchBaseline, the default RebootOption is RebootIfNeeded: the host reboots "
        "after installing when a patch was installed or a reboot is pending "
        "(--reboot-option NoReboot to avoid).",
    )
    _common_node_options(install)
    install.add_argument(
        "--reboot-option",
        choices=REBOOT_OPTIONS,
        default="RebootIfNeeded",
        help="AWS RebootOption; default RebootIfNeeded: reboot the host after installing "
        "when needed; NoReboot: never reboot",
    )
    install.add_argument(
        "--dry-run", action="store_true", help="print what would be installed; change nothing"
    )
    install.add_argument(
        "--override-list",
        type=Path,
        metavar="FILE",
        help="install exactly these patches whatever the baseline approves "
        "(AWS InstallOverrideList YAML/JSON: patches: [{id, title}])",
    )
    install.set_defaults(handler=_install)

    baseline = sub.add_parser("baseline", help="patch baselines")
    bsub = baseline.add_subparsers(dest="baseline_command", metavar="COMMAND", required=True)
    imp = bsub.add_parser(
        "import",
        help="convert `aws ssm get-patch-baseline` (or BaselineOverride) JSON to a document",
        description="Convert AWS patch-baseline JSON to a PatchBaseline document. A "
        "BaselineOverride (no Name) is named imported-<os>-<hash of its content>.",
    )
    imp.add_argument("file", type=Path, help="`aws ssm get-patch-baseline` JSON")
    imp.add_argument("--output", "-o", type=Path, help="write the document here")
    imp.add_argument(
        "--aws-strict",
        action="store_true",
        help="Debian/Ubuntu: drop ApproveAfterDays (0) as AWS does, instead of applying it "
        "from first-seen dates (docs/release-dates.md)",
    )
    imp.set_defaults(handler=_baseline_import)
    default = bsub.add_parser("default", help="print the predefined default baseline of an OS")
    default.add_argument("operating_system", metavar="OPERATING_SYSTEM", help="e.g. DEBIAN")
    default.set_defaults(handler=_baseline_default)

    for register in _command_groups():
        register(sub)

    version = sub.add_parser("version", help="print the version")
    version.set_defaults(handler=_version)
    return parser


@handle_errors
def _dispatch(handler: Handler, args: argparse.Namespace) -> int:
    return handler(args)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        raise SystemExit(2)
    try:
        code = _dispatch(handler, args)
        sys.stdout.flush()
    except BrokenPipeError:
        code = 0
    raise SystemExit(code)


if __name__ == "__main__":
    main()
