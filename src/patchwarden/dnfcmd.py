"""dnf's command lines and root confinement, shared by the dnf adapter and the node.

Written for Python 3.6 and the standard library only (like :mod:`patchwarden.aptcmd`): the
node component on RHEL 8's platform-python runs exactly the dnf commands the dnf adapter
runs, built here once.  Commands are argv lists, never shell strings.

For a root other than ``/`` dnf gets ``--installroot`` plus everything that would otherwise
come from the host (:func:`confine_argv`), and a private ``HOME`` whose ``.rpmmacros``
(:func:`rpmmacros_text`) points rpm's ``%_dbpath`` at the database the root really has.
"""

import os
from typing import Dict, List, Optional, Sequence

ENV = {"LC_ALL": "C.UTF-8"}
"""The environment of every dnf run."""

REPO_DIRS = ("etc/yum.repos.d", "etc/yum/repos.d", "etc/distro.repos.d")
"""dnf's default ``reposdir``, relative to the root."""

CONFIG = "etc/dnf/dnf.conf"
"""dnf's main configuration file, relative to the root."""

CACHE_DIR = "var/cache/dnf"
"""dnf's metadata cache, relative to the root."""

DB_LOCATIONS = ("/var/lib/rpm", "/usr/lib/sysimage/rpm", "/root/.rpmdb")
"""Where rpm databases are found, in the order they are looked for."""

DB_FILES = ("rpmdb.sqlite", "Packages", "Packages.db")
"""The main file of the sqlite, BerkeleyDB and ndb backends."""

MAKECACHE = ["-y", "makecache", "--refresh"]
"""Arguments that fetch every enabled repository's metadata (a repomd.xml that did not
change costs one small download)."""


def find_dbpath(root: str) -> Optional[str]:
    """The rpm database directory of ``root`` (as rpm's ``--dbpath``, inside the root).

    A symlinked location is skipped: an absolute link would point at the host, and the
    directory it names is one of the later candidates anyway.
    """
    for location in DB_LOCATIONS:
        folder = os.path.join(root, location.lstrip("/"))
        if os.path.islink(folder) or not os.path.isdir(folder):
            continue
        if any(os.path.isfile(os.path.join(folder, name)) for name in DB_FILES):
            return location
    return None


def rpmmacros_text(dbpath: str) -> str:
    """The ``~/.rpmmacros`` of a confined run: rpm's database is ``dbpath`` in the root."""
    return "%_dbpath {}\n".format(dbpath)


def confine_argv(
    root: str, config: str, repo_dirs: Sequence[str], releasever: Optional[str] = None
) -> List[str]:
    """``dnf`` and the options that confine it to ``root`` (not ``/``): its ``config`` file
    (the root's ``etc/dnf/dnf.conf``, or an empty one), its repository directories (those
    of :data:`REPO_DIRS` that exist, as absolute paths), its metadata cache, and
    ``--releasever`` when the root's packages do not tell it."""
    r = root.rstrip("/") or "/"
    argv = [
        "dnf",
        "--installroot={}".format(r),
        "--config={}".format(config),
        "--setopt=reposdir={}".format(",".join(repo_dirs) or os.path.join(r, REPO_DIRS[0])),
        "--setopt=cachedir={}".format(os.path.join(r, CACHE_DIR)),
    ]
    if releasever:
        argv.append("--releasever={}".format(releasever))
    return argv


def existing_repo_dirs(root: str) -> List[str]:
    """The absolute paths of the root's :data:`REPO_DIRS` that exist."""
    return [os.path.join(root, d) for d in REPO_DIRS if os.path.isdir(os.path.join(root, d))]


def install_args(specs: Sequence[str]) -> List[str]:
    """Install exactly these NEVRAs (after the ``dnf`` prefix): non-interactive, no weak
    dependencies."""
    return ["-y", "--setopt=install_weak_deps=False", "install", *specs]


def spec(name: str, arch: str, version: str) -> str:
    """``name-[epoch:]version-release.arch``: the exact NEVRA dnf is asked for (``arch``
    is the architecture in the repository)."""
    return "{}-{}.{}".format(name, version, arch)


def providers_argv(root: str, dbpath: str, capabilities: Sequence[str]) -> List[str]:
    """``rpm -q --whatprovides``: ``NAME<TAB>INSTALLTIME`` of each provider."""
    return [
        "rpm",
        "--root",
        root,
        "--dbpath",
        dbpath,
        "-q",
        "--qf",
        "%{NAME}\\t%{INSTALLTIME}\\n",
        "--whatprovides",
        *capabilities,
    ]


def error_line(text: str, what: str) -> str:
    """dnf's error message (its ``Error:`` line and the problem lines after it) on one
    line, else its last line; empty when ``text`` says nothing."""
    lines = [ln.strip() for ln in text.splitlines()]
    start = next((i for i, ln in enumerate(lines) if ln.startswith("Error:")), None)
    if start is not None:
        message = " ".join(ln for ln in lines[start:] if ln)
        return "{}: {}".format(what, message[:600])
    last = [ln for ln in lines if ln]
    return "{}: {}".format(what, last[-1][:600]) if last else ""


def environment(home: str = "") -> Dict[str, str]:
    """:data:`ENV`, with ``HOME`` when a private one (holding ``.rpmmacros``) is given."""
    env = dict(ENV)
    if home:
        env["HOME"] = home
    return env
