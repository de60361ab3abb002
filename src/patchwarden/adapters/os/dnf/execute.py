"""Running dnf against a root: options, metadata refresh, update query, simulation, install.

For a root other than ``/`` dnf gets ``--installroot`` plus everything that would otherwise
come from the host: the root's own repository directories (``--setopt=reposdir=``), its
``etc/dnf/dnf.conf`` (or an empty one), its metadata cache ``<root>/var/cache/dnf`` (a host
path for dnf, so it is spelled out), ``--releasever`` from os-release when no installed
package provides ``system-release(releasever)``, and a private ``HOME`` whose
``.rpmmacros`` points rpm's ``%_dbpath`` at the database the root really has (Debian's rpm
would otherwise use ``~/.rpmdb``).  The host's rpm database and dnf cache are never used.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from patchwarden import dnfcmd
from patchwarden.errors import AdapterError, EnvironmentProblem
from patchwarden.ports import Runner, RunResult

REPO_DIRS = dnfcmd.REPO_DIRS
"""dnf's default ``reposdir``, relative to the root."""
_MARK = "PW\t"
_QUERY_FORMAT = (
    _MARK + "%{name}\t%{epoch}\t%{version}\t%{release}\t%{arch}\t%{repoid}\t%{sourcerpm}"
)
_NO_CACHE = re.compile(r"Cache-only enabled but no cache for '([^']+)'")
_SECTIONS = {
    "Installing": "install",
    "Upgrading": "upgrade",
    "Downgrading": "downgrade",
    "Reinstalling": "reinstall",
    "Removing": "remove",
}
_SIZE_UNITS = frozenset({"k", "M", "G", "T"})


@dataclass(frozen=True)
class DnfTarget:
    """The root dnf works on and how to reach it."""

    root: str
    dbpath: str
    releasever: str | None = None
    """Passed as ``--releasever`` (``None``: dnf detects it from the root's packages)."""

    @property
    def cachedir(self) -> Path:
        """dnf's metadata cache of the root."""
        return Path(self.root) / dnfcmd.CACHE_DIR


@dataclass(frozen=True)
class Available:
    """One version ``dnf repoquery --upgrades`` offers."""

    name: str
    epoch: int
    version: str
    release: str
    arch: str
    repoid: str
    sourcerpm: str


@dataclass(frozen=True)
class TransactionRow:
    """One line of dnf's transaction table."""

    action: str
    """``install``, ``upgrade``, ``downgrade``, ``reinstall`` or ``remove``."""
    name: str
    arch: str
    version: str


@contextmanager
def dnf_command(target: DnfTarget) -> Iterator[tuple[list[str], dict[str, str]]]:
    """(argv prefix, environment) for dnf on ``target``; private files live as long as the
    block."""
    env = dict(dnfcmd.ENV)
    if target.root == "/":
        yield ["dnf"], env
        return
    root = Path(target.root)
    home = tempfile.mkdtemp(prefix="patchwarden-dnf-")
    try:
        Path(home, ".rpmmacros").write_text(dnfcmd.rpmmacros_text(target.dbpath))
        config = root / dnfcmd.CONFIG
        if not config.is_file():
            config = Path(home, "dnf.conf")
            config.write_text("[main]\n")
        repo_dirs = dnfcmd.existing_repo_dirs(str(root))
        argv = dnfcmd.confine_argv(str(root), str(config), repo_dirs, target.releasever)
        yield argv, dnfcmd.environment(home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _run(runner: Runner, target: DnfTarget, args: Sequence[str], timeout: float) -> RunResult:
    with dnf_command(target) as (argv, env):
        try:
            return runner.run([*argv, *args], env=env, timeout=timeout)
        except EnvironmentProblem as exc:
            raise EnvironmentProblem(
                "dnf is not installed: Patchwarden drives RHEL-family roots with dnf "
                "(on Debian: apt-get install rpm dnf)"
            ) from exc


def dnf_error(result: RunResult, what: str) -> str:
    """dnf's error message (its ``Error:`` line and the problem lines after it) on one line."""
    for text in (result.stderr, result.stdout):
        if any(ln.strip().startswith("Error:") for ln in text.splitlines()):
            return dnfcmd.error_line(text, what)
    return dnfcmd.error_line(result.stderr or result.stdout, what) or (
        f"{what}: exit status {result.returncode}"
    )


def makecache(runner: Runner, target: DnfTarget) -> None:
    """``dnf makecache --refresh``: fetch every enabled repository's metadata (a repomd.xml
    that did not change costs one small download)."""
    result = _run(runner, target, dnfcmd.MAKECACHE, timeout=900)
    if result.returncode != 0:
        raise AdapterError(dnf_error(result, "dnf makecache"))


def upgrades(runner: Runner, target: DnfTarget) -> tuple[list[Available], list[str]]:
    """Every version newer than an installed package, from the cached metadata only
    (``repoquery --upgrades --show-duplicates -C``), and the repositories dnf ignored
    because nothing of them is cached."""
    args = ["-C", "repoquery", "--upgrades", "--show-duplicates", "--qf", _QUERY_FORMAT]
    result = _run(runner, target, args, timeout=600)
    uncached = list(dict.fromkeys(_NO_CACHE.findall(result.stderr + result.stdout)))
    if result.returncode != 0 and not uncached:
        raise AdapterError(dnf_error(result, "dnf repoquery --upgrades"))
    found: list[Available] = []
    for line in result.stdout.splitlines():
        if not line.startswith(_MARK):
            continue
        parts = line.split("\t")[1:]
        if len(parts) != 7:
            continue
        name, epoch, version, release, arch, repoid, sourcerpm = parts
        found.append(Available(name, int(epoch or 0), version, release, arch, repoid, sourcerpm))
    return found, uncached


def parse_transaction(text: str) -> list[TransactionRow]:
    """The rows of the transaction table dnf prints before asking for confirmation.

    A value wider than its column pushes the rest of the row onto the next line, so each
    section is read as one stream of words: name, arch, version, repository, size (a
    number and an optional unit); ``replacing name.arch version`` lines are skipped.
    """
    rows: list[TransactionRow] = []
    action: str | None = None
    words: list[str] = []
    for line in [*text.splitlines(), "Transaction Summary"]:
        if line.startswith(("=", "Transaction Summary")) or (line and line.endswith(":")):
            if action is not None:
                rows.extend(_rows(action, words))
            words = []
            head = line.split(" ", 1)[0].rstrip(":")
            action = _SECTIONS.get(head) if line.endswith(":") and line[:1] != " " else None
            continue
        if action is not None:
            words.extend(line.split())
    return rows


def _rows(action: str, words: list[str]) -> list[TransactionRow]:
    rows: list[TransactionRow] = []
    i = 0
    while i < len(words):
        if words[i] == "replacing":
            i += 3
            continue
        if i + 4 >= len(words):
            break
        name, arch, version = words[i], words[i + 1], words[i + 2]
        rows.append(TransactionRow(action, name, arch, version))
        i += 5  # name arch version repository size
        if i < len(words) and words[i] in _SIZE_UNITS:
            i += 1
    return rows


def simulate(runner: Runner, target: DnfTarget, specs: Sequence[str]) -> list[TransactionRow]:
    """What ``dnf install`` of exactly ``specs`` would do (``--assumeno``: nothing changes)."""
    args = ["--assumeno", "--setopt=install_weak_deps=False", "-C", "install", *specs]
    result = _run(runner, target, args, timeout=600)
    if "Error:" in result.stderr or (
        result.returncode != 0 and "Operation aborted" not in result.stdout + result.stderr
    ):
        raise AdapterError(dnf_error(result, "dnf install --assumeno"))
    return parse_transaction(result.stdout)


def install(runner: Runner, target: DnfTarget, specs: Sequence[str]) -> str:
    """Install exactly ``specs``; returns dnf's error ('' on success).

    One transaction first; if dnf refuses it, each package is tried on its own so one
    patch that cannot be applied does not hold back the others.
    """
    if not specs:
        return ""
    result = _run(runner, target, dnfcmd.install_args(specs), timeout=3600)
    if result.returncode == 0:
        return ""
    error = dnf_error(result, "dnf install")
    if len(specs) > 1:
        for spec in specs:
            _run(runner, target, dnfcmd.install_args([spec]), timeout=3600)
    return error
