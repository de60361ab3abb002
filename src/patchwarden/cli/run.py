"""The bodies of the CLI commands, kept apart from option parsing."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from patchwarden.cli.common import load_baseline, now
from patchwarden.cli.progress import progress
from patchwarden.core.model import Compliance

if TYPE_CHECKING:
    from patchwarden.adapters.state import LocalState
    from patchwarden.core.model import Package
    from patchwarden.core.report import Report
    from patchwarden.core.suppression import Suppression
    from patchwarden.core.vuln import Finding
    from patchwarden.pipeline.install import OverridePatch, RebootAction, RebootOption
    from patchwarden.ports import AdvisoryStore, InstallOutcome, PackageManager


def _state() -> LocalState:
    from patchwarden import settings
    from patchwarden.adapters.state import LocalState

    return LocalState(settings.state_path())


def _pm(root: str) -> PackageManager:
    from patchwarden import settings
    from patchwarden.adapters.os import detect

    return detect(root, cache_dir=str(settings.cache_dir()))


@dataclass(frozen=True)
class VulnOptions:
    """``scan --vulns`` and the options that imply it."""

    fail_on: str | None = None
    ignore_unfixed: bool = False
    suppressions: tuple[Path, ...] = ()
    changelogs: bool = False
    by: Literal["package", "cve"] = "package"
    """The findings table's rows: per (package, arch), or per finding."""
    fail_on_epss: float | None = None

    def command(self, options: Sequence[str]) -> tuple[str, ...]:
        """``patchwarden scan --vulns …`` that repeats this scan (for the ``next:`` line),
        shell-quoted, without ``--by``."""
        import shlex

        return (
            "patchwarden",
            "scan",
            "--vulns",
            *(("--changelogs",) if self.changelogs else ()),
            *(("--ignore-unfixed",) if self.ignore_unfixed else ()),
            *(w for p in self.suppressions for w in ("--suppressions", shlex.quote(str(p)))),
            *options,
        )


def run_scan(
    root: str,
    baseline_file: Path | None,
    fmt: str,
    fail_on_nc: bool,
    refresh: bool,
    show_all: bool,
    *,
    vulns: VulnOptions | None = None,
) -> int:
    """``patchwarden scan``; returns the exit code."""
    from patchwarden.pipeline.scan import scan

    baseline = load_baseline(baseline_file) if baseline_file else None
    pm = _pm(root)
    state = _state()
    extra: dict[str, Any] = _vuln_arguments(vulns, pm, state) if vulns else {}
    with progress("scanning packages…"):
        report = scan(pm, baseline, now(), state=state, refresh=refresh, **extra)
    options = _options(root, baseline_file)
    by = vulns.by if vulns else "package"
    rerun = vulns.command(options) if vulns else ()
    sys.stdout.write(_render(report, fmt, show_all, options, by=by, rerun=rerun))
    code = 1 if fail_on_nc and report.summary.compliance is Compliance.NON_COMPLIANT else 0
    if vulns and _gates(report.vulnerabilities or (), vulns.fail_on, vulns.fail_on_epss):
        code = 1
    return code


def _vuln_arguments(vulns: VulnOptions, pm: PackageManager, state: LocalState) -> dict[str, Any]:
    """The vulnerability keyword arguments of :func:`patchwarden.pipeline.scan.scan`.

    Without a database, findings can still come from rpm update notices (always read) and,
    with ``--changelogs``, from Debian/Ubuntu changelogs; otherwise a missing database is an
    environment problem (exit 3).
    """
    import functools

    from patchwarden import settings

    sources = []
    if vulns.changelogs:
        from patchwarden.ports import ChangelogAdvisories

        if not isinstance(pm, ChangelogAdvisories):
            from patchwarden.errors import InputError

            raise InputError("--changelogs: only Debian/Ubuntu roots have changelog CVEs")
        sources.append(functools.partial(pm.changelog_advisories, cache=state))
    own_data = vulns.changelogs or pm.scheme == "rpm"
    path = settings.vulndb_path()
    return {
        "store": None if own_data and not path.is_file() else open_advisory_store(path),
        "advisory_sources": sources,
        "vulns": True,
        "suppressions": load_suppressions(vulns.suppressions),
        "ignore_unfixed": vulns.ignore_unfixed,
        "db_max_age": settings.vulndb_max_age(),
    }


def open_advisory_store(path: Path) -> AdvisoryStore:
    """The vulnerability database at ``path``; a missing one is an environment problem (3)."""
    from patchwarden.adapters.vulndb import SqliteVulnDb
    from patchwarden.errors import EnvironmentProblem

    if not path.is_file():
        raise EnvironmentProblem(
            f"no vulnerability database at {path}: run `patchwarden db update` "
            "(or `patchwarden db import FILE|DIR` on an air-gapped host)"
        )
    return SqliteVulnDb(path)


def load_suppressions(paths: tuple[Path, ...]) -> list[Suppression]:
    """Every ``Suppression`` document of the files/directories (other kinds are skipped)."""
    from patchwarden.documents import load_documents
    from patchwarden.documents.suppression import SuppressionDocument
    from patchwarden.errors import InputError

    found: list[Suppression] = []
    for path in paths:
        docs = [d for d in load_documents(path) if isinstance(d, SuppressionDocument)]
        if not docs:
            raise InputError(f"{path}: contains no Suppression documents")
        found.extend(d.suppression for d in docs)
    return found


def _gates(findings: tuple[Finding, ...], fail_on: str | None, epss: float | None) -> bool:
    """Whether ``--fail-on`` or ``--fail-on-epss`` fails the command (each says so on
    stderr)."""
    failed = bool(fail_on) and _gate(findings, fail_on or "")
    if epss is not None:
        from patchwarden.core.exploit import epss_hits

        hits = epss_hits(findings, epss)
        if hits:
            print(
                f"patchwarden: {len(hits)} ACTIVE finding{'s' if len(hits) != 1 else ''} with "
                f"an EPSS score at or above {epss:g} (--fail-on-epss {epss:g})",
                file=sys.stderr,
            )
            failed = True
    return failed


def _gate(findings: tuple[Finding, ...], threshold: str) -> bool:
    """Whether an ACTIVE finding is at or above ``threshold`` (``kev``: known exploited);
    says so on stderr."""
    from patchwarden.core.vuln import FindingStatus, Severity

    if threshold == "kev":
        from patchwarden.core.exploit import kev_hits

        kev = kev_hits(findings)
        if kev:
            print(
                f"patchwarden: {len(kev)} ACTIVE finding{'s' if len(kev) != 1 else ''} known "
                "exploited (CISA KEV) (--fail-on kev)",
                file=sys.stderr,
            )
        return bool(kev)
    floor = Severity(threshold.upper()).rank
    hits = [f for f in findings if f.status is FindingStatus.ACTIVE and f.severity.rank >= floor]
    if hits:
        print(
            f"patchwarden: {len(hits)} ACTIVE finding{'s' if len(hits) != 1 else ''} at or "
            f"above {threshold.upper()} (--fail-on {threshold})",
            file=sys.stderr,
        )
    return bool(hits)


def _reboot_action(root: str) -> RebootAction | None:
    if root != "/":
        return None  # a sandbox root: the pipeline records a simulated boot
    from patchwarden.adapters.runner import host_reboot

    def reboot() -> None:
        print("patchwarden: rebooting in 1 minute (RebootIfNeeded)", file=sys.stderr)
        host_reboot()

    return reboot


def run_install(
    root: str,
    baseline_file: Path | None,
    reboot_option: str,
    dry_run: bool,
    fmt: str,
    refresh: bool,
    *,
    override_list: Path | None = None,
) -> int:
    """``patchwarden install``; returns the exit code."""
    from patchwarden.pipeline import install as pipeline

    baseline = load_baseline(baseline_file) if baseline_file else None
    overrides = _override_list(override_list) if override_list else ()
    pm = _pm(root)
    state = _state()
    option = pipeline.RebootOption.parse(reboot_option)
    if dry_run:
        decision = pipeline.dry_run(pm, baseline, now(), state=state, override_list=overrides)
        for pkg in decision.install:
            print(f"would install {pkg.name}:{pkg.arch} {pkg.version} ({pkg.repository})")
        for action in decision.plan.actions:
            print(f"  plan: {action}")
        for (name, arch), why in sorted(decision.blocked.items()):
            print(f"would fail {name}:{arch}: {why}")
        if not decision.install and not decision.blocked:
            print("nothing to install: no approved patch is missing")
        else:
            print(_dry_run_total(len(decision.install), len(decision.blocked), option))
        return 0
    if os.geteuid() != 0:
        from patchwarden.errors import EnvironmentProblem

        raise EnvironmentProblem("installing packages needs root")
    if root == "/":
        pm = _Announcing(pm, option)
    with progress("installing patches…"):
        report = pipeline.install(
            pm,
            baseline,
            now(),
            state=state,
            reboot_option=option,
            reboot=_reboot_action(root),
            refresh=refresh,
            override_list=overrides,
        )
    sys.stdout.write(_render(report, fmt, False, _options(root, baseline_file)))
    failed = report.summary.counts.get("FAILED", 0)
    return 1 if failed else 0


def _packages(n: int) -> str:
    return f"{n} package{'' if n == 1 else 's'}"


def _dry_run_total(count: int, blocked: int, option: RebootOption) -> str:
    """The last line of ``install --dry-run``: counts, then what the reboot option does."""
    fail = f", {blocked} would fail" if blocked else ""
    if option.value == "NoReboot":
        then = "NoReboot: no reboot (the node may stay INSTALLED_PENDING_REBOOT)"
    elif count:
        then = (
            "RebootIfNeeded: the host would reboot afterwards (--reboot-option NoReboot to avoid)"
        )
    else:
        then = "RebootIfNeeded: no reboot unless one is already pending"
    return f"would install {_packages(count)}{fail}; {then}"


class _Announcing:
    """The package manager of an install on ``/``: says on stderr what it installs and
    whether the host reboots, right before the package manager changes anything."""

    def __init__(self, pm: PackageManager, option: RebootOption) -> None:
        self._pm = pm
        self._option = option
        self.scheme = pm.scheme

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pm, name)

    def install(self, packages: Sequence[Package]) -> list[InstallOutcome]:
        names = ", ".join(f"{p.name} {p.version}" for p in packages[:5])
        more = f" +{len(packages) - 5} more" if len(packages) > 5 else ""
        if self._option.value == "NoReboot":
            then = "NoReboot: the host is not rebooted"
        else:
            then = (
                "RebootIfNeeded (the default, as on AWS): the host reboots afterwards if "
                "needed; --reboot-option NoReboot to avoid"
            )
        print(
            f"patchwarden: installing {_packages(len(packages))} on this host "
            f"({names}{more}); {then}",
            file=sys.stderr,
            flush=True,
        )
        return self._pm.install(packages)


def _override_list(path: Path) -> tuple[OverridePatch, ...]:
    """The patches of an InstallOverrideList file (one-line error when malformed)."""
    from patchwarden.documents.envelope import parse_text
    from patchwarden.errors import InputError
    from patchwarden.pipeline.install import parse_override_list

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--override-list: cannot read {path}: {exc}") from None
    documents = parse_text(text, str(path))
    if len(documents) != 1:
        raise InputError(f"{path}: expected one InstallOverrideList document")
    return parse_override_list(documents[0], str(path))


def _options(root: str, baseline_file: Path | None) -> tuple[str, ...]:
    """The ``--root``/``--baseline`` of this run, for the table's ``next:`` command."""
    import shlex

    return (
        *(("--root", shlex.quote(root)) if root != "/" else ()),
        *(("--baseline", shlex.quote(str(baseline_file))) if baseline_file else ()),
    )


def _render(
    report: Report,
    fmt: str,
    show_all: bool,
    options: tuple[str, ...] = (),
    *,
    by: Literal["package", "cve"] = "package",
    rerun: Sequence[str] = (),
) -> str:
    """The report in ``fmt``; ``by``, ``rerun`` and ``options`` only matter to the table
    (``--by``, the ``next:`` command)."""
    if fmt == "table":
        from patchwarden.render.table import render as render_table

        return render_table(report, show_all=show_all, options=options, by=by, rerun=rerun)
    from patchwarden.render import RENDERERS

    return RENDERERS[fmt](report)


def run_baseline_import(file: Path, output: Path | None, *, aws_strict: bool = False) -> None:
    """``patchwarden baseline import``: AWS JSON (``get-patch-baseline`` output or a
    BaselineOverride) → a PatchBaseline document; warnings go to stderr."""
    from patchwarden.documents import to_document
    from patchwarden.documents.baseline import import_aws_json
    from patchwarden.documents.envelope import check_size
    from patchwarden.errors import InputError

    try:
        check_size(file.stat().st_size, str(file))
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise InputError(f"{file}: cannot read ({why})") from None
    imported = import_aws_json(text, str(file), aws_strict=aws_strict)
    for warning in imported.warnings:
        print(f"patchwarden: warning: {warning}", file=sys.stderr)
    import yaml

    doc = yaml.safe_dump(to_document(imported.baseline), sort_keys=False)
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
