"""Sandbox nodes with REAL apt and dpkg: tiny .debs, local apt repositories, node roots.

A library for integration tests (and the fleet tests built on them)::

    repo = Repo(tmp / "repo", DEBIAN_SUITES)
    repo.add("bookworm", build_deb(tmp / "debs", "hello", "1.0-1"))
    repo.publish()
    node = SandboxNode(tmp / "node")
    node.add_source(repo, ["bookworm"])
    node.apt_update()
    node.apt_install("hello=1.0-1")
    node.dpkg_versions()            # {"hello": "1.0-1"}
    node.pm().collect()             # the product's apt adapter on that root

apt-get always runs through :func:`patchwarden.adapters.os.apt.execute.apt_env`, exactly as the
product runs it, so the fixture and the product drive apt identically and the host's dpkg
database and apt configuration are never read or written.  The packages carry no
maintainer scripts, so nothing runs inside (or outside) the root.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from patchwarden.adapters.os.apt.execute import apt_env
from patchwarden.adapters.os.apt.manager import AptPackageManager
from patchwarden.core.baseline import PatchBaseline
from patchwarden.demo.roots import DIRECTORIES as SANDBOX_DIRECTORIES

MAINTAINER = "Patchwarden Tests <tests@patchwarden.invalid>"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
"""The pinned clock of the integration tests (pipeline ``now`` and ``PATCHWARDEN_NOW``)."""
NOW_ISO = "2026-03-01T12:00:00Z"
DEFAULT_CHANGELOG_DATE = "Mon, 01 Jan 2024 12:00:00 +0000"
"""Trailer date of a changelog entry when the test does not choose one (fixed: deterministic)."""


@cache
def host_arch() -> str:
    """The host's dpkg architecture (apt in a sandbox root uses it as the native one)."""
    out = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def missing_tools() -> list[str]:
    """Host tools the sandbox needs that are not installed (``make test`` installs them)."""
    tools = ("dpkg", "dpkg-deb", "dpkg-query", "apt-get", "apt-cache", "apt")
    missing = [t for t in tools if shutil.which(t) is None]
    if shutil.which("apt-ftparchive") is None and shutil.which("dpkg-scanpackages") is None:
        missing.append("apt-ftparchive or dpkg-scanpackages")
    return missing


class CommandFailed(AssertionError):
    """A sandbox command failed; the message carries its whole output."""


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run an argv list (never a shell) with ``env`` added to the environment."""
    full_env = {**os.environ, "LC_ALL": "C.UTF-8", **(env or {})}
    proc = subprocess.run(
        list(argv),
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
        check=False,
    )
    if check and proc.returncode != 0:
        raise CommandFailed(
            f"{' '.join(argv)} exited with {proc.returncode}\n"
            f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    return proc


# -- packages --------------------------------------------------------------------------------


def deb_filename(name: str, version: str, arch: str) -> str:
    """The pool file name of a .deb (Debian drops the epoch)."""
    return f"{name}_{version.split(':', 1)[-1]}_{arch}.deb"


def apt_cache_filename(name: str, version: str, arch: str) -> str:
    """apt's file name for a downloaded .deb in ``var/cache/apt/archives`` (``:`` → ``%3a``)."""
    return f"{name}_{version.replace(':', '%3a')}_{arch}.deb"


def changelog_entry(
    source: str,
    version: str,
    date: str,
    *,
    distribution: str = "unstable",
    changes: Iterable[str] = (),
) -> str:
    """One Debian changelog entry (the format ``dpkg-parsechangelog`` reads)."""
    lines = list(changes) or [f"Sandbox build of {source} {version}."]
    body = "\n".join(f"  * {line}" for line in lines)
    return (
        f"{source} ({version}) {distribution}; urgency=medium\n\n{body}\n\n"
        f" -- {MAINTAINER}  {date}\n"
    )


def build_deb(
    workdir: Path,
    name: str,
    version: str,
    arch: str = "all",
    depends: str | Sequence[str] | None = None,
    section: str = "misc",
    priority: str = "optional",
    source: str | None = None,
    changelog_date: str | None = None,
    *,
    extra_control: Mapping[str, str] | None = None,
) -> Path:
    """A tiny real .deb built with ``dpkg-deb`` (no maintainer scripts).

    It holds ``usr/share/<name>/VERSION`` and ``usr/share/doc/<name>/changelog.Debian.gz``
    whose newest entry's trailer carries ``changelog_date`` (RFC 2822).  ``source`` is the
    control ``Source`` field (``foo`` or ``foo (1.0-1)``).  Returns the .deb path.
    """
    workdir = Path(workdir)
    safe = version.replace(":", "%3a")
    tree = workdir / "build" / f"{name}_{safe}_{arch}"
    if tree.exists():
        shutil.rmtree(tree)
    (tree / "DEBIAN").mkdir(parents=True)
    payload = tree / "usr/share" / name
    payload.mkdir(parents=True)
    (payload / "VERSION").write_text(f"{name} {version}\n")
    doc = tree / "usr/share/doc" / name
    doc.mkdir(parents=True)
    src_name = (source or name).split(" ", 1)[0]
    entry = changelog_entry(src_name, version, changelog_date or DEFAULT_CHANGELOG_DATE)
    (doc / "changelog.Debian.gz").write_bytes(gzip.compress(entry.encode(), mtime=0))
    if isinstance(depends, str):
        depends = [depends]
    control = {
        "Package": name,
        "Version": version,
        "Architecture": arch,
        "Maintainer": MAINTAINER,
        "Installed-Size": "4",
        **({"Source": source} if source else {}),
        **({"Depends": ", ".join(depends)} if depends else {}),
        "Section": section,
        "Priority": priority,
        **dict(extra_control or {}),
        "Description": f"sandbox package {name}\n Built by the Patchwarden integration tests.",
    }
    text = "".join(f"{key}: {value}\n" for key, value in control.items())
    (tree / "DEBIAN/control").write_text(text)
    out_dir = workdir / "debs"
    out_dir.mkdir(parents=True, exist_ok=True)
    deb = out_dir / deb_filename(name, version, arch)
    run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(tree), str(deb)])
    shutil.rmtree(tree)
    return deb


# -- repositories ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Suite:
    """The Release facts of one suite of a repository."""

    origin: str
    label: str
    codename: str
    version: str = ""
    not_automatic: bool = False
    but_automatic_upgrades: bool = False


DEBIAN_SUITES: dict[str, Suite] = {
    "bookworm": Suite("Debian", "Debian", "bookworm", "12.4"),
    "bookworm-security": Suite("Debian", "Debian-Security", "bookworm-security", "12"),
    "bookworm-backports": Suite(
        "Debian Backports",
        "Debian Backports",
        "bookworm-backports",
        not_automatic=True,
        but_automatic_upgrades=True,
    ),
    "experimental": Suite("Debian", "Debian", "rc-buggy", not_automatic=True),
}
"""Debian-like suites: the release, its security pocket, backports, experimental."""

UBUNTU_SUITES: dict[str, Suite] = {
    "jammy": Suite("Ubuntu", "Ubuntu", "jammy", "22.04"),
    "jammy-updates": Suite("Ubuntu", "Ubuntu", "jammy", "22.04"),
    "jammy-security": Suite("Ubuntu", "Ubuntu", "jammy", "22.04"),
}
"""Ubuntu-like pockets (security is told by the ``-security`` archive name alone)."""


class Repo:
    """A local apt repository: ``pool/<suite>/…`` and ``dists/<suite>/main/binary-<arch>/``.

    ``add()`` copies .debs in; ``publish()`` regenerates every ``Packages`` (+ ``.gz``) and
    ``Release`` with ``apt-ftparchive`` (``dpkg-scanpackages`` when it is missing).
    """

    component = "main"

    def __init__(
        self, path: Path, suites: Mapping[str, Suite] | None = None, arch: str | None = None
    ) -> None:
        self.path = Path(path)
        self.suites = dict(DEBIAN_SUITES if suites is None else suites)
        self.arch = arch or host_arch()
        self.path.mkdir(parents=True, exist_ok=True)

    def pool(self, suite: str) -> Path:
        """The directory holding a suite's .debs."""
        return self.path / "pool" / suite / self.component

    def add(self, suite: str, *debs: Path) -> list[Path]:
        """Put .debs into ``suite`` (call :meth:`publish` afterwards)."""
        if suite not in self.suites:
            raise KeyError(f"unknown suite {suite!r} (known: {', '.join(self.suites)})")
        pool = self.pool(suite)
        pool.mkdir(parents=True, exist_ok=True)
        return [Path(shutil.copy2(deb, pool / Path(deb).name)) for deb in debs]

    def remove(self, suite: str, filename: str) -> None:
        """Drop one .deb from a suite (call :meth:`publish` afterwards)."""
        (self.pool(suite) / filename).unlink()

    def file(self, suite: str, filename: str) -> Path:
        """A published .deb."""
        return self.pool(suite) / filename

    def publish(self) -> None:
        """Write ``Packages``, ``Packages.gz`` and ``Release`` of every suite."""
        for suite, facts in self.suites.items():
            self._publish_suite(suite, facts)

    def _publish_suite(self, suite: str, facts: Suite) -> None:
        dist = self.path / "dists" / suite
        binary = dist / self.component / f"binary-{self.arch}"
        binary.mkdir(parents=True, exist_ok=True)
        pool = self.pool(suite)
        pool.mkdir(parents=True, exist_ok=True)
        rel_pool = str(pool.relative_to(self.path))
        if shutil.which("apt-ftparchive"):
            argv = ["apt-ftparchive", "packages", rel_pool]
        else:
            argv = ["dpkg-scanpackages", "--multiversion", rel_pool, "/dev/null"]
        packages = run(argv, cwd=self.path).stdout
        (binary / "Packages").write_text(packages)
        (binary / "Packages.gz").write_bytes(gzip.compress(packages.encode(), mtime=0))
        release = self._release_text(dist, suite, facts)
        (dist / "Release").write_text(release)

    def _release_text(self, dist: Path, suite: str, facts: Suite) -> str:
        fields = {
            "Origin": facts.origin,
            "Label": facts.label,
            "Suite": suite,
            "Version": facts.version,
            "Codename": facts.codename,
            "Architectures": self.arch,
            "Components": self.component,
            "Description": f"sandbox {suite}",
        }
        if facts.not_automatic:
            fields["NotAutomatic"] = "yes"
        if facts.but_automatic_upgrades:
            fields["ButAutomaticUpgrades"] = "yes"
        release = dist / "Release"
        release.unlink(missing_ok=True)
        if shutil.which("apt-ftparchive"):
            argv = ["apt-ftparchive"]
            for key, value in fields.items():
                if value:
                    argv += ["-o", f"APT::FTPArchive::Release::{key}={value}"]
            return run([*argv, "release", str(dist)]).stdout
        return _release_by_hand(dist, fields)

    def sources_line(self, suites: Iterable[str]) -> list[str]:
        """``deb [trusted=yes] file:<repo> <suite> main`` lines."""
        return [f"deb [trusted=yes] file:{self.path} {s} {self.component}" for s in suites]

    def clone(self, path: Path) -> Repo:
        """A copy of this repository at ``path`` (to change one without touching a shared one)."""
        shutil.copytree(self.path, path, symlinks=True)
        return Repo(path, self.suites, self.arch)


def _release_by_hand(dist: Path, fields: Mapping[str, str]) -> str:
    import hashlib

    files = sorted(p for p in dist.rglob("*") if p.is_file() and p.name != "Release")
    lines = [f"{k}: {v}" for k, v in fields.items() if v]
    lines.append("Date: Mon, 01 Jan 2024 00:00:00 UTC")
    for label, algo in (("MD5Sum", "md5"), ("SHA256", "sha256")):
        lines.append(f"{label}:")
        for p in files:
            data = p.read_bytes()
            digest = hashlib.new(algo, data).hexdigest()
            lines.append(f" {digest} {len(data):>16} {p.relative_to(dist)}")
    return "\n".join(lines) + "\n"


# -- nodes -----------------------------------------------------------------------------------

OS_RELEASES = {
    "debian": """\
        PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
        NAME="Debian GNU/Linux"
        VERSION_ID="12"
        VERSION="12 (bookworm)"
        VERSION_CODENAME=bookworm
        ID=debian
        HOME_URL="https://www.debian.org/"
        """,
    "ubuntu": """\
        PRETTY_NAME="Ubuntu 22.04.4 LTS"
        NAME="Ubuntu"
        VERSION_ID="22.04"
        VERSION="22.04.4 LTS (Jammy Jellyfish)"
        VERSION_CODENAME=jammy
        ID=ubuntu
        ID_LIKE=debian
        UBUNTU_CODENAME=jammy
        """,
}

_UPGRADABLE = re.compile(r"^(\S+?)/(\S+) (\S+) (\S+) \[upgradable from: (\S+)\]$")


@dataclass(frozen=True)
class Upgradable:
    """One line of ``apt list --upgradable``."""

    name: str
    suites: tuple[str, ...]
    version: str
    arch: str
    installed: str


class SandboxNode:
    """A Debian/Ubuntu root directory that real apt and dpkg manage (``dpkg --root``)."""

    def __init__(
        self,
        root: Path,
        *,
        os_id: str | None = "debian",
        hostname: str | None = None,
        arch: str | None = None,
        machine_id: str | None = None,
    ) -> None:
        """``os_id``: ``debian``, ``ubuntu``, or ``None`` for a root without os-release."""
        self.root = Path(root).resolve()
        self.arch = arch or host_arch()
        self.os_id = os_id
        r = self.root
        for d in SANDBOX_DIRECTORIES:  # the layout patchwarden demo's roots have too
            (r / d).mkdir(parents=True, exist_ok=True)
        for f in ("var/lib/dpkg/status", "var/lib/dpkg/available", "etc/apt/sources.list"):
            (r / f).touch()
        if os_id is not None:
            (r / "etc/os-release").write_text(textwrap.dedent(OS_RELEASES[os_id]))
        (r / "etc/hostname").write_text(f"{hostname or r.name}\n")
        mid = machine_id or _machine_id(str(r))
        (r / "etc/machine-id").write_text(mid + "\n")

    # -- configuration ----------------------------------------------------------------------

    @property
    def status_path(self) -> Path:
        """The root's dpkg status database."""
        return self.root / "var/lib/dpkg/status"

    @property
    def archives(self) -> Path:
        """apt's download cache of the root."""
        return self.root / "var/cache/apt/archives"

    def add_source(self, repo: Repo, suites: Iterable[str]) -> None:
        """Append ``deb [trusted=yes] file:… <suite> main`` lines to ``etc/apt/sources.list``."""
        with (self.root / "etc/apt/sources.list").open("a") as fh:
            for line in repo.sources_line(suites):
                fh.write(line + "\n")

    def set_sources(self, repo: Repo, suites: Iterable[str]) -> None:
        """Replace ``etc/apt/sources.list`` with lines for these suites only."""
        (self.root / "etc/apt/sources.list").write_text(
            "".join(line + "\n" for line in repo.sources_line(suites))
        )

    def write_preferences(self, name: str, text: str) -> Path:
        """Write ``etc/apt/preferences.d/<name>`` (apt_preferences(5) text)."""
        path = self.root / "etc/apt/preferences.d" / name
        path.write_text(textwrap.dedent(text))
        return path

    def set_reboot_required(self, *packages: str) -> None:
        """What Debian's/Ubuntu's update-notifier hooks leave behind: ``run/reboot-required``."""
        (self.root / "run/reboot-required").write_text("*** System restart required ***\n")
        (self.root / "run/reboot-required.pkgs").write_text("".join(p + "\n" for p in packages))

    # -- apt and dpkg -----------------------------------------------------------------------

    def apt(
        self, *args: str, check: bool = True, tool: str = "apt-get"
    ) -> subprocess.CompletedProcess[str]:
        """Run an apt tool on this root with the product's own ``APT_CONFIG``."""
        with apt_env(str(self.root), self.arch) as env:
            return run([tool, *args], env=env, check=check)

    def apt_update(self, *options: str) -> None:
        """``apt-get update`` of the root (``options``: ``--allow-releaseinfo-change`` …)."""
        self.apt("-q", *options, "update")

    def apt_install(self, *specs: str) -> None:
        """``apt-get install -y name=version …`` into the root (the initial package state)."""
        if specs:
            self.apt("-y", "-q", "--no-install-recommends", "install", *specs)

    def dpkg_versions(self) -> dict[str, str]:
        """{name: version} of the packages dpkg considers installed in the root."""
        out = run(
            [
                "dpkg-query",
                f"--admindir={self.root}/var/lib/dpkg",
                "-W",
                "-f",
                "${Package} ${Version} ${db:Status-Abbrev}\n",
            ]
        ).stdout
        versions = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[2].startswith("ii"):
                versions[parts[0]] = parts[1]
        return versions

    def upgradable(self) -> dict[str, Upgradable]:
        """``apt list --upgradable`` of the root, parsed: {name: line}."""
        out = self.apt("list", "--upgradable", tool="apt").stdout
        found = {}
        for line in out.splitlines():
            m = _UPGRADABLE.match(line.strip())
            if m:
                name, suites, version, arch, installed = m.groups()
                found[name] = Upgradable(name, tuple(suites.split(",")), version, arch, installed)
        return found

    def simulated_upgrade(self) -> dict[str, str]:
        """{name: version} that ``apt-get -s upgrade`` would install (phasing applied)."""
        out = self.apt("-s", "-o", "Debug::NoLocking=1", "upgrade").stdout
        return {
            m.group(1): m.group(2) for m in re.finditer(r"^Inst (\S+) \[\S+\] \((\S+) ", out, re.M)
        }

    def dpkg(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run dpkg itself on the root (``--root``/``--admindir``/``--log`` into the root)."""
        r = self.root
        argv = [
            "dpkg",
            f"--root={r}",
            f"--admindir={r}/var/lib/dpkg",
            f"--log={r}/var/log/dpkg.log",
        ]
        return run([*argv, *args], check=check)

    def policy_candidate(self, name: str) -> str | None:
        """``Candidate:`` of ``apt-cache policy <name>`` (``None`` for "(none)")."""
        out = self.apt("policy", name, tool="apt-cache").stdout
        m = re.search(r"^\s*Candidate: (\S+)$", out, re.M)
        if not m or m.group(1) == "(none)":
            return None
        return m.group(1)

    def cache_deb(self, deb: Path, name: str, version: str, arch: str = "all") -> Path:
        """Put a .deb into apt's download cache under apt's own file name."""
        target = self.archives / apt_cache_filename(name, version, arch)
        shutil.copy2(deb, target)
        return target

    def pm(self, cache_dir: Path | None = None) -> AptPackageManager:
        """The product's apt adapter on this root (its inventory cache beside the root)."""
        cache = cache_dir or self.root.parent / f"{self.root.name}.pw-cache"
        return AptPackageManager(str(self.root), cache_dir=str(cache))


def _machine_id(seed: str) -> str:
    import hashlib

    return hashlib.md5(seed.encode()).hexdigest()


# -- the command line ------------------------------------------------------------------------


@dataclass(frozen=True)
class CliResult:
    """A finished ``patchwarden`` process."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        """The stdout parsed as a JSON object (fails the test with the output otherwise)."""
        try:
            data = json.loads(self.stdout)
        except ValueError:
            raise AssertionError(f"not JSON from {self}") from None
        assert isinstance(data, dict), str(self)
        return data

    def __str__(self) -> str:
        return (
            f"$ {' '.join(self.argv)}\n(exit {self.returncode})\n"
            f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        )


Cli = Callable[..., CliResult]
"""The ``pw`` fixture: ``pw("scan", "--root", root, now=...)``."""

JsonReport = dict[str, Any]
"""A report as ``--format json`` prints it."""


# -- the standard package set ----------------------------------------------------------------


@dataclass(frozen=True)
class DebSpec:
    """One .deb to build and publish in one suite."""

    suite: str
    name: str
    version: str
    depends: str | None = None
    section: str = "misc"
    priority: str = "optional"
    source: str | None = None
    changelog_date: str | None = None


STANDARD_PACKAGES: tuple[DebSpec, ...] = (
    # bookworm: the release (several versions per package so a node can start old)
    DebSpec("bookworm", "libfoo1", "1.0-1", section="libs", source="foo"),
    DebSpec("bookworm", "foo-utils", "1.0-1", "libfoo1 (>= 1.0)", "utils", source="foo"),
    DebSpec("bookworm", "bar", "2.0-1", section="net"),
    DebSpec("bookworm", "bar", "2.1-1", section="net"),  # non-security update
    DebSpec("bookworm", "baz", "1.0-1", section="utils"),
    DebSpec("bookworm", "baz", "1:0.9-1", section="utils"),  # epoch bump
    DebSpec("bookworm", "calm", "1.0-1+b1", source="calm (1.0-1)"),  # binNMU, no update
    DebSpec("bookworm", "needs-evil", "1.0-1"),
    # bookworm-security: the security pocket
    DebSpec("bookworm-security", "libfoo1", "1.0-1+deb12u1", section="libs", source="foo"),
    DebSpec(
        "bookworm-security",
        "foo-utils",
        "1.0-1+deb12u1",
        "libfoo1 (>= 1.0-1+deb12u1)",
        "utils",
        source="foo",
    ),
    DebSpec("bookworm-security", "needs-evil", "1.1-1", "evil"),
    DebSpec("bookworm-security", "evil", "1.0-1"),  # new: only as a dependency
    DebSpec("bookworm-security", "qux", "1.0-1"),  # new, never installed: never reported
    # bookworm-backports: NotAutomatic + ButAutomaticUpgrades
    DebSpec("bookworm-backports", "bpo-tool", "1.0-1~bpo12+1"),
    DebSpec("bookworm-backports", "bpo-tool", "1.1-1~bpo12+1"),
    DebSpec("bookworm-backports", "bar", "3.0-1~bpo12+1", section="net"),
    # experimental: NotAutomatic only (not in a node's sources unless a test adds it)
    DebSpec("experimental", "bar", "4.0-1", section="net"),
    DebSpec("experimental", "calm", "2.0-1"),
)

STANDARD_SUITES = ("bookworm", "bookworm-security", "bookworm-backports")
"""The suites a standard node has in its sources.list."""

STANDARD_STATE: dict[str, str] = {
    "bar": "2.0-1",
    "baz": "1.0-1",
    "bpo-tool": "1.0-1~bpo12+1",
    "calm": "1.0-1+b1",
    "foo-utils": "1.0-1",
    "libfoo1": "1.0-1",
    "needs-evil": "1.0-1",
}
"""What a standard node has installed (the old versions)."""

APPROVE_ALL_UPDATES = {
    "bar": "2.1-1",
    "baz": "1:0.9-1",
    "bpo-tool": "1.1-1~bpo12+1",
    "foo-utils": "1.0-1+deb12u1",
    "libfoo1": "1.0-1+deb12u1",
    "needs-evil": "1.1-1",
}
"""apt's candidates of a standard node: what a baseline approving everything reports MISSING."""

SECURITY_UPDATES = {
    name: APPROVE_ALL_UPDATES[name] for name in ("foo-utils", "libfoo1", "needs-evil")
}
"""The candidates that come from the security pocket (what the default baseline approves)."""


def build_repo(
    path: Path,
    workdir: Path,
    specs: Iterable[DebSpec] = STANDARD_PACKAGES,
    suites: Mapping[str, Suite] | None = None,
) -> Repo:
    """Build every .deb of ``specs`` and publish them in a new repository at ``path``."""
    repo = Repo(path, suites)
    for spec in specs:
        deb = build_deb(
            workdir,
            spec.name,
            spec.version,
            depends=spec.depends,
            section=spec.section,
            priority=spec.priority,
            source=spec.source,
            changelog_date=spec.changelog_date,
        )
        repo.add(spec.suite, deb)
    repo.publish()
    return repo


class NodeFactory:
    """Makes sandbox nodes on one repository: ``factory(bar="2.1-1", needs_evil=None)``.

    Keyword arguments change the standard package state (``_`` stands for ``-``: Debian
    package names have no underscores; ``None`` removes a package); ``packages=`` replaces
    it entirely.  Every node gets its own directory, sources, lists and dpkg database.
    """

    def __init__(
        self,
        base: Path,
        repo: Repo,
        *,
        suites: Sequence[str] = STANDARD_SUITES,
        state: Mapping[str, str] = STANDARD_STATE,
        os_id: str = "debian",
    ) -> None:
        self.base = Path(base)
        self.repo = repo
        self.suites = tuple(suites)
        self.state = dict(state)
        self.os_id = os_id
        self.count = 0

    def __call__(
        self,
        packages: Mapping[str, str] | None = None,
        *,
        name: str | None = None,
        suites: Sequence[str] | None = None,
        os_id: str | None = None,
        update: bool = True,
        **package_state: str | None,
    ) -> SandboxNode:
        self.count += 1
        name = name or f"node{self.count}"
        wanted: dict[str, str | None] = dict(self.state if packages is None else packages)
        wanted.update({k.replace("_", "-"): v for k, v in package_state.items()})
        node = SandboxNode(self.base / name, os_id=os_id or self.os_id, hostname=name)
        node.add_source(self.repo, self.suites if suites is None else suites)
        if update:
            node.apt_update()
            node.apt_install(*(f"{n}={v}" for n, v in sorted(wanted.items()) if v is not None))
        return node


# -- baselines -------------------------------------------------------------------------------


def baseline_document(
    name: str = "approve-all",
    *,
    operating_system: str = "DEBIAN",
    approve_after_days: int | None = 0,
    approve_until_date: str | None = None,
    enable_non_security: bool = True,
    filters: Mapping[str, Sequence[str]] | None = None,
    rejected: Sequence[str] = (),
    rejected_action: str | None = None,
    approved: Sequence[str] = (),
) -> dict[str, object]:
    """A ``PatchBaseline`` document with one approval rule (by default: approve everything)."""
    rule: dict[str, object] = {
        "PatchFilterGroup": {
            "PatchFilters": [
                {"Key": k, "Values": list(v)} for k, v in (filters or {"PRODUCT": ["*"]}).items()
            ]
        },
        "EnableNonSecurity": enable_non_security,
    }
    if approve_after_days is not None:
        rule["ApproveAfterDays"] = approve_after_days
    if approve_until_date is not None:
        rule["ApproveUntilDate"] = approve_until_date
    spec: dict[str, object] = {
        "OperatingSystem": operating_system,
        "ApprovalRules": {"PatchRules": [rule]},
    }
    if approved:
        spec["ApprovedPatches"] = list(approved)
    if rejected:
        spec["RejectedPatches"] = list(rejected)
    if rejected_action:
        spec["RejectedPatchesAction"] = rejected_action
    return {
        "apiVersion": "patchwarden/v1",
        "kind": "PatchBaseline",
        "metadata": {"name": name},
        "spec": spec,
    }


def write_baseline(path: Path, document: Mapping[str, object]) -> Path:
    """Write a document as YAML (what an operator would keep in git)."""
    import yaml

    path.write_text(yaml.safe_dump(dict(document), sort_keys=False))
    return path


def load_baseline(document: Mapping[str, object]) -> PatchBaseline:
    """The core :class:`PatchBaseline` of a document, through the product's document loader."""
    import yaml

    from patchwarden.documents import BaselineDocument, parse_documents

    (loaded,) = parse_documents(yaml.safe_dump(dict(document)), "<test>")
    assert isinstance(loaded, BaselineDocument)
    return loaded.baseline
