"""apk's command lines and the files of an Alpine root, shared by the server and the node.

Written for Python 3.6 and the standard library only (like :mod:`patchwarden.aptcmd` and
:mod:`patchwarden.dnfcmd`): the node component on Alpine's own Python runs exactly the apk
commands the apk adapter runs (``apk --root R --no-progress …``), built here once.
Commands are argv lists, never shell strings.

apk confines itself with ``--root``: its database, configuration, cache and keys are all
read inside that directory, so no other option is needed for a root other than ``/``.
"""

import os
from typing import Dict, List, Optional, Sequence

ENV = {"LC_ALL": "C"}
"""The environment of every apk run (untranslated messages)."""

INSTALLED_DBS = ("lib/apk/db/installed", "usr/lib/apk/db/installed")
"""Where apk keeps the installed database (``usr/lib`` on apk 3 / merged-usr roots)."""

REPOSITORIES = "etc/apk/repositories"
REPOSITORIES_D = "etc/apk/repositories.d"
ARCH_FILE = "etc/apk/arch"
CACHE_DIRS = ("etc/apk/cache", "var/cache/apk")
"""apk's index cache: ``etc/apk/cache`` when it exists (usually a link to
``/var/cache/apk``), else ``var/cache/apk``."""


def find_installed_db(root: str) -> Optional[str]:
    """The relative path of the root's installed database (``None``: not an apk root)."""
    for rel in INSTALLED_DBS:
        if os.path.isfile(os.path.join(root, rel)):
            return rel
    return None


def prefix(root: str) -> List[str]:
    """``apk`` confined to ``root``, without its progress bar."""
    return ["apk", "--root", root.rstrip("/") or "/", "--no-progress"]


def update_argv(root: str) -> List[str]:
    """Download every configured repository's index (``apk update``)."""
    return [*prefix(root), "update"]


def install_argv(root: str, specs: Sequence[str]) -> List[str]:
    """Install exactly these versions (``apk add name=version …``).  apk records the pin
    in ``etc/apk/world``, as the apk adapter's install does."""
    return [*prefix(root), "add", *specs]


def spec(name: str, version: str) -> str:
    """``name=version``: the exact version apk is asked for."""
    return "{}={}".format(name, version)


def error_line(text: str, what: str) -> str:
    """apk's error on one line (its first ``ERROR:`` line and the indented lines after it),
    else its last line; empty when ``text`` says nothing."""
    lines = [ln.rstrip() for ln in text.splitlines()]
    for i, line in enumerate(lines):
        if line.strip().startswith("ERROR:"):
            more = []
            for follow in lines[i + 1 :]:
                if not follow.startswith((" ", "\t")):
                    break
                more.append(follow.strip())
            message = " ".join([line.strip(), *more])
            return "{}: {}".format(what, message[:600])
    last = [ln.strip() for ln in lines if ln.strip()]
    return "{}: {}".format(what, last[-1][:600]) if last else ""


def environment() -> Dict[str, str]:
    """:data:`ENV` (a copy)."""
    return dict(ENV)
