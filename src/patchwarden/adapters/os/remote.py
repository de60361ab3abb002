"""A node component's root, rebuilt on the server from its uploaded facts.

For node N the directory ``<data_dir>/nodes/N/root`` holds every file the node listed as a
symlink to its blob (:mod:`patchwarden.adapters.blobs`) and ``etc/hostname``; the apt, dnf,
apk or zypper adapter (by ``facts.manager``) reads it as it reads any root, and ``apt-get
-s`` / ``dnf -C --assumeno install`` / ``zypper --no-refresh install --dry-run`` simulate on
it (confined to the root).  Nothing is ever installed here: installs run on the node.

An apk root is plain files (apk's databases and indexes are data, its configuration names
no program): nothing is rewritten.  apk-tools is not run on the server: the install plan
of an apk node is the exact versions the baseline wants (:meth:`RemotePackageManager.plan`).

The rpm database is copied, not linked: sqlite (and BerkeleyDB) write their shared-memory
and lock files beside the database, which must not land in the blob store.  So are
zypper's solv caches (``var/cache/zypp/solv/<alias>/*``: zypper rewrites them, and their
cookies, in place); its raw metadata is linked.  A SUSE node's ``zypp.conf`` and repo
files are rewritten like dnf's (:func:`safe_zypp_conf`, :func:`safe_zypper_repo_file`),
with ``arch`` set to the node's.

What the node knows that is not a file comes from its facts: whether ``ischroot -t``
succeeds there (apt's phasing), its native architecture, its boot time.  No program the
node's configuration names runs on the server: ``ischroot`` and ``dpkg
--print-architecture`` are answered from the facts; the node's apt and dnf configuration
is rewritten keeping only the options that choose versions (:func:`safe_apt_conf`,
:func:`safe_dnf_conf`, :func:`safe_repo_file`), and dnf runs with ``--noplugins``.

One lock per node (a thread lock and ``flock`` on ``N/lock``) serialises rebuilding and
evaluating, so two requests of one node never swap files under each other.
"""

from __future__ import annotations

import configparser
import contextlib
import fcntl
import json
import os
import re
import shutil
import stat
import tempfile
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from patchwarden import apkcmd, aptcmd, dnfcmd, wire, zyppercmd
from patchwarden.adapters.blobs import BlobStore
from patchwarden.adapters.os import detect
from patchwarden.adapters.os.apk.manager import ApkPackageManager
from patchwarden.adapters.os.apt.conf import get, read_apt_conf
from patchwarden.adapters.os.apt.manager import AptPackageManager
from patchwarden.adapters.os.dnf.manager import DnfPackageManager
from patchwarden.adapters.os.osrelease import read_os_info
from patchwarden.adapters.os.zypper.manager import ZypperPackageManager
from patchwarden.adapters.runner import LocalRunner
from patchwarden.adapters.state import LocalState
from patchwarden.core.model import Inventory, Package
from patchwarden.errors import AdapterError, EnvironmentProblem, InputError
from patchwarden.pipeline.fleet.remote import MissingBlobs
from patchwarden.ports import InstallOutcome, InstallPlan, PackageManager, Runner, RunResult

HOSTNAME = "etc/hostname"
APT_CONF = "etc/apt/apt.conf"
_APT_CONF_PARTS = "etc/apt/apt.conf.d/"
SAFE_OPTIONS = (
    "APT::Default-Release",
    "APT::Machine-ID",
    "APT::Get::Phase-Policy",
    "APT::Get::Always-Include-Phased-Updates",
    "APT::Get::Never-Include-Phased-Updates",
    "Update-Manager::Always-Include-Phased-Updates",
    "Update-Manager::Never-Include-Phased-Updates",
)
"""The node's apt options that reach the rebuilt root: those that change which version apt
chooses.  Every other option (solvers, hooks, ``Dir::*`` …) stays on the node: apt-get runs
on the server to simulate, and a node's configuration must never name a program for it."""
_DIRS = (
    "etc/apt/apt.conf.d",
    "etc/apt/preferences.d",
    "var/lib/dpkg",
    "var/lib/apt/lists/partial",
    "var/cache/apt/archives/partial",
    "var/log/apt",
)
"""Directories apt expects in a root (created when the facts leave them out)."""

DNF_MAIN_OPTIONS = (
    "exclude",
    "excludepkgs",
    "installonlypkgs",
    "installonly_limit",
    "best",
    "obsoletes",
    "module_platform_id",
    "skip_if_unavailable",
)
"""The node's ``[main]`` options of ``etc/dnf/dnf.conf`` that reach the rebuilt root (they
choose versions); ``plugins=0`` is always added.  Everything else — ``pluginpath``,
``include``, ``varsdir``, ``reposdir``, ``cachedir`` … — stays on the node."""
DNF_REPO_OPTIONS = (
    "name",
    "baseurl",
    "metalink",
    "mirrorlist",
    "enabled",
    "priority",
    "cost",
    "exclude",
    "excludepkgs",
    "includepkgs",
    "module_hotfixes",
    "skip_if_unavailable",
)
"""The repository options that reach the rebuilt root.  The URLs are inert strings (dnf
runs cache-only, ``-C``: nothing is fetched) kept because dnf names its cache directory
after them."""
_REPO_ID = re.compile(r"[A-Za-z0-9_.:$-]{1,200}")
_DNF_DIRS = ("var/cache/dnf", "var/lib/dnf", "var/log", "etc/yum.repos.d")
"""Directories dnf expects in a root (created when the facts leave them out)."""
_APK_DIRS: tuple[str, ...] = ()
"""apk's adapter only reads: no directory is needed beyond those of the listed files."""
_ZYPPER_DIRS = (
    zyppercmd.REPO_DIR,
    zyppercmd.RAW_CACHE,
    zyppercmd.SOLV_CACHE,
    "var/cache/zypp/packages",
    "var/lib/zypp",
    "var/log",
    "run",
)
"""Directories zypper expects in a root (created when the facts leave them out)."""
ZYPP_MAIN_OPTIONS = (
    "solver.onlyRequires",
    "solver.allowVendorChange",
    "solver.dupAllowVendorChange",
    "solver.cleandepsOnRemove",
    "multiversion",
    "multiversion.kernels",
)
"""The node's ``[main]`` options of ``etc/zypp/zypp.conf`` that reach the rebuilt root
(they choose versions); ``arch`` is the node's (its facts).  Everything else — directories,
plugins, download and commit settings — stays on the node."""
ZYPPER_REPO_OPTIONS = (
    "name",
    "enabled",
    "autorefresh",
    "baseurl",
    "path",
    "type",
    "priority",
    "keeppackages",
    "gpgcheck",
    "repo_gpgcheck",
    "pkg_gpgcheck",
)
"""The repository options that reach the rebuilt root (zypper runs ``--no-refresh``: the
URLs are inert; a URL of another scheme than :data:`_ZYPPER_SCHEMES` is dropped)."""
_ZYPPER_SCHEMES = ("http://", "https://", "ftp://", "file:", "dir:")
_SOLV_DIR = zyppercmd.SOLV_CACHE + "/"
COPIES = ".patchwarden-copies.json"
NAMED = "blobs.json"
"""Beside a node's rebuilt root: the blobs its latest facts name (what pruning keeps)."""
"""The rebuilt root's record of the rpm database files it copied ({path: sha256})."""
_DB_DIRS = tuple(d.lstrip("/") + "/" for d in dnfcmd.DB_LOCATIONS)
_ARCH = re.compile(r"[A-Za-z0-9_]{1,32}")

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class FactRunner:
    """A :class:`~patchwarden.ports.Runner` that answers what the node measured from its
    facts and runs everything else (apt-get's and dnf's simulations, rpm queries) here;
    dnf without plugins and for the node's architecture."""

    def __init__(self, facts: wire.RootFacts, inner: Runner | None = None) -> None:
        self.facts = facts
        self.inner = inner or LocalRunner()

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: bool = False,
    ) -> RunResult:
        """``<ischroot> -t`` and ``dpkg --print-architecture`` from the facts; else run."""
        call = tuple(argv)
        if len(call) == 2 and call[1] == "-t":  # apt's chroot test, whatever it is named
            return RunResult(call, 0 if self.facts.in_chroot else 1, "", "")
        if call == ("dpkg", "--print-architecture"):
            if not self.facts.arch:
                raise AdapterError("the node did not say its architecture (facts.arch)")
            return RunResult(call, 0, self.facts.arch + "\n", "")
        if call[:1] == ("dnf",):
            extra = ["--noplugins"]
            if _ARCH.fullmatch(self.facts.arch):
                extra.append(f"--forcearch={self.facts.arch}")
            call = (call[0], *extra, *call[1:])
        return self.inner.run(call, env=env, timeout=timeout, check=check)


class RemotePackageManager:
    """The apt, dnf, apk or zypper adapter on a rebuilt root: collects and simulates; never
    installs."""

    def __init__(
        self,
        inner: AptPackageManager | DnfPackageManager | ApkPackageManager | ZypperPackageManager,
        facts: wire.RootFacts,
    ) -> None:
        self.inner = inner
        self.root = inner.root
        self.scheme = inner.scheme
        self.facts = facts

    def collect(self) -> Inventory:
        """The inventory, with the node's hostname and boot time."""
        inventory = self.inner.collect()
        boot = self.facts.boot_time
        return replace(
            inventory,
            hostname=self.facts.hostname or inventory.hostname,
            last_boot=datetime.fromtimestamp(boot, UTC) if boot is not None else None,
        )

    def plan(self, packages: Sequence[Package]) -> InstallPlan:
        """``apt-get -s install`` (``dnf --assumeno install``, ``zypper install --dry-run``)
        on the rebuilt root; for apk
        exactly ``packages`` (apk-tools does not run on the server: the dependencies apk
        adds are not known before the node installs)."""
        if isinstance(self.inner, ApkPackageManager):
            actions = tuple(f"install {p.name} -> {p.version}" for p in packages)
            touched = tuple((p.name, p.arch, p.version) for p in packages)
            return InstallPlan(tuple(packages), actions, touched)
        return self.inner.plan(packages)

    def refresh(self) -> None:
        """Refused: the node refreshes its own lists."""
        raise EnvironmentProblem("package lists are refreshed on the node, not on the server")

    def install(self, packages: Sequence[Package]) -> list[InstallOutcome]:
        """Refused: installs run on the node."""
        raise EnvironmentProblem("installs run on the node, not on the server")

    def spec(self, pkg: Package) -> str:
        """What the node's package manager is asked for to install exactly ``pkg``: apt
        ``name[:arch]=version``, dnf the NEVRA in the repository (after :meth:`collect`),
        apk ``name=version``, zypper ``name.arch=version`` (as its adapter installs)."""
        if isinstance(self.inner, DnfPackageManager | ZypperPackageManager):
            return self.inner.spec(pkg)
        if isinstance(self.inner, ApkPackageManager):
            return apkcmd.spec(pkg.name, pkg.version)
        return aptcmd.spec(pkg.name, pkg.arch, pkg.version, self.native_arch)

    @property
    def native_arch(self) -> str:
        """The node's native architecture (its facts, else its dpkg's)."""
        if self.facts.arch or not isinstance(self.inner, AptPackageManager):
            return self.facts.arch
        for ip in self.inner.collect().installed:
            if ip.package.name == "dpkg" and ip.package.arch:
                return ip.package.arch
        return ""


class RemoteRoot:
    """One node's rebuilt root while its lock is held: package manager and local state."""

    def __init__(self, pm: RemotePackageManager, state: LocalState) -> None:
        self._pm = pm
        self.pm: PackageManager = pm
        self.state = state

    @property
    def native_arch(self) -> str:
        """The node's native architecture."""
        return self._pm.native_arch

    def spec(self, pkg: Package) -> str:
        """What the node's package manager is asked for to install exactly ``pkg``."""
        return self._pm.spec(pkg)


@dataclass(frozen=True)
class Pruned:
    """What one :meth:`RemoteRoots.prune` removed."""

    roots: int
    blobs: int
    freed: int
    """Bytes of the removed blobs."""


class RemoteRoots:
    """Every node's rebuilt root under ``<data_dir>/nodes``, from blobs in ``blobs``."""

    def __init__(self, data_dir: Path, blobs: BlobStore | None = None) -> None:
        self.base = Path(data_dir) / "nodes"
        self.blobs = blobs or BlobStore(Path(data_dir) / "blobs")
        self._gc_lock = Path(data_dir) / "blobs.lock"
        """Held shared while a root is open, exclusively while pruning (every replica on
        this data directory)."""

    def missing(self, hashes: Sequence[str]) -> list[str]:
        """The blobs among ``hashes`` the server lacks."""
        return self.blobs.missing(hashes)

    def prune(self, registered: Collection[str], older_than: float, now: float) -> Pruned:
        """Forget what no registered node uses any more: the rebuilt roots of nodes not in
        ``registered`` (untouched for ``older_than`` seconds), then every blob no remaining
        root names (:meth:`BlobStore.prune`, with the same grace)."""
        with _flock(self._gc_lock, fcntl.LOCK_EX):  # waits for the open roots
            return self._prune(registered, older_than, now)

    def _prune(self, registered: Collection[str], older_than: float, now: float) -> Pruned:
        roots = 0
        if self.base.is_dir():
            for here in self.base.iterdir():
                if here.name in registered or not here.is_dir():
                    continue
                if now - here.stat().st_mtime >= older_than:
                    shutil.rmtree(here, ignore_errors=True)
                    roots += 1
        blobs, freed = self.blobs.prune(self.referenced(), older_than, now)
        return Pruned(roots, blobs, freed)

    def referenced(self) -> set[str]:
        """The blobs the nodes' latest facts name (:data:`NAMED`, written by :meth:`open`),
        whether linked into their roots, copied, or rewritten (apt.conf, dnf.conf)."""
        found: set[str] = set()
        if not self.base.is_dir():
            return found
        for here in self.base.iterdir():
            with contextlib.suppress(OSError, ValueError, TypeError):
                found.update(h for h in json.loads((here / NAMED).read_text()) if wire.is_sha256(h))
        return found

    def node_dir(self, node_id: str) -> Path:
        """``<data_dir>/nodes/<node_id>``."""
        if not wire.safe_relative_path(node_id) or "/" in node_id:
            raise InputError(f"not a node id: {node_id[:80]!r}")
        return self.base / node_id

    @contextlib.contextmanager
    def open(self, node_id: str, facts: wire.RootFacts) -> Iterator[RemoteRoot]:
        """The node's root rebuilt from ``facts``, locked for the block."""
        here = self.node_dir(node_id)
        here.mkdir(parents=True, exist_ok=True)
        with _flock(self._gc_lock, fcntl.LOCK_SH), _node_lock(here):
            missing = self.blobs.missing(facts.hashes())  # no prune runs while we hold it
            if missing:
                raise MissingBlobs(missing)
            root = here / "root"
            rebuild(root, facts, self.blobs)
            _write(here, NAMED, json.dumps(facts.hashes()))
            runner = FactRunner(facts)
            cache = str(here / "cache")
            inner: AptPackageManager | DnfPackageManager | ApkPackageManager | ZypperPackageManager
            if facts.manager == "apk":
                inner = _apk_manager(root, runner, cache)
            elif facts.manager == "zypper":
                inner = _zypper_manager(root, runner, cache, facts.boot_time)
            elif facts.manager == "dnf":
                boot = facts.boot_time
                inner = DnfPackageManager(
                    str(root),
                    runner=runner,
                    cache_dir=cache,
                    last_boot=datetime.fromtimestamp(boot, UTC) if boot is not None else None,
                )
            else:
                inner = AptPackageManager(str(root), runner=runner, cache_dir=cache)
            state = LocalState(here / "state.db")
            try:
                yield RemoteRoot(RemotePackageManager(inner, facts), state)
            finally:
                state.close()


def _apk_manager(root: Path, runner: Runner, cache: str) -> ApkPackageManager:
    """The adapter :func:`detect` picks for the rebuilt root: apk's, or the facts are
    refused (their os-release is not Alpine's)."""
    pm = detect(str(root), runner=runner, cache_dir=cache)
    if not isinstance(pm, ApkPackageManager):
        raise EnvironmentProblem(
            f"the facts are apk's, but their os-release is not Alpine's ({pm.scheme} root)"
        )
    return pm


def _zypper_manager(
    root: Path, runner: Runner, cache: str, boot: int | None
) -> ZypperPackageManager:
    """The zypper adapter on the rebuilt root, or the facts are refused (their os-release
    is not SUSE's)."""
    info = read_os_info(str(root))
    if info.family != "suse":
        raise EnvironmentProblem(
            f"the facts are zypper's, but their os-release is not SUSE's ({info.pretty_name!r})"
        )
    return ZypperPackageManager(
        str(root),
        runner=runner,
        cache_dir=cache,
        os_info=info,
        last_boot=datetime.fromtimestamp(boot, UTC) if boot is not None else None,
    )


@contextlib.contextmanager
def _flock(path: Path, how: int) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, how)
        yield
    finally:
        os.close(fd)  # releases the flock


@contextlib.contextmanager
def _node_lock(here: Path) -> Iterator[None]:
    key = str(here)
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock, _flock(here / "lock", fcntl.LOCK_EX):
        yield


def rebuild(root: Path, facts: wire.RootFacts, blobs: BlobStore) -> None:
    """Make ``root`` hold exactly the listed files (symlinks to their blobs, the rpm
    database copied) and ``etc/hostname``; the package manager's configuration rewritten
    safe; directories it needs are created, its own caches left alone."""
    for f in facts.files:
        if not wire.safe_relative_path(f.path):  # checked on decode; never trust twice
            raise InputError(f"facts.files: {f.path[:200]!r} is not inside the root")
    dnf = facts.manager == "dnf"
    apk = facts.manager == "apk"
    zypper = facts.manager == "zypper"
    if zypper:
        generated = _zypper_generated
    else:
        generated = _dnf_generated if dnf else _apk_generated if apk else _generated
    wanted = {f.path: blobs.path(f.sha256) for f in facts.files if not generated(f.path)}
    copied = (*_DB_DIRS, _SOLV_DIR) if zypper else _DB_DIRS if dnf else ()
    copies = {p: b for p, b in wanted.items() if copied and p.startswith(copied)}
    for rel in copies:
        del wanted[rel]
    root.mkdir(parents=True, exist_ok=True)
    _remove_unlisted(root, wanted)
    if dnf:
        _rebuild_dnf_config(root, facts, blobs)
        _copy_rpmdb(root, {f.path: f.sha256 for f in facts.files if f.path in copies}, blobs)
    elif zypper:
        _rebuild_zypper_config(root, facts, blobs)
        listed = {f.path: f.sha256 for f in facts.files if f.path in copies}
        _copy_rpmdb(root, listed, blobs, copied)
    elif apk:
        if not any(p.startswith(apkcmd.CACHE_DIRS[0] + "/") for p in wanted):
            _remove(root / apkcmd.CACHE_DIRS[0])  # else its empty directory hides var/cache/apk
    else:
        _write(root, APT_CONF, safe_apt_conf(facts, blobs))
    for rel, blob in sorted(wanted.items()):
        target = _prepare_parent(root, rel)
        try:
            if os.readlink(target) == str(blob):
                continue
        except OSError:
            pass
        _remove(target)
        os.symlink(blob, target)
    _write(root, HOSTNAME, facts.hostname.strip() + "\n")
    dirs = _ZYPPER_DIRS if zypper else _DNF_DIRS if dnf else _APK_DIRS if apk else _DIRS
    for rel in dirs:
        with contextlib.suppress(OSError, InputError):
            _make_dirs(root, rel)


def _zypper_generated(path: str) -> bool:
    """Files of a zypper root written by the server: the host name, zypp.conf, repo files."""
    return path in (HOSTNAME, zyppercmd.CONFIG) or _is_zypper_repo_file(path)


def _is_zypper_repo_file(path: str) -> bool:
    folder, _, name = path.rpartition("/")
    return folder == zyppercmd.REPO_DIR and name.endswith(".repo")


def _rebuild_zypper_config(root: Path, facts: wire.RootFacts, blobs: BlobStore) -> None:
    """``etc/zypp/zypp.conf`` and every repo file, rewritten by :func:`safe_zypp_conf` and
    :func:`safe_zypper_repo_file`; repo files the node no longer lists are removed."""
    listed = {f.path: f.sha256 for f in facts.files}
    config = listed.get(zyppercmd.CONFIG)
    text = _blob_text(blobs, config) if config else ""
    _write(root, zyppercmd.CONFIG, safe_zypp_conf(text, facts.arch))
    repos = {p: h for p, h in listed.items() if _is_zypper_repo_file(p)}
    here = root / zyppercmd.REPO_DIR
    if here.is_dir() and not here.is_symlink():
        for old in here.iterdir():
            if old.relative_to(root).as_posix() not in repos:
                _remove(old)
    for rel, digest in sorted(repos.items()):
        _write(root, rel, safe_zypper_repo_file(_blob_text(blobs, digest)))


def safe_zypp_conf(text: str, arch: str = "") -> str:
    """The rebuilt root's ``etc/zypp/zypp.conf``: the node's :data:`ZYPP_MAIN_OPTIONS` and
    ``arch`` (the node's architecture, when it is a plain name), nothing else."""
    ini = _ini(text)
    main = dict(ini.items("main")) if ini.has_section("main") else {}
    lines = _section("main", main, ZYPP_MAIN_OPTIONS)
    if _ARCH.fullmatch(arch):
        lines.append(f"arch={arch}")
    return "\n".join(lines) + "\n"


def safe_zypper_repo_file(text: str) -> str:
    """A repo file with the :data:`ZYPPER_REPO_OPTIONS` of each repository section (a
    section whose alias zypper would not accept is dropped, and so is a URL of another
    scheme than :data:`_ZYPPER_SCHEMES`)."""
    ini = _ini(text)
    out: list[str] = []
    for name in ini.sections():
        if not _REPO_ID.fullmatch(name):
            continue
        options = dict(ini.items(name))
        urls = [u for u in options.get("baseurl", "").split() if u.startswith(_ZYPPER_SCHEMES)]
        if urls:
            options["baseurl"] = urls[0]
        else:
            options.pop("baseurl", None)
        out.extend([*_section(name, options, ZYPPER_REPO_OPTIONS), ""])
    return "\n".join(out)


def _apk_generated(path: str) -> bool:
    """Files of an apk root written by the server: the host name only."""
    return path == HOSTNAME


def _dnf_generated(path: str) -> bool:
    """Files of a dnf root written by the server: the host name, dnf.conf, repo files."""
    return path in (HOSTNAME, dnfcmd.CONFIG) or _is_repo_file(path)


def _is_repo_file(path: str) -> bool:
    folder, _, name = path.rpartition("/")
    return folder in dnfcmd.REPO_DIRS and name.endswith(".repo")


def _rebuild_dnf_config(root: Path, facts: wire.RootFacts, blobs: BlobStore) -> None:
    """``etc/dnf/dnf.conf`` and every repo file, rewritten by :func:`safe_dnf_conf` and
    :func:`safe_repo_file`; repo files the node no longer lists are removed."""
    listed = {f.path: f.sha256 for f in facts.files}
    config = listed.get(dnfcmd.CONFIG)
    _write(root, dnfcmd.CONFIG, safe_dnf_conf(_blob_text(blobs, config) if config else ""))
    repos = {p: h for p, h in listed.items() if _is_repo_file(p)}
    for folder in dnfcmd.REPO_DIRS:
        here = root / folder
        if not here.is_dir() or here.is_symlink():
            continue
        for old in here.iterdir():
            if old.relative_to(root).as_posix() not in repos:
                _remove(old)
    for rel, digest in sorted(repos.items()):
        _write(root, rel, safe_repo_file(_blob_text(blobs, digest)))


def _blob_text(blobs: BlobStore, digest: str) -> str:
    try:
        return blobs.path(digest).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _ini(text: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    with contextlib.suppress(configparser.Error):  # a file dnf would refuse: nothing of it
        parser.read_string(text)
    return parser


def _one_line(value: str) -> str:
    """A value on one line (dnf's lists are separated by spaces, commas or new lines)."""
    return " ".join(value.split())[:4000]


def _section(name: str, options: Mapping[str, str], keep: Sequence[str]) -> list[str]:
    lines = [f"[{name}]"]
    for key in keep:
        value = options.get(key)
        if value is not None and _one_line(value):
            lines.append(f"{key}={_one_line(value)}")
    return lines


def safe_dnf_conf(text: str) -> str:
    """The rebuilt root's ``etc/dnf/dnf.conf``: the node's :data:`DNF_MAIN_OPTIONS` and
    ``plugins=0``, nothing else."""
    ini = _ini(text)
    main = dict(ini.items("main")) if ini.has_section("main") else {}
    lines = _section("main", main, DNF_MAIN_OPTIONS)
    lines.append("plugins=0")
    return "\n".join(lines) + "\n"


def safe_repo_file(text: str) -> str:
    """A repo file with the :data:`DNF_REPO_OPTIONS` of each repository section (a section
    whose id dnf would not accept is dropped)."""
    ini = _ini(text)
    out: list[str] = []
    for name in ini.sections():
        if name == "main" or not _REPO_ID.fullmatch(name):
            continue
        out.extend([*_section(name, dict(ini.items(name)), DNF_REPO_OPTIONS), ""])
    return "\n".join(out)


def _copy_rpmdb(
    root: Path, files: Mapping[str, str], blobs: BlobStore, folders: Sequence[str] = _DB_DIRS
) -> None:
    """The rpm database files (and zypper's solv caches) as real copies (rpm and sqlite
    write their lock and shared-memory files beside them); when any changed, ``folders``
    are emptied first, so no stale ``-shm`` or index outlives its database."""
    record = root / COPIES
    try:
        before = json.loads(record.read_text())
    except (OSError, ValueError):
        before = None
    if before == dict(files) and all((root / p).is_file() for p in files):
        return
    for folder in folders:
        _remove(root / folder.rstrip("/"))
    for rel, digest in sorted(files.items()):
        target = _prepare_parent(root, rel)
        shutil.copyfile(blobs.path(digest), target)
        os.chmod(target, 0o644)
    record.write_text(json.dumps(dict(files), sort_keys=True))


def _generated(path: str) -> bool:
    """Files of the rebuilt root written by the server, not linked to the node's: the host
    name and apt's configuration (:func:`safe_apt_conf`)."""
    return path in (HOSTNAME, APT_CONF) or path.startswith(_APT_CONF_PARTS)


def safe_apt_conf(facts: wire.RootFacts, blobs: BlobStore) -> str:
    """The rebuilt root's ``etc/apt/apt.conf``: the node's :data:`SAFE_OPTIONS` (read from
    its ``apt.conf.d/*`` and ``apt.conf`` as apt reads them), nothing else."""
    with tempfile.TemporaryDirectory(prefix="patchwarden-aptconf-") as tmp:
        for f in facts.files:
            if f.path == APT_CONF or f.path.startswith(_APT_CONF_PARTS):
                link = Path(tmp).joinpath(*f.path.split("/"))
                link.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(blobs.path(f.sha256), link)
        options = read_apt_conf(Path(tmp))
    lines = []
    for key in SAFE_OPTIONS:
        value = get(options, key)
        if value and _SAFE_VALUE.fullmatch(value):
            lines.append(f'{key} "{value}";')
    return "".join(line + "\n" for line in lines)


_SAFE_VALUE = re.compile(r"[A-Za-z0-9_.:+~/@-]{1,200}")


def _write(root: Path, rel: str, text: str) -> None:
    """A regular file the server writes into the rebuilt root (rewritten only on change)."""
    path = _prepare_parent(root, rel)
    if os.path.islink(path) or not _has_text(path, text):
        _remove(path)
        path.write_text(text)


def _remove_unlisted(root: Path, wanted: Mapping[str, Path]) -> None:
    """Drop the symlinks of files no longer listed (only this module makes symlinks)."""
    for dirpath, dirnames, filenames in os.walk(root):  # never follows symlinks
        for name in [*filenames, *dirnames]:
            full = Path(dirpath) / name
            if full.is_symlink() and full.relative_to(root).as_posix() not in wanted:
                full.unlink()


def _prepare_parent(root: Path, rel: str) -> Path:
    """``root/rel`` with every parent a real directory inside ``root`` (a symlink or file
    in the way is replaced: it was a listed file that is now a directory)."""
    parts = rel.split("/")
    _make_dirs(root, "/".join(parts[:-1]))
    return root.joinpath(*parts)


def _make_dirs(root: Path, rel: str) -> None:
    here = root
    for part in [p for p in rel.split("/") if p]:
        if part in (".", ".."):
            raise InputError(f"not a path inside the root: {rel!r}")
        here = here / part
        try:
            mode = os.lstat(here).st_mode
        except FileNotFoundError:
            here.mkdir()
            continue
        if not stat.S_ISDIR(mode):  # a symlink (even to a directory) or a file
            here.unlink()
            here.mkdir()


def _remove(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path)
    else:
        path.unlink()


def _has_text(path: Path, text: str) -> bool:
    try:
        return path.read_text() == text
    except (OSError, UnicodeDecodeError):
        return False
