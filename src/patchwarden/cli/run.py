"""The bodies of the CLI commands, kept apart from option parsing."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from patchwarden.cli.common import load_baseline, now
from patchwarden.cli.progress import progress
from patchwarden.core.model import Compliance

if TYPE_CHECKING:
    from patchwarden.adapters.state import LocalState
    from patchwarden.core.report import Report
    from patchwarden.pipeline.install import RebootAction
    from patchwarden.ports import PackageManager


def _state() -> LocalState:
    from patchwarden import settings
    from patchwarden.adapters.state import LocalState

    return LocalState(settings.state_path())


def _pm(root: str) -> PackageManager:
    from patchwarden import settings
    from patchwarden.adapters.os import detect

    return detect(root, cache_dir=str(settings.cache_dir()))


def run_scan(
    root: str, baseline_file: Path | None, fmt: str, fail_on_nc: bool, refresh: bool, show_all: bool
) -> int:
    """``patchwarden scan``; returns the exit code."""
    from patchwarden.pipeline.scan import scan

    baseline = load_baseline(baseline_file) if baseline_file else None
    pm = _pm(root)
    state = _state()
    with progress("scanning packages…"):
        report = scan(pm, baseline, now(), state=state, refresh=refresh)
    sys.stdout.write(_render(report, fmt, show_all))
    return 1 if fail_on_nc and report.summary.compliance is Compliance.NON_COMPLIANT else 0


def _reboot_action(root: str) -> RebootAction | None:
    if root != "/":
        return None  # a sandbox root: the pipeline records a simulated boot
    from patchwarden.adapters.runner import LocalRunner

    def reboot() -> None:
        print("patchwarden: rebooting in 1 minute (RebootIfNeeded)", file=sys.stderr)
        LocalRunner().run(["shutdown", "-r", "+1", "patchwarden: reboot after patching"])

    return reboot


def run_install(
    root: str,
    baseline_file: Path | None,
    reboot_option: str,
    dry_run: bool,
    fmt: str,
    refresh: bool,
) -> int:
    """``patchwarden install``; returns the exit code."""
    from patchwarden.pipeline import install as pipeline

    baseline = load_baseline(baseline_file) if baseline_file else None
    pm = _pm(root)
    state = _state()
    if dry_run:
        decision = pipeline.dry_run(pm, baseline, now(), state=state)
        for pkg in decision.install:
            print(f"would install {pkg.name}:{pkg.arch} {pkg.version} ({pkg.repository})")
        for action in decision.plan.actions:
            print(f"  apt: {action}")
        for (name, arch), why in sorted(decision.blocked.items()):
            print(f"would fail {name}:{arch}: {why}")
        if not decision.install and not decision.blocked:
            print("nothing to install: no approved patch is missing")
        return 0
    if os.geteuid() != 0:
        from patchwarden.errors import EnvironmentProblem

        raise EnvironmentProblem("installing packages needs root")
    with progress("installing patches…"):
        report = pipeline.install(
            pm,
            baseline,
            now(),
            state=state,
            reboot_option=pipeline.RebootOption.parse(reboot_option),
            reboot=_reboot_action(root),
            refresh=refresh,
        )
    sys.stdout.write(_render(report, fmt, show_all=False))
    failed = report.summary.counts.get("FAILED", 0)
    return 1 if failed else 0


def _render(report: Report, fmt: str, show_all: bool) -> str:
    if fmt == "table":
        from patchwarden.render.table import render as render_table

        return render_table(report, show_all=show_all)
    from patchwarden.render import RENDERERS

    return RENDERERS[fmt](report)


def run_baseline_import(file: Path, output: Path | None) -> None:
    """``patchwarden baseline import``."""
    from patchwarden.documents import baseline_from_aws_json, to_document

    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        from patchwarden.errors import InputError

        raise InputError(f"{file}: cannot read ({exc.strerror})") from exc
    import yaml

    doc = yaml.safe_dump(to_document(baseline_from_aws_json(text)), sort_keys=False)
    if output:
        output.write_text(doc, encoding="utf-8")
    else:
        sys.stdout.write(doc)


def run_baseline_default(operating_system: str) -> None:
    """``patchwarden baseline default OS``."""
    import yaml

    from patchwarden.core.baseline import default_baseline
    from patchwarden.documents import to_document

    baseline = default_baseline(operating_system.upper())
    sys.stdout.write(yaml.safe_dump(to_document(baseline), sort_keys=False))
