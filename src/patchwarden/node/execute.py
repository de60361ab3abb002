"""One invocation on the node: RunPatchBaseline (Scan, Install) evaluated by the server,
and the node component's own upgrade (:mod:`.update`).

An Install: refresh the package lists (``apt-get update``, ``dnf makecache``, ``apk
update`` or ``zypper refresh``), upload the
facts, ask the server for the ``plan``, write the journal, run exactly the ordered installs
(all at once, and each alone when that fails), upload the new facts, and ask the server to
``conclude``.
"""

import contextlib
import logging
import os
import shutil
import tempfile
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple

from patchwarden import apkcmd, aptcmd, dnfcmd, osnames, wire, zyppercmd
from patchwarden.node import facts as facts_mod
from patchwarden.node.client import Api, Refused, Unavailable
from patchwarden.node.process import run_command
from patchwarden.node.state import Journal, NodeConfig, NodeProblem
from patchwarden.node.upload import Uploader

log = logging.getLogger("patchwarden.node")

PATCH_DOCUMENTS = ("AWS-RunPatchBaseline", "RunPatchBaseline")
FAILED_EXIT = 1
REFUSED_EXIT = 2
ENVIRONMENT_EXIT = 3
REBOOT_ARGV = ["shutdown", "-r", "+1", "patchwarden: reboot after patching"]
SUMMARY_EXTRAS = ("critical_non_compliant", "security_non_compliant", "other_non_compliant")
RESTARTED = (
    "the node restarted during the install; it is not run again (check the node's package state)"
)

Runner = Callable[[List[str], Dict[str, str], Optional[float]], Tuple[int, str, str]]
"""(argv, extra environment, timeout) → (exit code, stdout, stderr)."""


class Outcome(NamedTuple):
    """The result to report, and what to do once it is reported (reboot, re-exec)."""

    result: wire.InvocationResult
    after: Optional[Callable[[], None]] = None
    changed_packages: bool = False
    """An Install ran the package manager (the inventory is uploaded again)."""


def failed(message: str, code: int) -> Outcome:
    """A Failed result with a one-line output."""
    line = " ".join(message.split())
    return Outcome(wire.InvocationResult("Failed", code, line))


def summary_line(report: Dict[str, Any]) -> str:
    """``Install: NON_COMPLIANT (baseline X): MISSING 1, FAILED 1`` (as the full agent's)."""
    summary = report.get("summary")
    summary = summary if isinstance(summary, dict) else {}
    counts = ", ".join(
        "{} {}".format(k, v)
        for k, v in summary.items()
        if k not in SUMMARY_EXTRAS and isinstance(v, int) and not isinstance(v, bool) and v
    )
    baseline = report.get("baseline")
    name = baseline.get("name", "") if isinstance(baseline, dict) else ""
    line = "{}: {} (baseline {}): {}".format(
        report.get("operation", ""), report.get("compliance", ""), name, counts or "no patches"
    )
    return line + (" ; rebooted" if report.get("rebooted") else "")


def failed_count(report: Optional[Dict[str, Any]]) -> int:
    """The report's FAILED count."""
    summary = (report or {}).get("summary")
    value = summary.get("FAILED", 0) if isinstance(summary, dict) else 0
    return value if isinstance(value, int) else 0


class Executor:
    """Runs invocations on one registered node."""

    def __init__(
        self,
        config: NodeConfig,
        api: Api,
        uploader: Uploader,
        runner: Runner = run_command,
        updater: Optional[Callable[[wire.Delivery], Outcome]] = None,
    ) -> None:
        self.config = config
        self.root = config.root
        self.api = api
        self.uploader = uploader
        self.runner = runner
        self.journal = Journal(config.state_dir)
        self.updater = updater

    # -- apt ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def apt_env(self, arch: str) -> Iterator[Dict[str, str]]:
        """apt-get's environment; for a root other than ``/`` an ``APT_CONFIG`` file (0600)
        confines it to the root while the block runs."""
        if self.root == "/":
            yield aptcmd.environment()
            return
        fd, path = tempfile.mkstemp(prefix="patchwarden-apt-", suffix=".conf")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(aptcmd.apt_config_text(self.root, arch))
            yield aptcmd.environment(path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    @contextlib.contextmanager
    def dnf_command(self) -> Iterator[Tuple[List[str], Dict[str, str]]]:
        """(argv prefix, environment) of dnf; for a root other than ``/`` the options of
        :func:`patchwarden.dnfcmd.confine_argv` and a private ``HOME`` (its ``.rpmmacros``
        names the root's rpm database) while the block runs: as the dnf adapter runs it."""
        if self.root == "/":
            yield ["dnf"], dnfcmd.environment()
            return
        dbpath = dnfcmd.find_dbpath(self.root)
        if dbpath is None:
            raise NodeProblem("no rpm database in root {!r}".format(self.root))
        home = tempfile.mkdtemp(prefix="patchwarden-dnf-")
        try:
            with open(os.path.join(home, ".rpmmacros"), "w") as fh:
                fh.write(dnfcmd.rpmmacros_text(dbpath))
            config = os.path.join(self.root, dnfcmd.CONFIG)
            if not os.path.isfile(config):
                config = os.path.join(home, "dnf.conf")
                with open(config, "w") as fh:
                    fh.write("[main]\n")
            argv = dnfcmd.confine_argv(
                self.root,
                config,
                dnfcmd.existing_repo_dirs(self.root),
                self._releasever(dbpath),
            )
            yield argv, dnfcmd.environment(home)
        finally:
            shutil.rmtree(home, ignore_errors=True)

    @contextlib.contextmanager
    def zypper_command(self) -> Iterator[Tuple[List[str], Dict[str, str]]]:
        """(argv prefix, environment) of zypper; for a root other than ``/`` a private
        ``HOME`` (its ``.rpmmacros`` names the root's rpm database), ``ZYPP_CONF`` (the
        root's zypp.conf, else an empty one) and ``ZYPP_LOGFILE`` in the root while the
        block runs: as the zypper adapter runs it."""
        if (self.root.rstrip("/") or "/") == "/":
            yield zyppercmd.prefix("/"), zyppercmd.environment("/")
            return
        dbpath = dnfcmd.find_dbpath(self.root)
        if dbpath is None:
            raise NodeProblem("no rpm database in root {!r}".format(self.root))
        home = tempfile.mkdtemp(prefix="patchwarden-zypper-")
        try:
            with open(os.path.join(home, ".rpmmacros"), "w") as fh:
                fh.write(dnfcmd.rpmmacros_text(dbpath))
            config = os.path.join(self.root, zyppercmd.CONFIG)
            if not os.path.isfile(config):
                config = os.path.join(home, "zypp.conf")
                with open(config, "w") as fh:
                    fh.write("[main]\n")
            log_dir = os.path.dirname(os.path.join(self.root, zyppercmd.LOG_FILE))
            with contextlib.suppress(OSError):
                os.makedirs(log_dir, exist_ok=True)
            yield zyppercmd.prefix(self.root), zyppercmd.environment(self.root, home, config)
        finally:
            shutil.rmtree(home, ignore_errors=True)

    def _releasever(self, dbpath: str) -> Optional[str]:
        """``None`` when an installed package provides ``system-release(releasever)`` (dnf
        reads it there), else the root's os-release ``VERSION_ID``."""
        argv = dnfcmd.providers_argv(self.root, dbpath, ["system-release(releasever)"])
        try:
            _, out, _ = self.runner(argv, {}, 300.0)
        except NodeProblem:
            out = ""
        if any("\t" in line for line in out.splitlines()):
            return None
        for rel in ("etc/os-release", "usr/lib/os-release"):
            try:
                with open(os.path.join(self.root, rel), encoding="utf-8", errors="replace") as fh:
                    return osnames.parse_os_release(fh.read()).get("VERSION_ID") or None
            except OSError:
                continue
        return None

    def manager(self) -> str:
        """``apt``, ``dnf``, ``apk`` or ``zypper``: which package manager the root has."""
        return facts_mod.detect_manager(self.root)

    def refresh(self, arch: str) -> str:
        """``apt-get update`` (``dnf makecache``, ``apk update``, ``zypper refresh``); a
        warning line when it failed (empty when it worked)."""
        manager = self.manager()
        if manager == facts_mod.MANAGER_DNF:
            return self._dnf_refresh()
        if manager == facts_mod.MANAGER_ZYPPER:
            return self._zypper_refresh()
        if manager == facts_mod.MANAGER_APK:
            return self._apk_refresh()
        try:
            with self.apt_env(arch) as env:
                code, out, err = self.runner(list(aptcmd.UPDATE), env, None)
        except NodeProblem as exc:
            return "warning: the package lists were not refreshed: {}".format(exc)
        if code != 0:
            return "warning: the package lists were not refreshed: {}".format(
                aptcmd.last_error(err or out, "apt-get update")
            )
        return ""

    def _dnf_refresh(self) -> str:
        try:
            with self.dnf_command() as (prefix, env):
                code, out, err = self.runner(prefix + dnfcmd.MAKECACHE, env, 900.0)
        except NodeProblem as exc:
            return "warning: the package lists were not refreshed: {}".format(exc)
        if code != 0:
            return "warning: the package lists were not refreshed: {}".format(
                _dnf_error(err, out, "dnf makecache")
            )
        return ""

    def _zypper_refresh(self) -> str:
        try:
            with self.zypper_command() as (prefix, env):
                argv = prefix + zyppercmd.refresh_args()
                code, out, err = self.runner(argv, env, 900.0)
        except NodeProblem as exc:
            return "warning: the package lists were not refreshed: {}".format(exc)
        if code not in zyppercmd.REFRESH_OK_CODES:
            return "warning: the package lists were not refreshed: {}".format(
                zyppercmd.error_line(out, err, code, "zypper refresh")
            )
        return ""

    def _apk_refresh(self) -> str:
        try:
            code, out, err = self.runner(apkcmd.update_argv(self.root), apkcmd.environment(), 900.0)
        except NodeProblem as exc:
            return "warning: the package lists were not refreshed: {}".format(exc)
        if code != 0:
            return "warning: the package lists were not refreshed: {}".format(
                _apk_error(err, out, "apk update")
            )
        return ""

    def carry_out(
        self, order: wire.InstallOrder, arch: str, timeout: Optional[float]
    ) -> List[wire.PackageResult]:
        """Install the ordered versions: together, then each alone when that fails."""
        manager = self.manager()
        if manager == facts_mod.MANAGER_APK:
            env = apkcmd.environment()

            def apk_install(specs: List[str]) -> Tuple[int, str]:
                argv = apkcmd.install_argv(self.root, specs)
                code, out, err = self.runner(argv, env, timeout)
                return code, "" if code == 0 else _apk_error(err, out, "apk add")

            return _one_then_each(order.packages, apk_install)
        if manager == facts_mod.MANAGER_ZYPPER:
            with self.zypper_command() as (prefix, env):

                def zypper_install(specs: List[str]) -> Tuple[int, str]:
                    argv = prefix + zyppercmd.install_args(specs)
                    code, out, err = self.runner(argv, env, timeout)
                    if code in zyppercmd.OK_CODES:
                        return 0, ""
                    return code, zyppercmd.error_line(out, err, code, "zypper install")

                return _one_then_each(order.packages, zypper_install)
        if manager == facts_mod.MANAGER_DNF:
            with self.dnf_command() as (prefix, env):

                def dnf_install(specs: List[str]) -> Tuple[int, str]:
                    code, out, err = self.runner(prefix + dnfcmd.install_args(specs), env, timeout)
                    return code, "" if code == 0 else _dnf_error(err, out, "dnf install")

                return _one_then_each(order.packages, dnf_install)
        with self.apt_env(arch) as apt_env:

            def apt_install(specs: List[str]) -> Tuple[int, str]:
                argv = aptcmd.install_argv(specs, order.lock_timeout)
                code, out, err = self.runner(argv, apt_env, timeout)
                return code, "" if code == 0 else _error(err, out)

            return _one_then_each(order.packages, apt_install)

    # -- invocations --------------------------------------------------------------------

    def evaluate(
        self,
        delivery: wire.Delivery,
        phase: str,
        facts: wire.RootFacts,
        order: Optional[wire.InstallOrder] = None,
        results: Optional[List[wire.PackageResult]] = None,
    ) -> wire.Evaluation:
        """Ask the server to judge the facts (uploading again if it lost a blob)."""

        def send(f: wire.RootFacts) -> wire.Evaluation:
            body = wire.EvaluateRequest(phase, f, order, results)
            return self.api.evaluate(delivery.invocation_id, body)

        return self.uploader.with_blobs(facts, send)

    def run(self, delivery: wire.Delivery) -> Outcome:
        """Run one invocation; never raises for the invocation's own failures."""
        try:
            if delivery.document_name in PATCH_DOCUMENTS:
                operation = delivery.operation
                if operation == "Install":
                    return self.install(delivery)
                if operation == "Scan":
                    return self.scan(delivery)
                return failed("Operation {!r} is not Scan or Install".format(operation), 2)
            if delivery.document_name == wire.UPDATE_AGENT_DOCUMENT and self.updater:
                return self.updater(delivery)
            return failed(
                "document {} is not supported by the node component".format(delivery.document_name),
                REFUSED_EXIT,
            )
        except NodeProblem as exc:
            return failed(str(exc), exc.exit_code)
        except Refused as exc:
            return failed(str(exc), REFUSED_EXIT)
        except Unavailable as exc:
            return failed("the server is unavailable: {}".format(exc), ENVIRONMENT_EXIT)
        except OSError as exc:
            return failed("{}".format(exc), ENVIRONMENT_EXIT)

    def scan(self, delivery: wire.Delivery) -> Outcome:
        """RunPatchBaseline Scan."""
        warning = self.refresh(facts_mod.native_arch(self.root, self.manager()))
        facts = self.uploader.facts()
        evaluation = self.evaluate(delivery, "scan", facts)
        report = evaluation.report
        if report is None:
            raise Unavailable("the server's scan evaluation has no report")
        output = "\n".join(x for x in (summary_line(report), warning) if x)
        return Outcome(wire.InvocationResult("Success", 0, output, report))

    def install(self, delivery: wire.Delivery) -> Outcome:
        """RunPatchBaseline Install: the server's plan, carried out exactly."""
        arch = facts_mod.native_arch(self.root, self.manager())
        warning = self.refresh(arch)
        facts = self.uploader.facts()
        plan = self.evaluate(delivery, "plan", facts)
        order = plan.order
        if order is None:
            raise Unavailable("the server's install plan has no order")
        self.journal.start(delivery.invocation_id, delivery.command_id, "Install")
        results = []  # type: List[wire.PackageResult]
        if order.packages:
            timeout = delivery.execution_timeout_seconds
            results = self.carry_out(order, arch, float(timeout) if timeout else None)
            for r in results:
                if r.returncode != 0:
                    log.warning("%s:%s not installed: %s", r.name, r.arch, r.error)
        after = self.uploader.facts()
        conclusion = self.evaluate(delivery, "conclude", after, order, results)
        report = conclusion.report
        if report is None:
            raise Unavailable("the server's install conclusion has no report")
        bad = failed_count(report)
        status = "Failed" if bad else "Success"
        output = "\n".join(x for x in (summary_line(report), warning) if x)
        result = wire.InvocationResult(status, FAILED_EXIT if bad else 0, output, report)
        reboot = None  # type: Optional[Callable[[], None]]
        if conclusion.reboot and self.root == "/":
            reboot = self.reboot
        return Outcome(result, reboot, bool(order.packages))

    def reboot(self) -> None:
        """Reboot the host in a minute (after the result was reported)."""
        log.info("rebooting the node in a minute (the install needs it)")
        try:
            code, out, err = self.runner(list(REBOOT_ARGV), {}, 60.0)
        except NodeProblem as exc:
            log.error("cannot reboot: %s", exc)
            return
        if code != 0:
            log.error("shutdown -r failed: %s", (err or out).strip().splitlines()[-1:])

    def interrupted_result(self) -> Optional[Tuple[str, wire.InvocationResult]]:
        """The Failed result of an install the node did not finish (``None``: none)."""
        entry = self.journal.interrupted()
        if entry is None:
            return None
        return (
            str(entry["invocation_id"]),
            wire.InvocationResult("Failed", FAILED_EXIT, RESTARTED),
        )


def _error(err: str, out: str) -> str:
    return aptcmd.last_error(err if err.strip() else out, "apt-get")


def _dnf_error(err: str, out: str, what: str) -> str:
    for text in (err, out):
        if any(ln.strip().startswith("Error:") for ln in text.splitlines()):
            return dnfcmd.error_line(text, what)
    return dnfcmd.error_line(err or out, what) or "{}: failed".format(what)


def _apk_error(err: str, out: str, what: str) -> str:
    for text in (err, out):
        if any(ln.strip().startswith("ERROR:") for ln in text.splitlines()):
            return apkcmd.error_line(text, what)
    return apkcmd.error_line(err or out, what) or "{}: failed".format(what)


def _one_then_each(
    packages: List[wire.PlannedPackage], install: Callable[[List[str]], Tuple[int, str]]
) -> List[wire.PackageResult]:
    """One transaction; when it fails (and holds more than one package), each package on
    its own, so one patch that cannot be applied does not hold back the others."""
    code, error = install([p.spec for p in packages])
    if code == 0:
        return [wire.PackageResult(p.name, p.arch, 0) for p in packages]
    if len(packages) == 1:
        p = packages[0]
        return [wire.PackageResult(p.name, p.arch, code, error)]
    log.warning(
        "installing %d packages together failed (%s); installing each alone", len(packages), error
    )
    results = []
    for p in packages:
        code, error = install([p.spec])
        results.append(wire.PackageResult(p.name, p.arch, code, "" if code == 0 else error))
    return results
