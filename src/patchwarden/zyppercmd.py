"""zypper's command lines and root confinement, shared by the zypper adapter and the node.

Written for Python 3.6 and the standard library only (like :mod:`patchwarden.dnfcmd`): the
node component on a SUSE host's own Python runs exactly the zypper commands the zypper
adapter (:mod:`patchwarden.adapters.os.zypper.execute`) runs, built here once.  Commands are
argv lists, never shell strings.

For a root other than ``/`` zypper gets ``--root`` (its repositories, caches, lock and
history then live inside the root) and an environment that keeps the rest there too
(:func:`environment`): ``ZYPP_CONF`` (the root's ``etc/zypp/zypp.conf`` or an empty one),
``ZYPP_LOGFILE`` (the root's ``var/log/zypper.log``) and a private ``HOME`` whose
``.rpmmacros`` names the root's rpm database.
"""

import os
import re
from typing import Dict, List, Sequence
from xml.etree import ElementTree

ENV = {"LC_ALL": "C.UTF-8"}
"""The environment of every zypper run (as dnf's)."""

CONFIG = "etc/zypp/zypp.conf"
"""libzypp's configuration file, relative to the root."""
CACHE_DIR = "var/cache/zypp"
"""zypper's caches (``raw`` metadata, ``solv`` files, ``packages``), relative to the root."""
RAW_CACHE = CACHE_DIR + "/raw"
SOLV_CACHE = CACHE_DIR + "/solv"
REPO_DIR = "etc/zypp/repos.d"
"""zypper's repository definitions, relative to the root."""
LOCKS = "etc/zypp/locks"
"""zypper's package locks (``zypper addlock``), relative to the root."""
LOG_FILE = "var/log/zypper.log"

EXIT_REBOOT_NEEDED = 102
"""``ZYPPER_EXIT_INF_REBOOT_NEEDED``: done, and a reboot is needed."""
EXIT_RESTART_NEEDED = 103
"""``ZYPPER_EXIT_INF_RESTART_NEEDED``: zypper itself was updated and asks for a rerun."""
EXIT_CAP_NOT_FOUND = 104
"""``ZYPPER_EXIT_INF_CAP_NOT_FOUND``: a search found nothing."""
EXIT_REPOS_SKIPPED = 106
"""``ZYPPER_EXIT_INF_REPOS_SKIPPED``: some repository could not be refreshed."""
OK_CODES = frozenset({0, EXIT_REBOOT_NEEDED, EXIT_RESTART_NEEDED})
REFRESH_OK_CODES = frozenset({0, EXIT_REPOS_SKIPPED})


def prefix(root: str) -> List[str]:
    """``zypper`` (``--root`` for a root other than ``/``), non-interactive."""
    r = root.rstrip("/") or "/"
    if r == "/":
        return ["zypper", "--non-interactive"]
    return ["zypper", "--root", r, "--non-interactive"]


def environment(root: str, home: str = "", config: str = "") -> Dict[str, str]:
    """:data:`ENV`; for a root other than ``/`` also ``HOME`` (the private one holding
    ``.rpmmacros``), ``ZYPP_CONF`` (``config``) and ``ZYPP_LOGFILE`` (inside the root)."""
    env = dict(ENV)
    r = root.rstrip("/") or "/"
    if r != "/":
        env["HOME"] = home
        env["ZYPP_CONF"] = config
        env["ZYPP_LOGFILE"] = os.path.join(r, LOG_FILE)
    return env


def refresh_args() -> List[str]:
    """Fetch every enabled repository's metadata (after the :func:`prefix`)."""
    return ["--xmlout", "refresh"]


def install_args(specs: Sequence[str], dry_run: bool = False) -> List[str]:
    """Install exactly these ``name.arch=edition`` specs (after the :func:`prefix`): older
    versions allowed, no recommended packages, the cached metadata only."""
    args = ["--xmlout", "--no-refresh", "install", "--oldpackage", "--no-recommends"]
    if dry_run:
        args.append("--dry-run")
    return args + list(specs)


def spec(name: str, arch: str, version: str) -> str:
    """``name.arch=edition``: the exact version zypper is asked for."""
    return "{}.{}={}".format(name, arch, version)


_STREAM = re.compile(r"<stream\b")


def error_line(stdout: str, stderr: str, returncode: int, what: str) -> str:
    """zypper's error message on one line: its ``--xmlout`` error messages, else the last
    line that is not xml, else the exit status."""
    errors = []  # type: List[str]
    found = _STREAM.search(stdout)
    if found:
        try:
            doc = ElementTree.fromstring(stdout[found.start() :])
        except ElementTree.ParseError:
            doc = None
        if doc is not None:
            for elem in doc.iter("message"):
                if elem.get("type") == "error" and elem.text:
                    errors.append(" ".join(elem.text.split()))
    if errors:
        return "{}: {}".format(what, " ".join(errors)[:600])
    lines = [ln.strip() for ln in (stderr or stdout).splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("<")]
    tail = lines[-1][:600] if lines else "exit status {}".format(returncode)
    return "{}: {}".format(what, tail)
