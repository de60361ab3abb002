#!/usr/bin/env python3
"""Patchwarden start hook: serve an image's /srv/www with a local Python web server.

One instance = one detached ``python3 -m http.server PORT --bind 127.0.0.1 --directory
ROOTFS/srv/www`` where ROOTFS is the image unpacked by ``umoci unpack`` (of
PATCHWARDEN_IMAGE_LAYOUT:PATCHWARDEN_IMAGE_TAG).  PORT is HOOK_BASE_PORT (default 18500)
+ PATCHWARDEN_SLOT.  Everything of an instance lives in HOOK_STATE_DIR/INSTANCE (default
HOOK_STATE_DIR: /var/tmp/patchwarden-hooks): the unpacked bundle, the server's pid and
its log.  Prints ``127.0.0.1:PORT`` (the contract's last line) once the server accepts
connections.  Standard library only; needs umoci (``--rootless`` when not root).

    patchwarden deploy … --start examples/deployments/hooks/start-process.py \
                         --stop examples/deployments/hooks/stop-process.py
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def fail(message: str) -> None:
    print(f"start-process: {message}", file=sys.stderr)
    sys.exit(1)


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        fail(f"{name} is not set (run me as a Patchwarden start hook)")
    return str(value)


def stop_old(directory: Path) -> None:
    """An instance of the same name left behind: stop its server, remove its files."""
    try:
        pid = int((directory / "pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError):
        pass
    shutil.rmtree(directory, ignore_errors=True)


def wait_listening(port: int, proc: "subprocess.Popen[bytes]", seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def main() -> None:
    instance = env("PATCHWARDEN_INSTANCE")
    if "/" in instance or instance in (".", ".."):
        fail(f"bad instance name {instance!r}")
    slot = int(env("PATCHWARDEN_SLOT"))
    layout, tag = env("PATCHWARDEN_IMAGE_LAYOUT"), env("PATCHWARDEN_IMAGE_TAG")
    port = int(env("HOOK_BASE_PORT", "18500")) + slot
    directory = Path(env("HOOK_STATE_DIR", "/var/tmp/patchwarden-hooks")) / instance
    stop_old(directory)
    directory.mkdir(parents=True)
    bundle = directory / "bundle"
    unpack = ["umoci", "unpack"] + (["--rootless"] if os.geteuid() != 0 else [])
    done = subprocess.run(
        [*unpack, "--image", f"{layout}:{tag}", str(bundle)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no output"]
        fail(f"umoci unpack {layout}:{tag} failed: {lines[-1]}")
    www = bundle / "rootfs" / "srv" / "www"
    if not www.is_dir():
        fail(f"the image {tag} has no /srv/www")
    with open(directory / "server.log", "ab") as log:  # the server keeps its own copy
        proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
             "--directory", str(www)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )
    (directory / "pid").write_text(f"{proc.pid}\n")
    if not wait_listening(port, proc, 10.0):
        proc.kill()
        tail = (directory / "server.log").read_text(errors="replace").strip().splitlines()
        fail(f"the server on port {port} did not come up: {tail[-1] if tail else 'no output'}")
    print(f"started {instance} (pid {proc.pid}) serving {www}")
    print(f"127.0.0.1:{port}")


if __name__ == "__main__":
    main()
