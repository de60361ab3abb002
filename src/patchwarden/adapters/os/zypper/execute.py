"""Running zypper on a root, and reading its ``--xmlout`` answers.

For a root other than ``/`` zypper gets ``--root`` (its repositories, metadata cache,
solv cache, lock file and history then live inside the root), plus an environment that keeps
the rest there too: ``ZYPP_CONF`` (the root's ``etc/zypp/zypp.conf``, or an empty one, never
the host's), ``ZYPP_LOGFILE`` (the root's ``var/log/zypper.log``), and a private ``HOME``
whose ``.rpmmacros`` points rpm's ``%_dbpath`` at the database the root really has (Debian's
librpm would otherwise use ``~/.rpmdb``).  The host's rpm database and zypper state are
never used.  Commands are argv lists, never shell strings.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from patchwarden import dnfcmd, zyppercmd
from patchwarden.errors import AdapterError, EnvironmentProblem
from patchwarden.ports import Runner, RunResult

CONFIG = zyppercmd.CONFIG
"""libzypp's configuration file, relative to the root."""
CACHE_DIR = zyppercmd.CACHE_DIR
"""zypper's caches (``raw`` metadata, ``solv`` files, ``packages``), relative to the root."""
REPO_DIR = zyppercmd.REPO_DIR
"""zypper's repository definitions, relative to the root."""
LOG_FILE = zyppercmd.LOG_FILE

EXIT_REBOOT_NEEDED = zyppercmd.EXIT_REBOOT_NEEDED
EXIT_RESTART_NEEDED = zyppercmd.EXIT_RESTART_NEEDED
EXIT_CAP_NOT_FOUND = zyppercmd.EXIT_CAP_NOT_FOUND
EXIT_REPOS_SKIPPED = zyppercmd.EXIT_REPOS_SKIPPED
OK_CODES = zyppercmd.OK_CODES


@dataclass(frozen=True)
class ZypperTarget:
    """The root zypper works on and its rpm database (``--dbpath`` inside the root)."""

    root: str
    dbpath: str


@dataclass(frozen=True)
class Solvable:
    """One package version zypper knows (``search --details``)."""

    name: str
    edition: str
    """``[epoch:]version-release`` as zypper spells it."""
    arch: str
    repository: str
    installed: bool


@dataclass(frozen=True)
class TransactionRow:
    """One package of zypper's install summary."""

    action: str
    """``install``, ``upgrade``, ``downgrade``, ``reinstall`` or ``remove``."""
    name: str
    arch: str
    version: str
    old_version: str


_SUMMARY_SECTIONS = {
    "to-install": "install",
    "to-upgrade": "upgrade",
    "to-downgrade": "downgrade",
    "to-reinstall": "reinstall",
    "to-remove": "remove",
    "to-change-arch": "upgrade",
    "to-change-vendor": "upgrade",
}


@contextmanager
def zypper_command(target: ZypperTarget) -> Iterator[tuple[list[str], dict[str, str]]]:
    """(argv prefix, environment) for zypper on ``target``; private files live as long as
    the block."""
    if target.root == "/":
        yield zyppercmd.prefix("/"), zyppercmd.environment("/")
        return
    root = Path(target.root)
    home = tempfile.mkdtemp(prefix="patchwarden-zypper-")
    try:
        Path(home, ".rpmmacros").write_text(dnfcmd.rpmmacros_text(target.dbpath))
        config = root / CONFIG
        if not config.is_file():
            config = Path(home, "zypp.conf")
            config.write_text("[main]\n")
        (root / LOG_FILE).parent.mkdir(parents=True, exist_ok=True)
        env = zyppercmd.environment(str(root), home, str(config))
        yield zyppercmd.prefix(str(root)), env
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run(runner: Runner, target: ZypperTarget, args: Sequence[str], timeout: float) -> RunResult:
    """zypper ``args`` on ``target``."""
    with zypper_command(target) as (argv, env):
        try:
            return runner.run([*argv, *args], env=env, timeout=timeout)
        except EnvironmentProblem as exc:
            raise EnvironmentProblem(
                "zypper is not installed: Patchwarden drives SUSE roots with zypper "
                "(on Debian: apt-get install rpm zypper)"
            ) from exc


def zypper_error(result: RunResult, what: str) -> str:
    """zypper's error message on one line (its xml ``error`` messages, else its last line)."""
    errors: list[str] = []
    for elem in _stream(result.stdout, strict=False):
        if elem.tag == "message" and elem.get("type") == "error" and elem.text:
            errors.append(" ".join(elem.text.split()))
    if errors:
        return f"{what}: {' '.join(errors)[:600]}"
    lines = [ln.strip() for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("<")]
    tail = lines[-1][:600] if lines else f"exit status {result.returncode}"
    return f"{what}: {tail}"


def _stream(text: str, *, strict: bool = True) -> list[ElementTree.Element]:
    """The children of zypper's ``<stream>`` document."""
    start = text.find("<stream")
    if start < 0:
        if strict:
            raise AdapterError("zypper printed no --xmlout <stream> document")
        return []
    try:
        root = ElementTree.fromstring(text[start:])
    except ElementTree.ParseError as exc:
        if strict:
            raise AdapterError(f"zypper printed malformed --xmlout output: {exc}") from exc
        return []
    return list(root)


def stream(text: str) -> list[ElementTree.Element]:
    """The children of zypper's ``<stream>`` document (:class:`AdapterError` if none)."""
    return _stream(text)


def refresh(runner: Runner, target: ZypperTarget) -> None:
    """``zypper refresh``: fetch every enabled repository's metadata."""
    result = run(runner, target, zyppercmd.refresh_args(), timeout=900)
    if result.returncode not in zyppercmd.REFRESH_OK_CODES:
        raise AdapterError(zypper_error(result, "zypper refresh"))


def solvables(runner: Runner, target: ZypperTarget) -> list[Solvable]:
    """Every package version of the enabled repositories and the installed ones, from the
    cached metadata only (``--no-refresh search --details --type package``)."""
    args = ["--xmlout", "--no-refresh", "search", "--details", "--type", "package"]
    result = run(runner, target, args, timeout=600)
    if result.returncode not in (0, EXIT_CAP_NOT_FOUND):
        raise AdapterError(zypper_error(result, "zypper search"))
    found: list[Solvable] = []
    for elem in stream(result.stdout):
        for s in elem.iter("solvable"):
            if s.get("kind", "package") != "package":
                continue
            found.append(
                Solvable(
                    name=s.get("name", ""),
                    edition=s.get("edition", ""),
                    arch=s.get("arch", ""),
                    repository=s.get("repository", ""),
                    installed=s.get("status") == "installed",
                )
            )
    return found


def list_patches(runner: Runner, target: ZypperTarget) -> list[ElementTree.Element]:
    """The ``<update kind="patch">`` elements of ``list-patches --all`` (cached metadata)."""
    result = run(runner, target, ["--xmlout", "--no-refresh", "list-patches", "--all"], 600)
    if result.returncode not in OK_CODES:
        raise AdapterError(zypper_error(result, "zypper list-patches"))
    return [u for e in stream(result.stdout) for u in e.iter("update") if u.get("kind") == "patch"]


def list_updates(runner: Runner, target: ZypperTarget) -> dict[tuple[str, str], str]:
    """{(name, arch): edition} of ``list-updates --all``: the newest version of each."""
    result = run(runner, target, ["--xmlout", "--no-refresh", "list-updates", "--all"], 600)
    if result.returncode not in OK_CODES:
        raise AdapterError(zypper_error(result, "zypper list-updates"))
    return {
        (u.get("name", ""), u.get("arch", "")): u.get("edition", "")
        for e in stream(result.stdout)
        for u in e.iter("update")
        if u.get("kind") == "package"
    }


def install_args(specs: Sequence[str], *, dry_run: bool = False) -> list[str]:
    """Install exactly these ``name.arch=edition`` specs (after the zypper prefix): older
    versions allowed, no recommended packages, the cached metadata only
    (:func:`patchwarden.zyppercmd.install_args`, the node's argv too)."""
    return zyppercmd.install_args(specs, dry_run=dry_run)


def parse_summary(text: str) -> list[TransactionRow]:
    """The packages of zypper's ``<install-summary>``."""
    rows: list[TransactionRow] = []
    for elem in _stream(text, strict=False):
        if elem.tag != "install-summary":
            continue
        for section in elem:
            action = _SUMMARY_SECTIONS.get(section.tag)
            if action is None:
                continue
            for s in section.iter("solvable"):
                if s.get("type", "package") != "package":
                    continue
                rows.append(
                    TransactionRow(
                        action,
                        s.get("name", ""),
                        s.get("arch", ""),
                        s.get("edition", ""),
                        s.get("edition-old", ""),
                    )
                )
    return rows


def simulate(runner: Runner, target: ZypperTarget, specs: Sequence[str]) -> list[TransactionRow]:
    """What installing exactly ``specs`` would do (``install --dry-run``: nothing changes)."""
    result = run(runner, target, install_args(specs, dry_run=True), timeout=600)
    if result.returncode not in OK_CODES:
        raise AdapterError(zypper_error(result, "zypper install --dry-run"))
    return parse_summary(result.stdout)


def install(runner: Runner, target: ZypperTarget, specs: Sequence[str]) -> str:
    """Install exactly ``specs``; returns zypper's error ('' on success).

    One transaction first; if zypper refuses it, each package is tried on its own so one
    patch that cannot be applied does not hold back the others.
    """
    if not specs:
        return ""
    result = run(runner, target, install_args(specs), timeout=3600)
    if result.returncode in OK_CODES:
        return ""
    error = zypper_error(result, "zypper install")
    if len(specs) > 1:
        for spec in specs:
            run(runner, target, install_args([spec]), timeout=3600)
    return error


def needs_rebooting(runner: Runner, target: ZypperTarget) -> bool:
    """``zypper needs-rebooting``: exit 102 when a core library or service was updated."""
    result = run(runner, target, ["needs-rebooting"], timeout=120)
    return result.returncode == EXIT_REBOOT_NEEDED
