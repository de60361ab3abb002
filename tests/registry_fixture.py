"""A private ``docker-registry`` (distribution 2.8) on 127.0.0.1 for tests (plain HTTP, no
auth, its own storage directory; deletion enabled unless asked otherwise).

Import what a test module needs explicitly (``tests/`` is on ``sys.path`` through its
``conftest.py``)::

    from registry_fixture import RunningRegistry, oci_registry_fixture, run_registry  # noqa: F401

- ``oci_registry``: a fresh registry for one test, with ``storage.delete.enabled: true``;
- ``run_registry(base, delete=False)``: a context manager for a registry of one's own.

Without ``docker-registry`` installed the tests skip, except under ``CI`` (set by CI), where
``make test`` installs it (the Makefile's ``DEB_TOOLS``) and its absence is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT = 20.0
"""Seconds a registry has to answer ``GET /v2/``."""


@dataclass(frozen=True)
class RunningRegistry:
    """A registry process serving plain HTTP on loopback."""

    address: str
    """``127.0.0.1:PORT``."""
    storage: Path
    log: Path
    delete_enabled: bool

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.address}"


def require_docker_registry() -> None:
    """Skip without ``docker-registry`` (fail in CI, where ``make test`` installs it)."""
    if shutil.which("docker-registry") is not None:
        return
    reason = "docker-registry is not installed (apt-get install docker-registry, or make test)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must have it", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port of 127.0.0.1 nothing listens on (at the time of asking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def run_registry(base: Path, *, delete: bool = True) -> Iterator[RunningRegistry]:
    """Start ``docker-registry serve`` with a private config and storage under ``base``,
    wait until it answers, and stop it (terminate, then wait) afterwards."""
    require_docker_registry()
    base.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):  # another process may take the free port before the registry
        port = free_port()
        storage = base / "storage"
        config = base / "registry.yml"
        log = base / "registry.log"
        deletion = "enabled: true" if delete else "enabled: false"
        config.write_text(
            "version: 0.1\n"
            "log: {level: warn}\n"
            f"storage: {{filesystem: {{rootdirectory: '{storage}'}}, delete: {{{deletion}}}}}\n"
            f"http: {{addr: '127.0.0.1:{port}'}}\n",
            encoding="utf-8",
        )
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ["docker-registry", "serve", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        running = RunningRegistry(f"127.0.0.1:{port}", storage, log, delete)
        try:
            if _wait_ready(proc, running):
                yield running
                return
            if attempt == 2 or "address already in use" not in _tail(log):
                pytest.fail(
                    f"docker-registry (pid {proc.pid}) exited with {proc.returncode} before "
                    f"answering GET {running.url}/v2/: {_tail(log) or 'no output'}",
                    pytrace=False,
                )
        finally:
            _stop(proc)


def _wait_ready(proc: subprocess.Popen[bytes], running: RunningRegistry) -> bool:
    """Whether the registry answers ``GET /v2/`` (any HTTP status); ``False`` when it
    exited; a test failure when it is still silent after :data:`START_TIMEOUT` s."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(f"{running.url}/v2/", timeout=1):
                return True
        except urllib.error.HTTPError:
            return True  # it answered (a 401 would do as well)
        except OSError:
            pass
        if proc.poll() is not None:
            return False
        if time.monotonic() > deadline:
            pytest.fail(
                f"docker-registry did not answer GET {running.url}/v2/ within "
                f"{START_TIMEOUT:.0f} s: {_tail(running.log) or 'no output'}",
                pytrace=False,
            )
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _tail(log: Path, lines: int = 3) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())


@pytest.fixture(name="oci_registry")
def oci_registry_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """A fresh registry on 127.0.0.1 for one test (deletion enabled)."""
    with run_registry(tmp_path_factory.mktemp("registry")) as registry:
        yield registry
