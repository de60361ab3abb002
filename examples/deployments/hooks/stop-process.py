#!/usr/bin/env python3
"""Patchwarden stop hook for start-process.py: stop the instance's server, remove its files.

Reads the pid recorded in HOOK_STATE_DIR/PATCHWARDEN_INSTANCE/pid, sends TERM (KILL after
5 s) and removes that directory.  An instance that is already gone is not an error.
Standard library only.
"""

import os
import shutil
import signal
import sys
import time
from pathlib import Path


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie nobody reaped yet has stopped serving
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def ours(pid: int) -> bool:
    """The pid still names the server we started (not a recycled pid)."""
    try:
        return b"http.server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def main() -> None:
    instance = os.environ.get("PATCHWARDEN_INSTANCE", "")
    if not instance or "/" in instance or instance in (".", ".."):
        print("stop-process: PATCHWARDEN_INSTANCE is not set or bad", file=sys.stderr)
        sys.exit(1)
    directory = Path(os.environ.get("HOOK_STATE_DIR") or "/var/tmp/patchwarden-hooks") / instance
    try:
        pid = int((directory / "pid").read_text().strip())
    except (OSError, ValueError):
        pid = 0
    if pid and alive(pid) and ours(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
        print(f"stopped {instance} (pid {pid})")
    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
