"""Several ``patchwarden server`` replicas on one database behind a private nginx.

:class:`Cluster` (a context manager) applies the migrations once, starts ``replicas``
processes of the real CLI (``patchwarden server --host 127.0.0.1 --port P
--database-url URL``, each in its own process group with its own ``PATCHWARDEN_HOME``
under a temporary home) and, with ``nginx=True``, one nginx of the Debian package
(``nginx -p PREFIX -c CONF -e ERRORLOG``, ``daemon off`` in a subprocess: its pid is the
master's, its config, logs and temporary directories live in the prefix) listening on
127.0.0.1 in front of them — the config is :func:`nginx_config`, the shape of
``deploy/nginx/patchwarden.conf`` without TLS.  ``minimal=True`` serves
``bench/fleet_load.py``'s minimal FastAPI app under uvicorn on the same ports instead (the
reference).  Leaving the context stops nginx and every replica and removes the temporary
directories.

Used by ``bench/replicas.py`` and ``bench/chaos.py``; not a test.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TICKS = os.sysconf("SC_CLK_TCK")
START_TIMEOUT = 60.0
"""Seconds a replica or nginx gets to answer after it was started."""
STOP_TIMEOUT = 10.0
"""Seconds a replica or nginx gets to exit after SIGTERM / SIGQUIT (then SIGKILL)."""
LONG_POLL_READ_TIMEOUT = 75
"""nginx's ``proxy_read_timeout``: above the server's longest long-poll (20 s)."""
REPORT_LOCATION = r"~ ^/api/v1/agent/invocations/[^/]+$"
"""The agent's report (``POST``): idempotent in Patchwarden, so nginx may retry it."""
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def exe() -> str:
    """The ``patchwarden`` console script of this virtualenv."""
    return str(Path(sys.executable).parent / "patchwarden")


def http_status(port: int, path: str, timeout: float = 2.0) -> int:
    """Status of ``GET path`` on 127.0.0.1:``port``; 0 when it does not answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        conn.close()


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


def _terminate(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """``sig`` to ``proc``'s process group, SIGKILL after STOP_TIMEOUT; waits."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(STOP_TIMEOUT)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
    proc.wait()


class Replica:
    """One ``patchwarden server`` process (its own process group), or the minimal app."""

    port: int
    url: str
    proc: subprocess.Popen[bytes]
    replica_id: str
    log: Path

    def __init__(
        self,
        db_url: str,
        port: int,
        home: Path,
        env: dict[str, str] | None = None,
        *,
        minimal: bool = False,
        log_level: str = "warning",
        wait: bool = True,
    ) -> None:
        self.db_url = db_url
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.home = home
        self.minimal = minimal
        self.log_level = log_level
        self.log = home / f"server-{port}.log"
        self.health_path = "/ping" if minimal else "/healthz"
        self.env = {**os.environ, **(env or {}), "PATCHWARDEN_HOME": str(home)}
        home.mkdir(parents=True, exist_ok=True)
        self._start(wait)

    def _argv(self) -> list[str]:
        if self.minimal:
            code = f"import fleet_load; fleet_load.serve('minimal', '', {self.port})"
            return [sys.executable, "-c", code]
        return [
            exe(), "server", "--host", "127.0.0.1", "--port", str(self.port),
            "--database-url", self.db_url, "--log-level", self.log_level,
        ]  # fmt: skip

    def _start(self, wait: bool = True) -> None:
        env = dict(self.env)
        if self.minimal:
            env["PYTHONPATH"] = str(BENCH) + os.pathsep + env.get("PYTHONPATH", "")
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self._argv(),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill9 takes it all
            )
        # ServerSettings' default replica id: hostname:pid of the serving process (the
        # console script execs Python, so it is this pid)
        self.replica_id = f"{socket.gethostname()}:{self.proc.pid}"
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until ``/healthz`` (``/ping`` for the minimal app) answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if http_status(self.port, self.health_path) == 200:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"replica on port {self.port} exited with {self.proc.returncode}: {self.tail()}"
                )
            time.sleep(0.1)
        raise RuntimeError(f"replica on port {self.port} did not answer: {self.tail()}")

    def tail(self, lines: int = 5) -> str:
        """The last lines of the replica's log."""
        with contextlib.suppress(OSError):
            return " | ".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def kill9(self) -> None:
        """SIGKILL (the whole process group), then wait."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def restart(self) -> None:
        """Start again on the same port (stopping it first when it runs); returns once
        ``/healthz`` answers.  ``replica_id`` is the new process's."""
        if self.alive():
            self.stop()
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:  # the old socket may linger a moment
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", self.port))
                    break
                except OSError:
                    time.sleep(0.1)
        self._start()

    def stop(self) -> None:
        """SIGTERM (graceful: uvicorn finishes what it serves), SIGKILL after 10 s."""
        _terminate(self.proc)

    def alive(self) -> bool:
        """Whether the process runs."""
        return self.proc.poll() is None

    def cpu(self) -> float:
        """CPU seconds the current process has used (0 when it is not running)."""
        return proc_cpu(self.proc.pid) if self.alive() else 0.0


def nginx_config(
    prefix: Path, port: int, upstreams: list[int], *, root: bool = False, balance: str = "rr"
) -> str:
    """The private nginx's whole config: 127.0.0.1:``port`` in front of ``upstreams``;
    ``balance`` ``rr`` is round robin, ``hash`` sends each credential (``Authorization``)
    to one replica (consistent hashing: a replica leaving moves only its own nodes)."""
    if balance not in ("rr", "hash"):
        raise ValueError(f"balance: rr or hash, got {balance!r}")
    method = "        hash $http_authorization consistent;\n" if balance == "hash" else ""
    temps = "".join(f"    {name}_temp_path {prefix / 'temp' / name};\n" for name in TEMP_PATHS)
    servers = "".join(
        f"        server 127.0.0.1:{p} max_fails=2 fail_timeout=5s;\n" for p in upstreams
    )
    proxy = (
        "            proxy_pass http://patchwarden;\n"
        "            proxy_http_version 1.1;\n"
        '            proxy_set_header Connection "";\n'
        "            proxy_set_header Host $host;\n"
        "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "            proxy_set_header X-Forwarded-Proto $scheme;\n"
        "            proxy_connect_timeout 2s;\n"
        f"            proxy_read_timeout {LONG_POLL_READ_TIMEOUT}s;\n"
        f"            proxy_send_timeout {LONG_POLL_READ_TIMEOUT}s;\n"
        "            proxy_next_upstream_tries 3;\n"
        "            proxy_next_upstream_timeout 15s;\n"
    )
    user = "user root;\n" if root else ""  # as root, workers would run as nobody
    return (
        "# written by bench/cluster.py (the shape of deploy/nginx/patchwarden.conf, no TLS)\n"
        f"daemon off;\n{user}"
        "worker_processes auto;\n"
        "worker_rlimit_nofile 40000;\n"
        f"pid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\n"
        "events {\n    worker_connections 16384;\n}\n"
        "http {\n"
        "    access_log off;\n"
        f"{temps}"
        "    client_max_body_size 256m;\n"
        "    keepalive_timeout 75s;\n"
        "    keepalive_requests 100000;\n"
        "    upstream patchwarden {\n"
        f"{method}{servers}"
        "        keepalive 256;\n"
        "        keepalive_requests 100000;\n"
        "        keepalive_timeout 4s;  # below uvicorn's 5 s: nginx closes idle ones first\n"
        "    }\n"
        "    server {\n"
        f"        listen 127.0.0.1:{port} backlog=16384;\n"
        "        location / {\n"
        f"{proxy}"
        "            proxy_next_upstream error timeout http_502;\n"
        "        }\n"
        f"        location {REPORT_LOCATION} {{\n"
        f"{proxy}"
        "            proxy_next_upstream error timeout http_502 non_idempotent;\n"
        "        }\n"
        "    }\n"
        "}\n"
    )


class Nginx:
    """A private nginx (``daemon off``) in its own process group."""

    def __init__(self, prefix: Path, port: int, upstreams: list[int], balance: str = "rr") -> None:
        if shutil.which("nginx") is None:
            raise RuntimeError("nginx not found: apt-get install nginx-light (or nginx)")
        self.prefix = prefix
        self.port = port
        for name in TEMP_PATHS:
            (prefix / "temp" / name).mkdir(parents=True, exist_ok=True)
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(
            nginx_config(prefix, port, upstreams, root=os.geteuid() == 0, balance=balance)
        )
        argv = ["nginx", "-p", str(prefix), "-c", str(self.conf), "-e", str(prefix / "error.log")]
        test = subprocess.run([*argv, "-q", "-t"], capture_output=True, text=True, check=False)
        if test.returncode != 0:
            raise RuntimeError(f"nginx -t: {test.stderr.strip()}")
        self.log = prefix / "error.log"
        with (prefix / "stderr.log").open("ab") as err:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err, start_new_session=True
            )

    def cpu(self) -> float:
        """CPU seconds of the master and its workers so far."""
        return proc_cpu(self.proc.pid) + sum(proc_cpu(p) for p in children(self.proc.pid))

    def stop(self) -> None:
        """SIGQUIT (graceful), SIGKILL to the group after 10 s."""
        _terminate(self.proc, signal.SIGQUIT)


class Cluster:
    """``replicas`` servers on ``db_url`` behind a private nginx (see the module)."""

    url: str
    replicas: list[Replica]
    nginx_port: int | None

    def __init__(
        self,
        db_url: str,
        replicas: int = 3,
        *,
        nginx: bool = True,
        env: dict[str, str] | None = None,
        home: Path | None = None,
        minimal: bool = False,
        migrate: bool = True,
        log_level: str = "warning",
        balance: str = "rr",
    ) -> None:
        self.db_url = db_url
        self.count = replicas
        self.with_nginx = nginx
        self.env = dict(env or {})
        self.minimal = minimal
        self.migrate = migrate
        self.log_level = log_level
        self.balance = balance
        self._own_home = home is None
        self.home = Path(home) if home is not None else Path(tempfile.mkdtemp(prefix="pw-cluster-"))
        self.replicas = []
        self.nginx: Nginx | None = None
        self.nginx_port = None
        self.url = ""

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Migrate once, start the replicas (together), wait for each, then nginx."""
        if self.migrate and not self.minimal:
            from patchwarden.adapters.storage import make_engine, upgrade

            engine = make_engine(self.db_url)
            try:
                upgrade(engine)
            finally:
                engine.dispose()
        for i in range(self.count):
            self.replicas.append(
                Replica(
                    self.db_url,
                    free_port(),
                    self.home / f"replica-{i}",
                    self.env,
                    minimal=self.minimal,
                    log_level=self.log_level,
                    wait=False,
                )
            )
        for replica in self.replicas:
            replica.wait_ready()
        if not self.with_nginx:
            self.url = self.replicas[0].url
            return
        self.nginx_port = free_port()
        prefix = self.home / "nginx"
        prefix.mkdir(parents=True, exist_ok=True)
        self.nginx = Nginx(prefix, self.nginx_port, [r.port for r in self.replicas], self.balance)
        self.url = f"http://127.0.0.1:{self.nginx_port}"
        self._wait_nginx()

    def _wait_nginx(self) -> None:
        assert self.nginx is not None and self.nginx_port is not None
        path = self.replicas[0].health_path
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            # round robin: as many answers in a row as replicas, each proxied
            if all(http_status(self.nginx_port, path) == 200 for _ in self.replicas):
                return
            if self.nginx.proc.poll() is not None:
                err = self.nginx.log.read_text(errors="replace") if self.nginx.log.exists() else ""
                raise RuntimeError(f"nginx exited with {self.nginx.proc.returncode}: {err[-500:]}")
            time.sleep(0.1)
        raise RuntimeError("nginx did not proxy to the replicas")

    @property
    def port(self) -> int:
        """The port clients use (nginx's, else the first replica's)."""
        return self.nginx_port if self.nginx_port is not None else self.replicas[0].port

    def cpu(self) -> float:
        """CPU seconds of every replica's current process, summed."""
        return sum(r.cpu() for r in self.replicas)

    def nginx_cpu(self) -> float:
        """CPU seconds of nginx (master and workers); 0 without nginx."""
        return self.nginx.cpu() if self.nginx is not None else 0.0

    def close(self) -> None:
        """Stop nginx and every replica; remove the temporary home (when it made it)."""
        if self.nginx is not None:
            self.nginx.stop()
            self.nginx = None
        for replica in self.replicas:
            replica.stop()
        if self._own_home:
            shutil.rmtree(self.home, ignore_errors=True)
