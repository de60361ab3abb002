"""``patchwarden component …`` — Image Builder components run against a root filesystem.

``component run FILE --root DIR`` runs a component document's phases (build, validate,
test, in document order) on a directory as the image builder will (docs/images.md,
"Components"); ``component validate FILE`` only checks the document.  FILE is a
``kind: Component`` document or a standalone component document.  Exit codes: 1 when the
run failed, 2 for a bad document or flag, 3 for the environment (no such root, no chroot,
not root).  Only argparse is imported at module level.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patchwarden.pipeline.component_run import ComponentResult

PHASES = ("build", "validate", "test")


def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def register(sub: Any) -> None:
    """Add the ``component`` command group."""
    component = sub.add_parser(
        "component", help="Image Builder components (run on a root filesystem, validate)"
    )
    csub = component.add_subparsers(dest="component_command", metavar="COMMAND", required=True)
    p = csub.add_parser(
        "run",
        help="run a component's phases against a root filesystem",
        description="Run an EC2 Image Builder component document (schemaVersion 1.0: "
        "ExecuteBash, ExecuteBinary, file actions, UpdateOS) against the root filesystem "
        "DIR: file actions stay inside DIR, commands run under chroot DIR (directly when "
        "DIR is /). Exit 1 when a step failed (onFailure Abort or Continue).",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="the component document")
    p.add_argument("--root", required=True, metavar="DIR", help="the root filesystem")
    p.add_argument(
        "--phase",
        action="append",
        choices=PHASES,
        metavar="NAME",
        help="run only this phase (repeatable; build, validate or test; default: every "
        "phase, in document order)",
    )
    p.add_argument(
        "--param",
        action="append",
        type=_param,
        default=[],
        metavar="NAME=VALUE",
        help="a component parameter (repeatable)",
    )
    p.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="UpdateOS installs what this PatchBaseline approves (as an image pipeline's "
        "patchBaseline; default: every update)",
    )
    p.add_argument(
        "--format", "-f", choices=("table", "json"), default="table", help="output format"
    )
    p.set_defaults(handler=_run)
    v = csub.add_parser("validate", help="check a component document without running it")
    v.add_argument("file", type=Path, metavar="FILE", help="the component document")
    v.set_defaults(handler=_validate)


def _validate(args: argparse.Namespace) -> int:
    from patchwarden.documents.component import load_component_file

    name, component = load_component_file(args.file)
    phases = ", ".join(
        f"{p.name} ({len(p.steps)} step{'' if len(p.steps) == 1 else 's'})"
        for p in component.phases
    )
    print(f"{args.file}: component {name or '(unnamed)'} is valid; phases: {phases}")
    return 0


def _run(args: argparse.Namespace) -> int:
    import json
    import os
    import shutil
    import sys

    from patchwarden.cli.common import load_baseline, now
    from patchwarden.core.component import start
    from patchwarden.documents.component import load_component_file
    from patchwarden.errors import EnvironmentProblem, InputError
    from patchwarden.pipeline.component_run import run_component

    name, component = load_component_file(args.file)
    params: dict[str, str] = {}
    for key, value in args.param:
        if key in params:
            raise InputError(f"--param {key}: given twice")
        params[key] = value
    start(component, params, args.phase)  # bad parameters or phases: exit 2 before any work
    baseline = load_baseline(args.baseline) if args.baseline else None
    root = os.path.realpath(args.root)
    if not os.path.isdir(root):
        raise EnvironmentProblem(f"--root {args.root}: no such directory")
    chosen = [p for p in component.phases if not args.phase or p.name in args.phase]
    executes = {s.action for p in chosen for s in p.steps} & {
        "ExecuteBash",
        "ExecuteBinary",
        "UpdateOS",
    }
    if executes and root != "/":
        if os.geteuid() != 0:
            raise EnvironmentProblem(
                f"running {', '.join(sorted(executes))} in the root {root} needs root (chroot)"
            )
        if shutil.which("chroot") is None:
            raise EnvironmentProblem("chroot: command not found")

    from patchwarden.adapters.image.actions import RootActions
    from patchwarden.cli.run import _pm, _state

    result = run_component(
        component,
        RootActions(root),
        root=root,
        now=now(),
        name=name,
        parameters=params,
        phases=args.phase,
        package_manager=lambda: _pm(root),
        state=_state() if "UpdateOS" in executes else None,
        baseline=baseline,
    )
    if args.format == "json":
        sys.stdout.write(json.dumps(to_json(result), indent=2) + "\n")
    else:
        sys.stdout.write(render_table(result))
    return 0 if result.succeeded else 1


def to_json(result: ComponentResult) -> dict[str, Any]:
    """The run as JSON (``--format json``)."""
    return {
        "component": result.name,
        "root": result.root,
        "phases": list(result.phases),
        "status": result.status,
        "steps": [
            {
                "phase": s.phase,
                "step": s.step,
                "action": s.action,
                "status": s.status.value,
                "attempts": s.attempts,
                "reruns": s.reruns,
                "iterations": s.iterations,
                "durationSeconds": round(s.duration, 3),
                "outputs": dict(s.outputs),
                "error": s.error,
            }
            for s in result.steps
        ],
    }


def render_table(result: ComponentResult) -> str:
    """One line per step (phase, step, action, status, attempts, duration, error), then the
    overall status."""
    from patchwarden.cli.common import printable

    header = ("PHASE", "STEP", "ACTION", "STATUS", "ATTEMPTS", "DURATION", "ERROR")
    rows = [
        (
            s.phase,
            printable(s.step),
            s.action,
            s.status.value,
            str(s.attempts),
            f"{s.duration:.1f}s",
            printable(s.error),
        )
        for s in result.steps
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    counts: dict[str, int] = {}
    for s in result.steps:
        counts[s.status.value] = counts.get(s.status.value, 0) + 1
    words = {"Success": "succeeded"}
    summary = ", ".join(f"{n} {words.get(st, st.lower())}" for st, n in counts.items())
    lines.append("")
    lines.append(
        f"component {printable(result.name or '(unnamed)')} on {printable(result.root)}: "
        f"{result.status} ({summary or 'no steps'})"
    )
    return "\n".join(lines) + "\n"
