"""``patchwarden server`` and ``patchwarden agent run`` as child processes.

Each child runs in its own session (process group), so a Ctrl-C in the terminal reaches the
demo alone, which then stops the agents and the server in order.  Their output goes to log
files; the server's first-start admin token (printed once on its stdout) is read from the
pipe and never written to a log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import httpx

from patchwarden.errors import EnvironmentProblem

STOP_SECONDS = 10.0
"""How long a child gets to exit after SIGTERM before it is killed."""
POLL_WAIT = 2
"""The agents' long-poll, in seconds (the server's graceful stop waits for the polls in
flight; an idle poll every two seconds costs four nodes nothing)."""


def patchwarden_argv(*args: str) -> list[str]:
    """``patchwarden ARGS…`` on this interpreter (the installed package, whatever its
    console-script directory)."""
    return [sys.executable, "-m", "patchwarden", *args]


def port_free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be listened on (as uvicorn binds: SO_REUSEADDR)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port the kernel says is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path) -> str:
    """The last non-empty line of a log file (for one-line errors)."""
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


class Child:
    """A child process in its own process group, logging to ``log``."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.log = log
        self._log_file = log.open("w")
        self._terminated = False
        self.proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._stdout(),
            stderr=self._log_file,
            start_new_session=True,
        )

    def _stdout(self) -> int | IO[str]:
        return self._log_file

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.proc.poll() is None

    def last_line(self) -> str:
        """The last line of its log (for one-line errors)."""
        return _tail(self.log)

    def terminate(self) -> None:
        """SIGTERM the process group, once (see :meth:`stop`)."""
        if not self._terminated:
            self._terminated = True
            self._signal(signal.SIGTERM)

    def stop(self) -> None:
        """SIGTERM the process group (unless :meth:`terminate` did); SIGKILL it when it has
        not exited in time."""
        self.terminate()
        try:
            self.proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.proc.wait()
        self._log_file.close()

    def _signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signum)


class ServerProcess(Child):
    """``patchwarden server`` on 127.0.0.1:``port`` with its data under ``home``."""

    def __init__(self, home: Path, port: int, log: Path, intervals: Mapping[str, str]) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.admin_token = ""
        self._token_seen = threading.Event()
        env = {**os.environ, "PATCHWARDEN_HOME": str(home), **intervals}
        env.pop("PATCHWARDEN_DATABASE_URL", None)  # the demo's own SQLite, never the user's
        argv = patchwarden_argv(
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--vulndb-path",
            str(home / "vulndb.sqlite"),
            "--log-level",
            "warning",
        )
        super().__init__(argv, env, log)
        assert self.proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()

    def _stdout(self) -> int | IO[str]:
        return subprocess.PIPE

    def _read(self, stdout: IO[bytes]) -> None:
        """Keep the token line in memory, everything else in the log (and never let the
        pipe fill up)."""
        for raw in stdout:
            line = raw.decode(errors="replace")
            if line.startswith("initial admin token"):
                self.admin_token = line.rsplit(" ", 1)[1].strip()
                self._token_seen.set()
                continue
            with contextlib.suppress(ValueError):  # the log closed: the server stops
                self._log_file.write(line)
                self._log_file.flush()

    def wait_ready(self, patience: float) -> str:
        """Wait for ``/healthz``; returns the initial admin token."""
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            if not self.alive():
                why = _tail(self.log) or f"exit status {self.proc.returncode}"
                raise EnvironmentProblem(f"the demo server did not start: {why}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise EnvironmentProblem(f"the demo server did not answer within {patience:.0f} s")
        if not self._token_seen.wait(5) or not self.admin_token:
            raise EnvironmentProblem(
                "the demo server printed no initial admin token (its database is not new)"
            )
        return self.admin_token


class AgentProcess(Child):
    """``patchwarden agent run`` of one registered state directory."""

    def __init__(self, state_dir: Path, log: Path) -> None:
        env = {**os.environ, "PATCHWARDEN_HOME": str(state_dir / "home")}
        # short long-polls: the server's graceful stop waits for the polls in flight
        argv = patchwarden_argv(
            "agent", "run", "--state-dir", str(state_dir), "--poll-wait", str(POLL_WAIT)
        )
        super().__init__(argv, env, log)


def register_agent(
    server: str,
    activation: Mapping[str, str],
    state_dir: Path,
    root: Path,
    name: str,
    tags: Mapping[str, str],
) -> str:
    """``patchwarden agent register`` of ``root``; returns the node id."""
    argv = patchwarden_argv(
        "agent",
        "register",
        "--server",
        server,
        "--activation-id",
        activation["activation_id"],
        "--activation-code",
        activation["activation_code"],
        "--root",
        str(root),
        "--state-dir",
        str(state_dir),
        "--name",
        name,
    )
    for key, value in tags.items():
        argv += ["--tag", f"{key}={value}"]
    env = {**os.environ, "PATCHWARDEN_HOME": str(state_dir / "home")}
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        raise EnvironmentProblem(f"registering {name} failed: {lines[-1] if lines else out}")
    # "registered as mi-… (state in …)"
    return out.stdout.split()[2]
