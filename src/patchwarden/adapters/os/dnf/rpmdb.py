"""Reading the rpm database of a root with the ``rpm`` command.

Where the database lives depends on who made the root: RHEL, Amazon Linux, Rocky… keep it in
``/var/lib/rpm`` (``rpmdb.sqlite`` since RHEL 9 / AL2023, BerkeleyDB ``Packages`` before;
Debian's rpm reads those read-only), Fedora 36+ in ``/usr/lib/sysimage/rpm`` (with
``/var/lib/rpm`` a symlink to it), and Debian's own rpm/dnf in ``~/.rpmdb``.  rpm resolves
``--dbpath`` inside ``--root``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from patchwarden import dnfcmd
from patchwarden.errors import AdapterError, EnvironmentProblem
from patchwarden.ports import Runner, RunResult

DB_LOCATIONS = dnfcmd.DB_LOCATIONS
"""Where rpm databases are found, in the order they are looked for."""

_QUERY_FORMAT = (
    "%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{INSTALLTIME}\\n"
)


@dataclass(frozen=True)
class RpmHeader:
    """The facts of one installed package that Patchwarden uses."""

    name: str
    epoch: int
    version: str
    release: str
    arch: str
    sourcerpm: str
    installtime: int

    @property
    def evr(self) -> str:
        """``[epoch:]version-release`` (no ``0:``)."""
        return evr(self.epoch, self.version, self.release)


def evr(epoch: int, version: str, release: str) -> str:
    """The version string Patchwarden uses for rpm: ``[epoch:]version-release``."""
    return f"{epoch}:{version}-{release}" if epoch else f"{version}-{release}"


def split_evr(value: str) -> tuple[int, str, str]:
    """``[epoch:]version-release`` back into (epoch, version, release)."""
    epoch, sep, rest = value.partition(":")
    if not sep:
        epoch, rest = "0", value
    version, _, release = rest.rpartition("-")
    if not version:
        version, release = release, ""
    return int(epoch or 0), version, release


def source_of(sourcerpm: str, epoch: int) -> tuple[str, str]:
    """(source name, source version) from ``SOURCERPM`` (``bash-5.1-2.el9.src.rpm``).

    Source rpm file names carry no epoch; every binary of a source shares the source's, so
    the binary's epoch is put in front.
    """
    base = sourcerpm.removesuffix(".rpm").removesuffix(".src").removesuffix(".nosrc")
    parts = base.rsplit("-", 2)
    if len(parts) != 3 or not sourcerpm.endswith(".rpm"):
        return "", ""
    name, version, release = parts
    return name, evr(epoch, version, release)


def find_dbpath(root: Path) -> str | None:
    """The rpm database directory of ``root`` (as rpm's ``--dbpath``, inside the root);
    a symlinked location is skipped (:func:`patchwarden.dnfcmd.find_dbpath`)."""
    return dnfcmd.find_dbpath(str(root))


def _rpm(runner: Runner, root: str, dbpath: str, *args: str) -> RunResult:
    return _run_rpm(runner, ["rpm", "--root", root, "--dbpath", dbpath, *args])


def _run_rpm(runner: Runner, argv: list[str]) -> RunResult:
    try:
        return runner.run(argv, timeout=300)
    except EnvironmentProblem as exc:
        raise EnvironmentProblem(
            "rpm is not installed: Patchwarden reads the package database of RHEL-family "
            "roots with the rpm command (on Debian: apt-get install rpm dnf)"
        ) from exc


def _number(text: str) -> bool:
    """Whether ``int(text)`` reads ``text`` (ASCII digits: ``"²".isdigit()`` is true too)."""
    return text.isascii() and text.isdigit()


def installed(runner: Runner, root: str, dbpath: str) -> list[RpmHeader]:
    """Every package in the database except the ``gpg-pubkey`` pseudo-packages."""
    result = _rpm(runner, root, dbpath, "-qa", "--qf", _QUERY_FORMAT)
    if result.returncode != 0:
        error = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise AdapterError(f"rpm -qa in {root} (database {dbpath}) failed: {error}")
    headers: list[RpmHeader] = []
    for line in result.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) != 7 or parts[0] == "gpg-pubkey":
            continue
        name, epoch, version, release, arch, sourcerpm, installtime = parts
        headers.append(
            RpmHeader(
                name=name,
                epoch=int(epoch) if _number(epoch) else 0,
                version=version,
                release=release,
                arch=arch,
                sourcerpm="" if sourcerpm == "(none)" else sourcerpm,
                installtime=int(installtime) if _number(installtime) else 0,
            )
        )
    return headers


def providers(
    runner: Runner, root: str, dbpath: str, capabilities: Iterable[str]
) -> dict[str, int]:
    """{package name: newest INSTALLTIME} of the installed packages providing any of
    ``capabilities`` (package names provide themselves)."""
    wanted = sorted(set(capabilities))
    if not wanted:
        return {}
    found: dict[str, int] = {}
    result = _run_rpm(runner, dnfcmd.providers_argv(root, dbpath, wanted))
    for line in result.stdout.splitlines():  # exit status 1: some capability is missing
        name, sep, installtime = line.partition("\t")
        if sep and _number(installtime):
            found[name] = max(found.get(name, 0), int(installtime))
    return found
