"""The files the package manager's adapter reads from a root, by content, and the few facts
that are not files (hostname, boot time, chroot, native architecture).

The manager is apt when the root has a dpkg status file, zypper when it has an rpm database
and is SUSE's (its os-release says so, or it has ``etc/zypp`` and no dnf/yum configuration),
dnf when it has another rpm database, apk when it has apk's installed database.

Hashes are cached across runs in ``hashes.json`` keyed by (path, size, mtime_ns, inode):
an unchanged 50 MB list is not read again.
"""

import contextlib
import hashlib
import os
import socket
import stat
import time
from typing import Dict, List, Optional, Tuple

from patchwarden import __version__, apkcmd, dnfcmd, osnames, wire, zyppercmd
from patchwarden.node.process import run_quiet
from patchwarden.node.state import NodeProblem, make_state_dir, read_json, write_json

CHUNK = 1 << 20
HASH_CACHE = "hashes.json"

FIXED_FILES = (
    "var/lib/dpkg/status",
    "var/lib/dpkg/arch",
    "etc/apt/preferences",
    "etc/apt/apt.conf",
    "etc/apt/sources.list",
    "etc/os-release",
    "usr/lib/os-release",
    "etc/machine-id",
    "etc/hostname",
    "run/reboot-required",
    "run/reboot-required.pkgs",
    "var/run/reboot-required",
    "var/run/reboot-required.pkgs",
)
"""Single files the apt adapter reads (those that exist are uploaded)."""

FILE_DIRS = (
    "var/lib/apt/lists",
    "etc/apt/preferences.d",
    "etc/apt/apt.conf.d",
    "etc/apt/sources.list.d",
)
"""Directories whose regular files (not their subdirectories) the adapter reads."""

SKIPPED_NAMES = frozenset(["lock"])

DNF_FIXED_FILES = (
    dnfcmd.CONFIG,
    "etc/os-release",
    "usr/lib/os-release",
    "etc/system-release",
    "etc/system-release-cpe",
    "etc/redhat-release",
    "etc/machine-id",
    "etc/hostname",
)
"""Single files the dnf adapter (and dnf itself) reads."""

DNF_FILE_DIRS = (
    "etc/dnf/vars",
    "etc/yum/vars",
    "etc/dnf/modules.d",
    "etc/dnf/modules.defaults.d",
    "etc/dnf/plugins/needs-restarting.d",
    "var/lib/rpm",
    "usr/lib/sysimage/rpm",
)
"""Directories whose regular files dnf reads: variables, module state, the reboot list,
the rpm database (sqlite ``rpmdb.sqlite`` and its ``-wal``, or BerkeleyDB ``Packages``
and its indexes)."""

DNF_SKIPPED = (".lock", "-shm", ".pid", ".solv", ".solvx", ".rpm", "~")
"""Lock files, sqlite's shared memory, dnf's own solver caches, packages."""

APK_FIXED_FILES = (
    *apkcmd.INSTALLED_DBS,
    apkcmd.REPOSITORIES,
    apkcmd.ARCH_FILE,
    "etc/os-release",
    "usr/lib/os-release",
    "etc/machine-id",
    "etc/hostname",
)
"""Single files the apk adapter reads."""

ZYPPER_FIXED_FILES = (
    zyppercmd.CONFIG,
    zyppercmd.LOCKS,
    "etc/os-release",
    "usr/lib/os-release",
    "etc/machine-id",
    "etc/hostname",
)
"""Single files the zypper adapter (and zypper itself) reads."""

ZYPPER_DB_DIRS = ("var/lib/rpm", "usr/lib/sysimage/rpm")
"""The rpm database directories (SLES 15: ``usr/lib/sysimage/rpm``, ``var/lib/rpm`` a link
to it, which is not followed)."""

MANAGER_APT, MANAGER_DNF, MANAGER_APK = "apt", "dnf", "apk"
MANAGER_ZYPPER = "zypper"

_DNF_CONFIGS = ("etc/dnf", "etc/yum.repos.d", "etc/yum.conf")


def _os_release_ids(root: str) -> List[str]:
    """``ID`` and the words of ``ID_LIKE`` of the root's os-release (lower case)."""
    for rel in ("etc/os-release", "usr/lib/os-release"):
        try:
            with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
                fields = osnames.parse_os_release(fh.read())
        except OSError:
            continue
        return [fields.get("ID", "").lower(), *fields.get("ID_LIKE", "").lower().split()]
    return []


def is_suse(root: str) -> bool:
    """The root is SUSE's: its os-release ``ID``/``ID_LIKE`` names suse, or (without such
    an os-release) it has ``etc/zypp`` and no dnf or yum configuration."""
    ids = [i for i in _os_release_ids(root) if i]
    if any("suse" in i or i == "sles" for i in ids):
        return True
    if not os.path.isdir(os.path.join(root, "etc/zypp")):
        return False
    return not any(os.path.exists(os.path.join(root, rel)) for rel in _DNF_CONFIGS)


def detect_manager(root: str) -> str:
    """``apt`` when the root has a dpkg status file; with an rpm database ``zypper`` on a
    SUSE root (:func:`is_suse`), ``dnf`` otherwise; ``apk`` when it has apk's installed
    database (apt when it has none: its facts then tell the server so)."""
    if os.path.isfile(os.path.join(root, "var/lib/dpkg/status")):
        return MANAGER_APT
    if dnfcmd.find_dbpath(root) is not None:
        return MANAGER_ZYPPER if is_suse(root) else MANAGER_DNF
    if apkcmd.find_installed_db(root) is not None:
        return MANAGER_APK
    return MANAGER_APT


def _dnf_skipped(name: str) -> bool:
    return name.startswith((".", "__db.")) or name.endswith(DNF_SKIPPED)


def _regular_files(root: str, rel_dir: str) -> List[str]:
    """``rel_dir/name`` of the entries of a directory (sorted; a symlinked directory is
    not followed: it points at another listed place or at the host)."""
    full = os.path.join(root, rel_dir)
    if os.path.islink(full):
        return []
    try:
        names = sorted(os.listdir(full))
    except OSError:
        return []
    return [rel_dir + "/" + n for n in names if not _dnf_skipped(n)]


def dnf_candidate_paths(root: str) -> List[str]:
    """Relative paths of the files dnf's adapter reads: configuration, repositories, the
    rpm database and dnf's cached metadata (``var/cache/dnf/<repo>/repodata/*``, what
    ``dnf -C`` reads; not its solver caches nor packages)."""
    found = list(DNF_FIXED_FILES)
    for rel_dir in dnfcmd.REPO_DIRS:
        found.extend(p for p in _regular_files(root, rel_dir) if p.endswith(".repo"))
    for rel_dir in DNF_FILE_DIRS:
        found.extend(_regular_files(root, rel_dir))
    cache = dnfcmd.CACHE_DIR
    for repo_dir in _regular_files(root, cache):
        found.extend(_regular_files(root, repo_dir + "/repodata"))
    return found


def apk_cache_dir(root: str) -> Optional[str]:
    """apk's index cache as a path relative to the root, as the apk adapter finds it:
    ``etc/apk/cache`` when it is a directory, the directory it links to (an absolute link
    taken inside the root), else ``var/cache/apk``; ``None`` when the link leaves the
    root."""
    linked = apkcmd.CACHE_DIRS[0]
    full = os.path.join(root, linked)
    if os.path.islink(full):
        try:
            target = os.readlink(full)
        except OSError:
            target = ""
        if target.startswith("/"):
            rel = os.path.normpath(target.lstrip("/"))
        else:
            rel = os.path.normpath(os.path.join(os.path.dirname(linked), target))
        if target and os.path.isdir(os.path.join(root, rel)):
            return rel if wire.safe_relative_path(rel) else None
    elif os.path.isdir(full):
        return linked
    return apkcmd.CACHE_DIRS[1]


def _apk_repository_lines(root: str, files: List[str]) -> List[str]:
    """The repositories (URL or path) of the root's repositories files, untagged only."""
    found = []  # type: List[str]
    for rel in files:
        try:
            with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        for raw in text.splitlines():
            line = raw.strip()
            if line and not line.startswith(("#", "@")) and line.split()[0] not in found:
                found.append(line.split()[0])
    return found


def _apk_arch(root: str) -> str:
    try:
        with open(os.path.join(root, apkcmd.ARCH_FILE), encoding="utf-8") as fh:
            return fh.read().strip()
    except (OSError, UnicodeDecodeError):
        return ""


def apk_candidate_paths(root: str) -> List[str]:
    """Relative paths of the files apk's adapter reads: the installed database, the
    repositories files, the native architecture, os-release, and the index apk last
    downloaded for each repository (``APKINDEX.*.tar.gz`` in its cache directory; a local
    repository's ``<path>/<arch>/APKINDEX.tar.gz`` in the root)."""
    found = list(APK_FIXED_FILES)
    lists = [p for p in _regular_files(root, apkcmd.REPOSITORIES_D) if p.endswith(".list")]
    found.extend(lists)
    cache = apk_cache_dir(root)
    if cache is not None:
        found.extend(
            p
            for p in _regular_files(root, cache)
            if p.rpartition("/")[2].startswith("APKINDEX.") and p.endswith(".tar.gz")
        )
    arch = _apk_arch(root) or "noarch"
    for repo in _apk_repository_lines(root, [apkcmd.REPOSITORIES, *lists]):
        if repo.startswith("file:"):
            repo = repo[len("file:") :].lstrip("/")
            repo = "/" + repo if repo else ""
        elif "://" in repo:
            continue  # a download: its index is in the cache
        rel = os.path.normpath(repo.lstrip("/")) + "/" + arch + "/APKINDEX.tar.gz"
        if repo and rel not in found:
            found.append(rel)
    return found


def zypper_candidate_paths(root: str) -> List[str]:
    """Relative paths of the files zypper's adapter reads with ``--no-refresh``: its
    configuration and package locks, the repository files, the rpm database, os-release,
    and zypper's caches of each repository: the raw metadata (``var/cache/zypp/raw/<alias>``
    and its ``repodata/*``: the updateinfo the adapter reads) and the solv files
    (``var/cache/zypp/solv/<alias>/*``: what ``search`` and ``list-patches`` read; not
    ``@System``'s, which zypper rebuilds from the rpm database)."""
    found = list(ZYPPER_FIXED_FILES)
    found.extend(p for p in _regular_files(root, zyppercmd.REPO_DIR) if p.endswith(".repo"))
    for rel_dir in ZYPPER_DB_DIRS:
        found.extend(_regular_files(root, rel_dir))
    for alias_dir in _regular_files(root, zyppercmd.RAW_CACHE):
        found.extend(_regular_files(root, alias_dir))
        found.extend(_regular_files(root, alias_dir + "/repodata"))
    for alias_dir in _regular_files(root, zyppercmd.SOLV_CACHE):
        if alias_dir.rpartition("/")[2].startswith("@"):
            continue
        found.extend(_regular_files(root, alias_dir))
    return found


def sha256_file(path: str) -> str:
    """The SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                return digest.hexdigest()
            digest.update(chunk)


class HashCache:
    """SHA-256 of files by (path, size, mtime_ns, inode), kept in ``hashes.json``."""

    def __init__(self, path: Optional[str]) -> None:
        self.path = path
        self.entries = {}  # type: Dict[str, List[object]]
        self.used = {}  # type: Dict[str, List[object]]
        if path:
            raw = read_json(path, {})
            if isinstance(raw, dict):
                self.entries = {k: v for k, v in raw.items() if isinstance(v, list) and len(v) == 4}

    def digest(self, path: str, st: os.stat_result) -> str:
        """The file's hash (from the cache when its size, mtime and inode are unchanged)."""
        key = [st.st_size, st.st_mtime_ns, st.st_ino]
        cached = self.entries.get(path)
        if cached is not None and cached[:3] == key and wire.is_sha256(cached[3]):
            self.used[path] = cached
            return str(cached[3])
        digest = sha256_file(path)
        self.used[path] = [*key, digest]
        return digest

    def forget(self, path: str) -> None:
        """Hash this file again next time (it changed under its old stat key)."""
        self.entries.pop(path, None)
        self.used.pop(path, None)
        self.save(self.entries)

    def save(self, entries: Optional[Dict[str, List[object]]] = None) -> None:
        """Keep the entries used by the last collection (files gone are dropped)."""
        if self.path:
            self.entries = dict(self.used if entries is None else entries)
            with contextlib.suppress(OSError):  # a cache only
                make_state_dir(os.path.dirname(self.path))
                write_json(self.path, self.entries)


def candidate_paths(root: str, manager: str = MANAGER_APT) -> List[str]:
    """Relative paths of the files to upload (existence is checked by the caller)."""
    if manager == MANAGER_DNF:
        return dnf_candidate_paths(root)
    if manager == MANAGER_APK:
        return apk_candidate_paths(root)
    if manager == MANAGER_ZYPPER:
        return zypper_candidate_paths(root)
    found = list(FIXED_FILES)
    for rel_dir in FILE_DIRS:
        try:
            names = sorted(os.listdir(os.path.join(root, rel_dir)))
        except OSError:
            continue
        for name in names:
            if name in SKIPPED_NAMES or name.startswith("."):
                continue
            found.append(rel_dir + "/" + name)
    return found


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def fact_files(
    root: str, cache: HashCache, manager: str = MANAGER_APT
) -> Tuple[List[wire.FactFile], Dict[str, str]]:
    """The files that exist (regular files, symlinks followed) and where each hash is."""
    files = []  # type: List[wire.FactFile]
    paths = {}  # type: Dict[str, str]
    for rel in candidate_paths(root, manager):
        if not wire.safe_relative_path(rel) or not _utf8(rel):
            continue
        full = os.path.join(root, rel)
        try:
            st = os.stat(full)
            if not stat.S_ISREG(st.st_mode):
                continue
            digest = cache.digest(full, st)
        except OSError:
            continue  # vanished or unreadable: apt cannot read it either
        files.append(wire.FactFile(rel, digest, st.st_size))
        paths.setdefault(digest, full)
    return files, paths


def hostname(root: str) -> str:
    """This host's name for ``/``; ``etc/hostname`` (or the directory name) otherwise."""
    if root == "/":
        return socket.gethostname()
    name = os.path.basename(root.rstrip("/"))
    try:
        with open(os.path.join(root, "etc/hostname"), encoding="utf-8", errors="replace") as fh:
            return fh.read().strip() or name
    except OSError:
        return name


def boot_time(root: str, manager: str = MANAGER_APT) -> Optional[int]:
    """``btime`` of ``/proc/stat`` for the root ``/``; ``None`` otherwise.  For dnf the
    later of that and the start of PID 1 (a container's own start), as dnf
    needs-restarting takes it (zypper's adapter takes the same)."""
    if root != "/":
        return None
    found = None  # type: Optional[int]
    try:
        with open("/proc/stat") as fh:
            for line in fh:
                if line.startswith("btime "):
                    found = int(line.split()[1])
                    break
    except (OSError, ValueError, IndexError):
        pass
    if manager in (MANAGER_DNF, MANAGER_ZYPPER):
        with contextlib.suppress(OSError):
            started = int(os.stat("/proc/1").st_mtime)
            found = max(found or 0, started)
    return found


def in_chroot() -> bool:
    """``ischroot -t`` exits 0 on this machine (a missing program: no), as apt asks."""
    code, _ = run_quiet(["ischroot", "-t"])
    return code == 0


def native_arch(root: str, manager: str = MANAGER_APT) -> str:
    """apt: the ``Architecture`` of the ``dpkg`` package in the status file, else
    ``dpkg --print-architecture`` (empty when neither tells).  dnf: ``rpm --eval
    %{_arch}``, else ``uname -m`` (as for zypper).  apk: the root's ``etc/apk/arch``
    (empty when it has none)."""
    if manager in (MANAGER_DNF, MANAGER_ZYPPER):
        return rpm_arch()
    if manager == MANAGER_APK:
        return _apk_arch(root)
    arch = _dpkg_arch_from_status(os.path.join(root, "var/lib/dpkg/status"))
    if arch:
        return arch
    code, out = run_quiet(["dpkg", "--print-architecture"])
    return out.strip() if code == 0 else ""


def rpm_arch() -> str:
    """``rpm --eval %{_arch}`` (``x86_64``, ``aarch64`` …), else ``uname -m``."""
    code, out = run_quiet(["rpm", "--eval", "%{_arch}"])
    value = out.strip()
    if code == 0 and value and not value.startswith("%") and " " not in value:
        return value
    return os.uname().machine


def _dpkg_arch_from_status(path: str) -> str:
    package, arch = "", ""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    if package == "dpkg" and arch:
                        return arch
                    package, arch = "", ""
                elif line.startswith("Package:"):
                    package = line.split(":", 1)[1].strip()
                elif line.startswith("Architecture:"):
                    arch = line.split(":", 1)[1].strip()
    except OSError:
        return ""
    return arch if package == "dpkg" else ""


def utc_now() -> str:
    """The time now as ISO 8601, UTC, with ``Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def collect(root: str, state_dir: Optional[str] = None) -> Tuple[wire.RootFacts, Dict[str, str]]:
    """The facts of ``root`` and ``{sha256: file on disk}`` for each blob they name."""
    if not os.path.isdir(root):
        raise NodeProblem("root {!r} does not exist or is not a directory".format(root))
    manager = detect_manager(root)
    cache = HashCache(os.path.join(state_dir, HASH_CACHE) if state_dir else None)
    files, paths = fact_files(root, cache, manager)
    cache.save()
    facts = wire.RootFacts(
        manager=manager,
        root=root,
        hostname=hostname(root),
        files=files,
        boot_time=boot_time(root, manager),
        in_chroot=in_chroot() if manager == MANAGER_APT else False,
        arch=native_arch(root, manager),
        agent_version=__version__,
        collected_at=utc_now(),
    )
    return facts, paths


def forget(state_dir: Optional[str], path: str) -> None:
    """Drop one file's cached hash (it changed since it was hashed)."""
    if state_dir:
        HashCache(os.path.join(state_dir, HASH_CACHE)).forget(path)
