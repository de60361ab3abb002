"""``AWS-UpdateSSMAgent``: upgrade (or, with ``allowDowngrade``, roll back) the node
component to a bundle the server serves.

install.sh lays out ``PREFIX/opt/patchwarden-node/bundles/patchwarden-node-<v>.pyz`` and the
symlink ``current.pyz`` to it, and runs ``python3 …/current.pyz run``.  An upgrade downloads
the new bundle next to the old one (which stays: a rollback is the same command with the
older version), checks its hash and that it runs, repoints the symlink atomically, and —
once the result is reported — re-executes the process from the symlink.
"""

import hashlib
import os
import re
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

from patchwarden import __version__, wire
from patchwarden.node.client import Api
from patchwarden.node.execute import ENVIRONMENT_EXIT, REFUSED_EXIT, Outcome, Runner, failed
from patchwarden.node.state import NodeProblem

CURRENT = "current.pyz"
BUNDLES = "bundles"

Exec = Callable[[str, List[str]], None]


def version_key(version: str) -> Tuple[Tuple[int, int, str], ...]:
    """Dotted components compared numerically, non-numeric parts as strings (a numeric
    part sorts after a text one: ``1.0.rc1`` < ``1.0.0``; more parts: newer)."""
    key = []
    for part in re.split(r"[.\-+]", version.strip()):
        if part.isdigit():
            key.append((1, int(part), ""))
        else:
            key.append((0, 0, part))
    return tuple(key)


def bundle_name(version: str) -> str:
    """``patchwarden-node-<version>.pyz``."""
    return "patchwarden-node-{}.pyz".format(version)


def _flag(value: Any) -> bool:
    if isinstance(value, list) and value:
        value = value[0]
    return str(value).strip().lower() in ("true", "yes", "1")


def _text(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return "" if value is None else str(value).strip()


class Updater:
    """Replaces the running bundle (``argv[0]``, the ``current.pyz`` symlink)."""

    def __init__(
        self,
        api: Api,
        runner: Runner,
        argv: Optional[List[str]] = None,
        executable: str = "",
        execv: Exec = os.execv,
        current_version: str = __version__,
    ) -> None:
        self.api = api
        self.runner = runner
        self.argv = list(sys.argv if argv is None else argv)
        self.executable = executable or sys.executable
        self.execv = execv
        self.current_version = current_version

    def __call__(self, delivery: wire.Delivery) -> Outcome:
        params = delivery.parameters
        wanted = _text(params.get("version"))
        downgrade = _flag(params.get("allowDowngrade", "false"))
        current = os.path.abspath(self.argv[0]) if self.argv and self.argv[0] else ""
        if os.path.basename(current) != CURRENT or not os.path.islink(current):
            return failed(
                "this node was not installed by install.sh: {} is not its {} symlink".format(
                    current or "the program", CURRENT
                ),
                ENVIRONMENT_EXIT,
            )
        bundles = self.api.bundles()
        if not wanted:
            if not bundles:
                return failed("the server serves no node bundle", ENVIRONMENT_EXIT)
            wanted = max((b["version"] for b in bundles), key=version_key)
        old = self.current_version
        if version_key(wanted) == version_key(old):
            return Outcome(wire.InvocationResult("Success", 0, "already at {}".format(old)))
        if version_key(wanted) < version_key(old) and not downgrade:
            return failed(
                "version {} is older than the running {}: set allowDowngrade to true to roll "
                "back".format(wanted, old),
                REFUSED_EXIT,
            )
        listed = [b for b in bundles if b["version"] == wanted]
        if not listed:
            return failed(
                "the server has no node bundle {} (it has: {})".format(
                    wanted, ", ".join(b["version"] for b in bundles) or "none"
                ),
                REFUSED_EXIT,
            )
        directory = os.path.join(os.path.dirname(current), BUNDLES)
        new = self.download(listed[0], directory)
        self.check_runs(new, wanted)
        self.repoint(current, os.path.join(BUNDLES, os.path.basename(new)))
        result = wire.InvocationResult("Success", 0, "updated {} -> {}".format(old, wanted))
        argv = [self.executable, current, *self.argv[1:]]
        return Outcome(result, lambda: self.execv(self.executable, argv))

    def download(self, bundle: Dict[str, Any], directory: str) -> str:
        """The bundle in ``directory`` (downloaded, fsynced, checked, renamed into place)."""
        version = str(bundle["version"])
        if "/" in version or version.startswith("."):
            raise NodeProblem("the server lists a bad bundle version {!r}".format(version), 2)
        os.makedirs(directory, exist_ok=True)
        target = os.path.join(directory, bundle_name(version))
        tmp = target + ".part"
        try:
            with open(tmp, "wb") as fh:
                self.api.download("/agent/bundle/{}.pyz".format(version), fh)
                fh.flush()
                os.fsync(fh.fileno())
            digest = hashlib.sha256()
            with open(tmp, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
            if digest.hexdigest() != bundle["sha256"]:
                raise NodeProblem(
                    "the downloaded bundle {} does not have the SHA-256 the server lists "
                    "({} != {})".format(version, digest.hexdigest(), bundle["sha256"]),
                    ENVIRONMENT_EXIT,
                )
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return target

    def check_runs(self, bundle: str, version: str) -> None:
        """The new bundle runs on this Python and says it is ``version``."""
        code, out, err = self.runner([self.executable, bundle, "version"], {}, 120.0)
        words = out.split()
        if code != 0 or words[-1:] != [version]:
            detail = (err or out).strip().splitlines()[-1:] or ["exit {}".format(code)]
            raise NodeProblem(
                "the new bundle {} does not run on {}: {}".format(
                    os.path.basename(bundle), self.executable, detail[0]
                ),
                ENVIRONMENT_EXIT,
            )

    def repoint(self, current: str, target: str) -> None:
        """Point the ``current.pyz`` symlink at ``target`` atomically."""
        staged = current + ".new"
        if os.path.lexists(staged):
            os.unlink(staged)
        os.symlink(target, staged)
        os.replace(staged, current)
