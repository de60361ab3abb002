"""Running a program on the node: argv lists only, never a shell, with a timeout."""

import os
import subprocess
from typing import Dict, List, Optional, Tuple

from patchwarden.node.state import NodeProblem


def run_command(
    argv: List[str], extra_env: Dict[str, str], timeout: Optional[float] = None
) -> Tuple[int, str, str]:
    """Run a program (never a shell); :class:`NodeProblem` when it cannot be started.
    A run past ``timeout`` is killed (exit code -9)."""
    env = dict(os.environ)
    env.update(extra_env)
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            universal_newlines=True,
        )
    except OSError as exc:
        raise NodeProblem("cannot run {}: {}".format(argv[0], exc.strerror or exc)) from None
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err = (err or "") + "\nE: timed out after {:.0f} s".format(timeout or 0)
        return -9, out or "", err
    return proc.returncode, out or "", err or ""


def run_quiet(argv: List[str]) -> Tuple[int, str]:
    """(exit code, stdout) of a program; exit 127 when it cannot be run."""
    try:
        code, out, _ = run_command(argv, {}, 60)
    except NodeProblem:
        return 127, ""
    return code, out
