"""Real server and agent processes on loopback for the fleet end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

PG_BASE_URL = os.environ.get(
    "PATCHWARDEN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PATIENCE = 240.0
"""Upper bound of any wait (never asserted on: only a guard against hanging forever)."""


def exe() -> str:
    return str(Path(sys.executable).parent / "patchwarden")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def pg_schema() -> Iterator[str]:
    """A PostgreSQL URL on a fresh schema, dropped afterwards."""
    schema = f"pw_e2e_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_BASE_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def pg_schema_or_skip() -> Iterator[str]:
    """:func:`pg_schema`, skipping the test when PostgreSQL cannot be reached (never under
    ``CI``, where that is a failure); a failure of the test itself is never a skip."""
    import pytest

    schema = pg_schema()
    try:
        url = schema.__enter__()
    except Exception as exc:  # unreachable PostgreSQL
        if "CI" in os.environ:
            raise
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    try:
        yield url
    finally:
        schema.__exit__(None, None, None)


def register_over_http(
    base_url: str, activation: dict[str, Any], facts: dict[str, Any], name: str | None = None
) -> str:
    """Register a node with ``activation`` (and ``name``) through ``POST /api/v1/register``;
    its credential."""
    body = {
        "activation_id": activation["activation_id"],
        "activation_code": activation["activation_code"],
        "facts": facts,
    }
    if name is not None:
        body["name"] = name
    r = httpx.post(f"{base_url}/api/v1/register", json=body)
    assert r.status_code == 201, r.text
    credential: str = r.json()["credential"]
    return credential


def wait_for(what: str, check: Callable[[], Any], patience: float = PATIENCE) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + patience
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


class Server:
    """``patchwarden server`` as a process."""

    def __init__(self, home: Path, db_url: str) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        home.mkdir(parents=True, exist_ok=True)
        self.log = home / f"server-{self.port}.log"
        env = {**os.environ, "PATCHWARDEN_HOME": str(home)}
        self.proc = subprocess.Popen(
            [
                exe(),
                "server",
                "--port",
                str(self.port),
                "--database-url",
                db_url,
                "--log-level",
                os.environ.get("PATCHWARDEN_TEST_SERVER_LOG_LEVEL", "warning"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log.open("w"),
            text=True,
        )
        self.admin_token = ""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("initial admin token"):
                self.admin_token = line.rsplit(" ", 1)[1].strip()
            if "listening on" in line:
                break
        wait_for("server health", self._healthy, 60)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            if self.proc.poll() is not None:
                raise AssertionError(f"server died: {self.log.read_text()}") from None
            return False

    def api(self, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class AgentProcess:
    """``patchwarden agent run`` on a sandbox root (its own process group)."""

    def __init__(self, state_dir: Path, home: Path) -> None:
        self.state_dir = state_dir
        self.home = home
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def register(self, server: str, activation: dict[str, Any], root: Path, *tags: str) -> str:
        argv = [
            exe(),
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
            str(self.state_dir),
        ]
        for tag in tags:
            argv += ["--tag", tag]
        out = subprocess.run(argv, env=self._env(), capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stderr
        return out.stdout.split()[2]

    def _env(self) -> dict[str, str]:
        return {**os.environ, "PATCHWARDEN_HOME": str(self.home)}

    def start(self, *extra: str) -> None:
        self.runs += 1
        log = (self.state_dir / f"agent-{self.runs}.log").open("w")
        self.proc = subprocess.Popen(
            [
                exe(),
                "agent",
                "run",
                "--state-dir",
                str(self.state_dir),
                "--poll-wait",
                "1",
                *extra,
            ],
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the agent and everything it started (apt, dpkg): a power cut."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
