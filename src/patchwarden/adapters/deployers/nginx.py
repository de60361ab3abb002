"""A private nginx as the traffic router of a deployment (weighted upstreams).

:class:`NginxRouter` owns one nginx under ``state_dir``: its config (``nginx.conf``), pid
file, logs and temporary directories all live there, so it runs beside any system nginx
and, listening on loopback, without privileges (``nginx -c CONF -p STATE -e ERRORLOG``).

:meth:`NginxRouter.route` changes the weights in four steps:

1. the config is rendered (:func:`render_config`): one ``upstream patchwarden_backend``
   with a ``server ADDRESS weight=W max_fails=0`` per pair, a server on ``listen`` that
   proxies ``/`` to it (on to the next upstream on an error, a timeout, a 502 or 503) and
   answers ``/__patchwarden/generation`` with the config's generation number — a counter
   kept in ``state_dir/generation`` so that another process continues the count;
2. the candidate is written beside the config and checked with ``nginx -t``: a bad config
   is an :class:`AdapterError` and the running config stays as it was;
3. the candidate is renamed over the config (atomic) and nginx is started when it is not
   running, otherwise reloaded (``nginx -s reload``: old workers finish the requests they
   took, new connections go to new workers);
4. the generation URL is polled until it answers the new number, and the workers of the
   previous config are watched (``/proc``) until each is gone or has retitled itself
   ``worker process is shutting down`` (nginx closes such a worker's listening sockets
   in the same step): when ``route`` returns, new requests follow the new weights.

Every command is an argv list; failures are one-line :class:`AdapterError` /
:class:`EnvironmentProblem` messages.
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from patchwarden.adapters.runner import LocalRunner
from patchwarden.errors import AdapterError, EnvironmentProblem, InputError
from patchwarden.ports import Runner

UPSTREAM = "patchwarden_backend"
GENERATION_PATH = "/__patchwarden/generation"
APPLY_TIMEOUT = 10.0
"""Seconds ``route`` waits for nginx to serve a new config."""
STOP_TIMEOUT = 10.0
"""Seconds ``stop`` waits for nginx to exit after ``nginx -s quit``."""
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def check_weights(weights: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """``weights`` as a list; :class:`InputError` when empty, a weight is not positive or
    an address is not ``host:port``."""
    pairs = [(str(address), weight) for address, weight in weights]
    if not pairs:
        raise InputError("route: give at least one (address, weight) pair")
    for address, weight in pairs:
        host, colon, port = address.rpartition(":")
        if not colon or not host or not port.isdigit() or any(c in address for c in " ;{}"):
            raise InputError(f"route: address must be host:port, got {address!r}")
        if not isinstance(weight, int) or isinstance(weight, bool) or weight <= 0:
            raise InputError(f"route: weight of {address} must be a positive integer")
    return pairs


def render_config(
    state_dir: Path, listen: str, weights: Sequence[tuple[str, int]], generation: int
) -> str:
    """The whole nginx config for ``weights`` (already checked)."""
    temps = "".join(f"    {name}_temp_path {state_dir / 'temp' / name};\n" for name in TEMP_PATHS)
    servers = "".join(
        f"        server {address} weight={weight} max_fails=0;\n" for address, weight in weights
    )
    return (
        "# written by patchwarden (NginxRouter): every route() replaces it\n"
        "daemon on;\n"
        "worker_processes 1;\n"
        f"pid {state_dir / 'nginx.pid'};\n"
        f"error_log {state_dir / 'error.log'} warn;\n"
        "events {\n    worker_connections 1024;\n}\n"
        "http {\n"
        f"    access_log {state_dir / 'access.log'};\n"
        f"{temps}"
        f"    upstream {UPSTREAM} {{\n{servers}    }}\n"
        "    server {\n"
        f"        listen {listen};\n"
        "        location / {\n"
        f"            proxy_pass http://{UPSTREAM};\n"
        "            proxy_next_upstream error timeout http_502 http_503;\n"
        "            proxy_connect_timeout 1s;\n"
        "            proxy_set_header Host $host;\n"
        "        }\n"
        f"        location = {GENERATION_PATH} {{\n"
        "            default_type text/plain;\n"
        f'            return 200 "{generation}";\n'
        "        }\n"
        "    }\n"
        "}\n"
    )


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


class NginxRouter:
    """Routes ``listen`` to weighted instances through a private nginx (see module)."""

    def __init__(
        self,
        state_dir: Path,
        listen: str = "127.0.0.1:8080",
        *,
        nginx: str = "nginx",
        runner: Runner | None = None,
    ) -> None:
        self.state_dir = Path(state_dir).absolute()
        self.listen = listen
        self.nginx = nginx
        self.runner = runner or LocalRunner()

    @property
    def config_path(self) -> Path:
        """The config nginx runs with."""
        return self.state_dir / "nginx.conf"

    @property
    def pid_path(self) -> Path:
        """nginx's pid file."""
        return self.state_dir / "nginx.pid"

    def endpoint(self) -> str:
        """``host:port`` clients use."""
        return self.listen

    def _argv(self, *args: str, config: Path | None = None) -> list[str]:
        return [
            self.nginx, "-c", str(config or self.config_path), "-p", str(self.state_dir),
            "-e", str(self.state_dir / "error.log"), *args,
        ]  # fmt: skip

    def _check_tool(self) -> None:
        if shutil.which(self.nginx) is None:
            raise EnvironmentProblem(f"{self.nginx} not found: apt-get install nginx")

    def pid(self) -> int | None:
        """The master's pid when nginx runs, else ``None``."""
        try:
            pid = int(self.pid_path.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def running(self) -> bool:
        """Whether this router's nginx runs."""
        return self.pid() is not None

    def _next_generation(self) -> int:
        path = self.state_dir / "generation"
        try:
            current = int(path.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            current = 0
        return current + 1

    def _save_generation(self, generation: int) -> None:
        path = self.state_dir / "generation"
        temp = path.with_name("generation.tmp")
        temp.write_text(f"{generation}\n", encoding="ascii")
        temp.replace(path)

    def route(self, weights: Sequence[tuple[str, int]]) -> None:
        """Serve ``listen`` from ``weights``; returns once nginx serves the new config."""
        pairs = check_weights(weights)
        self._check_tool()
        for name in TEMP_PATHS:
            (self.state_dir / "temp" / name).mkdir(parents=True, exist_ok=True)
        generation = self._next_generation()
        candidate = self.state_dir / "nginx.conf.new"
        candidate.write_text(
            render_config(self.state_dir, self.listen, pairs, generation), encoding="utf-8"
        )
        test = self.runner.run(self._argv("-q", "-t", config=candidate), timeout=30)
        if test.returncode != 0:
            candidate.unlink(missing_ok=True)
            raise AdapterError(
                f"nginx rejected the new config (the running one is kept): {_emerg(test.stderr)}"
            )
        candidate.replace(self.config_path)
        self._save_generation(generation)
        master = self.pid()
        old_workers = workers(master) if master is not None else []
        if master is not None:
            reload = self.runner.run(self._argv("-s", "reload"), timeout=30)
            if reload.returncode != 0:
                raise AdapterError(f"nginx -s reload failed: {_emerg(reload.stderr)}")
        else:
            self._start()
        deadline = time.monotonic() + APPLY_TIMEOUT
        self._wait_for(generation, deadline)
        self._wait_retired(old_workers, deadline)

    def _start(self) -> None:
        log = self.state_dir / "nginx.out"
        with open(log, "ab") as out:
            try:
                proc = subprocess.run(
                    self._argv(), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                    timeout=30, check=False, start_new_session=True,
                )  # fmt: skip
            except FileNotFoundError:
                raise EnvironmentProblem(f"{self.nginx} not found: apt-get install nginx") from None
            except subprocess.TimeoutExpired:
                raise AdapterError(f"nginx did not start within 30 s (see {log})") from None
        if proc.returncode != 0:
            text = log.read_text(encoding="utf-8", errors="replace")
            raise AdapterError(f"nginx did not start on {self.listen}: {_emerg(text)}")

    def _wait_retired(self, pids: Sequence[int], deadline: float) -> None:
        """Wait until the workers of the previous config no longer accept connections:
        gone, or titled ``worker process is shutting down`` (nginx sets the title just
        before such a worker closes its listening sockets, in the same event-loop turn)."""
        pending = list(pids)
        while pending and time.monotonic() < deadline:
            pending = [pid for pid in pending if not _retired(pid)]
            if pending:
                time.sleep(0.02)
        if pending:
            raise AdapterError(
                f"nginx on {self.listen}: old workers {pending} still accept connections "
                f"{APPLY_TIMEOUT:g} s after the reload; see {self.state_dir / 'error.log'}"
            )

    def _wait_for(self, generation: int, deadline: float) -> None:
        host, _, port = self.listen.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        if host in ("0.0.0.0", "*"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        seen = "no answer"
        while time.monotonic() < deadline:
            seen = _get(host, int(port), GENERATION_PATH)
            if seen == str(generation):
                return
            time.sleep(0.05)
        raise AdapterError(
            f"nginx on {self.listen} did not serve config generation {generation} within "
            f"{APPLY_TIMEOUT:g} s (last answer: {seen}); see {self.state_dir / 'error.log'}"
        )

    def stop(self) -> None:
        """``nginx -s quit`` (requests in flight finish) and wait for the master to exit."""
        pid = self.pid()
        if pid is None:
            return
        self.runner.run(self._argv("-s", "quit"), timeout=30)
        deadline = time.monotonic() + STOP_TIMEOUT
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(pid):
            raise AdapterError(f"nginx (pid {pid}) did not exit within {STOP_TIMEOUT:g} s")


def workers(master: int) -> list[int]:
    """The pids of the worker processes of nginx master ``master`` (from ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text(encoding="utf-8", errors="replace")
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = fields.rpartition(")")[2].split()[1:2]
        if parent == [str(master)] and b"worker process" in cmdline:
            found.append(int(entry.name))
    return found


def _retired(pid: int) -> bool:
    if not pid_alive(pid):
        return True
    try:
        return b"shutting down" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def _get(host: str, port: int, path: str) -> str:
    """The body of ``GET path`` (or why there is none), with short timeouts."""
    conn = http.client.HTTPConnection(host, port, timeout=1.0)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read().decode("utf-8", errors="replace").strip()
        return body if response.status == 200 else f"HTTP {response.status}"
    except (OSError, http.client.HTTPException) as exc:
        return str(exc) or type(exc).__name__
    finally:
        conn.close()


def _emerg(text: str) -> str:
    """nginx's most telling line of ``text``: the first ``[emerg]``/``[alert]`` one."""
    lines = [ln.strip().removeprefix("nginx: ") for ln in text.splitlines() if ln.strip()]
    for line in lines:
        if "[emerg]" in line or "[alert]" in line:
            return line
    return lines[-1] if lines else "no output"
