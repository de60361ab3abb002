"""Benchmark: simulated agents polling and uploading inventories against one server process.

One ``uvicorn`` process serves the fleet app (PostgreSQL in a fresh schema of database
``test`` that is dropped afterwards, or a SQLite file in a temporary directory); the load
generator is this process (uvloop, keep-alive HTTP/1.1 over asyncio streams: ``Conn``)
driving many simulated nodes.  The same generator first drives a *minimal FastAPI app*
(one GET route returning JSON — sleeping ``wait`` seconds when asked, as an empty long-poll
— and one PUT route parsing a JSON body), served the same way, so every number has a
reference.  Before measuring, every node polls once (a running server has seen its nodes).

Nodes are registered directly through the storage layer (rows with their own SHA-256
credential hashes, as ``POST /register`` writes them) — registration is not what is measured.

Scenarios, per backend:

- **saturation**: ``--concurrency`` closed loops of ``GET /api/v1/agent/commands?wait=0``
  over all nodes, as fast as they go — the sustained polls per second one process serves;
- **target**: every node polls once per ``--period`` seconds (open loop, random phase), with
  ``wait=0`` — 10,000 nodes every 10 s is 1,000 polls/s; p50/p99 latency and server CPU;
- **long-poll**: every node behaves as ``agent run`` does (``patchwarden.agent.loop``:
  back-to-back ``GET …?wait=20`` on its own connection, the server holding the request
  until work or the deadline); reports the polls per second, how late the empty answers
  come back after the 20 s wait (p50/p99), server CPU, then how long a command to every
  node (each reporting Success at once) takes to reach them through SSM's ramp-up;
- **inventory**: one node at a time uploads 2,000 packages in full (``PUT``), then a delta of
  20 changed packages (``PATCH``), without other load: the request time is the server time.

Prints Markdown tables.  Not a test: nothing asserts on time.  Usage::

    .venv/bin/python bench/fleet_load.py [--nodes 10000] [--backends postgresql,sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

PG_URL = os.environ.get(
    "PATCHWARDEN_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TICKS = os.sysconf("SC_CLK_TCK")


# -- the served apps (run in the server subprocess) ---------------------------------------


def minimal_app() -> Any:
    """The reference: one GET returning JSON, one PUT parsing a JSON body."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/ping")
    async def ping(wait: float = 0) -> dict[str, Any]:
        if wait:  # a long-poll that never finds work
            await asyncio.sleep(wait)
        return {"invocations": []}

    @app.put("/upload")
    async def upload(body: dict[str, Any]) -> dict[str, Any]:
        return {"items": len(body.get("items", []))}

    return app


def serve(kind: str, url: str, port: int) -> None:
    """Run one app under uvicorn (the server subprocess)."""
    import uvicorn

    if kind == "minimal":
        app = minimal_app()
    else:
        from patchwarden.server.app import create_app
        from patchwarden.server.settings import ServerSettings

        app = create_app(ServerSettings(database_url=url, migrate=False))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        backlog=16384,
        timeout_keep_alive=60,
    )


# -- setup ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh, migrated database URL: a PostgreSQL schema or a SQLite file (removed after)."""
    from sqlalchemy import create_engine, text

    from patchwarden.adapters.storage import make_engine, upgrade

    if backend == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="pw-bench-"))
        url = f"sqlite:///{tmp / 'server.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        try:
            yield url
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    schema = f"pw_bench_{uuid.uuid4().hex[:8]}"
    # pool_pre_ping: the admin connection survives a restart of the cluster (bench/chaos.py)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        for _ in range(10):  # the cluster may still be coming back
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                break
            except Exception:
                admin.dispose()
                time.sleep(1)
        admin.dispose()


def register_nodes(url: str, count: int) -> list[tuple[str, str]]:
    """``count`` registered nodes (id, credential) written through the storage layer."""
    from sqlalchemy import insert

    from patchwarden.adapters.storage import make_engine
    from patchwarden.adapters.storage.secrets import hash_secret, new_secret, node_id
    from patchwarden.adapters.storage.tables import Node, NodeTag

    now = datetime.now(UTC)
    nodes, rows, tags = [], [], []
    for i in range(count):
        ident, secret = node_id(), new_secret()
        nodes.append((ident, f"{ident}.{secret}"))
        group = f"group-{i % 10}"
        rows.append(
            {
                "id": ident,
                "name": f"bench-{i}",
                "activation_id": None,
                "credential_hash": hash_secret(secret),
                "tags": {"Patch Group": group},
                "patch_group": group,
                "hostname": f"bench-{i}",
                "os_id": "debian",
                "os_version": "12",
                "operating_system": "DEBIAN",
                "product": "Debian12",
                "agent_version": "bench",
                "registered_at": now,
                "last_seen_at": now,
                "deregistered_at": None,
            }
        )
        tags.append({"node_id": ident, "key": "Patch Group", "value": group})
    engine = make_engine(url)
    with engine.begin() as conn:
        for start in range(0, count, 2000):
            conn.execute(insert(Node), rows[start : start + 2000])
            conn.execute(insert(NodeTag), tags[start : start + 2000])
    engine.dispose()
    return nodes


def admin_token(url: str) -> str:
    """An operator token (admin) written through the storage layer."""
    from patchwarden.adapters.storage import make_engine
    from patchwarden.server.auth import make_token
    from patchwarden.server.db import Database

    engine = make_engine(url)
    db = Database.open(engine)
    with db.write() as session, session.begin():
        row, value = make_token(
            f"bench-{uuid.uuid4().hex[:6]}", "admin", "bench", datetime.now(UTC)
        )
        session.add(row)
    engine.dispose()
    return value


class Server:
    """A server subprocess and its CPU time (from /proc)."""

    def __init__(self, kind: str, url: str = "", env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        src = str(Path(__file__).resolve().parent)
        env = {
            **os.environ,
            **(env or {}),
            "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", ""),
        }
        code = f"import fleet_load; fleet_load.serve({kind!r}, {url!r}, {self.port})"
        self.proc = subprocess.Popen([sys.executable, "-c", code], env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{kind} server exited with {self.proc.returncode}")
            time.sleep(0.1)
        raise RuntimeError(f"{kind} server did not start")

    def cpu(self) -> float:
        """CPU seconds (user + system) the server has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- the load generator -----------------------------------------------------------------


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    cpu: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def cpu_per_1000(self) -> float:
        """Server CPU seconds per 1,000 answered requests."""
        return self.cpu / len(self.latencies) * 1000 if self.latencies else float("nan")


def _client(connections: int, timeout: float = 60) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(limits=limits, timeout=timeout)


class Conn:
    """One keep-alive HTTP/1.1 connection, one request at a time: the load generator's
    client.  httpx costs ~1 ms of client CPU per request, so at 1,000 requests/s the
    generator, not the server, was the bottleneck; this one costs a few tens of µs."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, credential: str) -> tuple[int, bytes]:
        """(status, body) of ``GET path`` as the node with ``credential``."""
        return await self.request("GET", path, credential)

    async def request(
        self, method: str, path: str, credential: str, body: bytes | None = None
    ) -> tuple[int, bytes]:
        """(status, body) of ``method path`` as the node with ``credential``."""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {credential}\r\n"
        )
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            assert self.reader is not None
            self.writer.write(head.encode() + b"\r\n" + (body or b""))
            raw = await self.reader.readuntil(b"\r\n\r\n")
            status = int(raw[9:12])
            length = 0
            for line in raw.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            return status, await self.reader.readexactly(length)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Pool:
    """``size`` connections shared by whoever needs one."""

    def __init__(self, port: int, size: int) -> None:
        self.free: asyncio.Queue[Conn] = asyncio.Queue()
        for _ in range(size):
            self.free.put_nowait(Conn(port))

    async def get(self, path: str, credential: str) -> tuple[int, bytes]:
        conn = await self.free.get()
        try:
            return await conn.get(path, credential)
        finally:
            self.free.put_nowait(conn)


HTTP_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


async def warm_up(server: Server, path: str, creds: list[str], concurrency: int) -> int:
    """Every node polls once, unmeasured (a server's steady state has seen its nodes);
    returns the errors."""
    pool = Pool(server.port, concurrency)
    errors = 0

    async def loop(k: int) -> None:
        nonlocal errors
        for cred in creds[k::concurrency]:
            try:
                status, _ = await pool.get(path, cred)
            except HTTP_ERRORS:
                status = 0
            errors += status != 200

    await asyncio.gather(*(loop(k) for k in range(concurrency)))
    return errors


async def saturation(
    server: Server, path: str, creds: list[str], concurrency: int, seconds: float
) -> Result:
    """Closed loops as fast as they go; the first second is warm-up."""
    result = Result()
    start = time.perf_counter()
    measure_from = start + 1.0
    stop_at = measure_from + seconds
    cpu0: float | None = None

    async def loop(k: int) -> None:
        conn = Conn(server.port)
        i = k
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                conn.close()
                return
            cred = creds[i % len(creds)]
            i += concurrency
            try:
                status, _ = await conn.get(path, cred)
            except HTTP_ERRORS:
                status = 0
            t1 = time.perf_counter()
            if t0 >= measure_from:
                if status == 200:
                    result.latencies.append(t1 - t0)
                else:
                    result.errors += 1

    async def cpu_mark() -> None:
        nonlocal cpu0
        await asyncio.sleep(measure_from - time.perf_counter())
        cpu0 = server.cpu()

    await asyncio.gather(cpu_mark(), *(loop(k) for k in range(concurrency)))
    result.elapsed = time.perf_counter() - measure_from
    result.cpu = server.cpu() - (cpu0 or 0.0)
    return result


async def open_loop(
    server: Server, path: str, creds: list[str], period: float, seconds: float
) -> Result:
    """Each node sends one request per ``period`` seconds at a random phase (open loop: a
    slow answer does not delay the next node).  The first period is warm-up."""
    result = Result()
    start = time.perf_counter() + 0.5
    measure_from = start + period
    stop_at = measure_from + seconds
    schedule = sorted((start + random.uniform(0, period), c) for c in creds)
    late = 0.0
    cpu0: float | None = None
    tasks: set[asyncio.Task[None]] = set()
    pool = Pool(server.port, 512)

    async def one(cred: str, due: float) -> None:
        t0 = time.perf_counter()
        try:
            status, _ = await pool.get(path, cred)
        except HTTP_ERRORS:
            status = 0
        t1 = time.perf_counter()
        if due >= measure_from and due < stop_at:
            if status == 200:
                result.latencies.append(t1 - t0)
            else:
                result.errors += 1

    cycle = 0
    while True:
        for offset, cred in schedule:
            due = offset + cycle * period
            if due >= stop_at:
                break
            now = time.perf_counter()
            if due > now:
                await asyncio.sleep(due - now)
            else:
                late = max(late, now - due)
            if cpu0 is None and due >= measure_from:
                cpu0 = server.cpu()
            task = asyncio.create_task(one(cred, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        else:
            cycle += 1
            continue
        break
    if tasks:
        await asyncio.wait(tasks)
    result.elapsed = seconds
    result.cpu = server.cpu() - (cpu0 or 0.0)
    result.extra["drained_s"] = time.perf_counter() - measure_from
    result.extra["generator_max_lag_ms"] = late * 1000
    return result


async def long_poll(
    server: Server, creds: list[str], token: str | None, wait: float, seconds: float
) -> Result:
    """Every node long-polls back to back with ``wait`` on its own connection (as ``agent
    run`` does); after ``seconds`` a Scan command is sent to every node and the time from
    its creation until each node has it is measured (each node reports Success at once,
    so SSM's ramp-up — 1, 3, 7, … nodes — runs at the speed of the server).  Latencies are
    how far past ``wait`` the empty answers came back.  Without a ``token`` (the minimal
    app) no command is sent."""
    result = Result()
    t_start = time.perf_counter()
    measure_from = t_start + wait + 2  # every node has started its first poll
    stop_at = measure_from + seconds
    sent_at: float | None = None
    delivered: list[float] = []
    done = asyncio.Event()
    cpu0: float | None = None
    path = f"/api/v1/agent/commands?wait={wait:g}" if token else f"/ping?wait={wait:g}"

    async def node(cred: str) -> None:
        await asyncio.sleep(random.uniform(0, wait))  # agents did not all start together
        conn = Conn(server.port)
        while not done.is_set():
            t0 = time.perf_counter()
            try:
                status, raw = await conn.get(path, cred)
                body = json.loads(raw) if status == 200 else None
            except HTTP_ERRORS:
                body = None
            t1 = time.perf_counter()
            if body is None:
                result.errors += 1
                await asyncio.sleep(1)
                continue
            if body["invocations"]:
                if sent_at is not None:
                    delivered.append(t1 - sent_at)
                for inv in body["invocations"]:  # a scan that takes no time: SSM's ramp-up
                    report = json.dumps({"status": "Success", "output": "bench"}).encode()
                    path_ = f"/api/v1/agent/invocations/{inv['invocation_id']}"
                    with contextlib.suppress(*HTTP_ERRORS):
                        status, _ = await conn.request("POST", path_, cred, report)
                        result.errors += status != 200
                break
            if measure_from <= t1 < stop_at:  # answers completed in the window
                result.latencies.append(max(0.0, t1 - t0 - wait))
        conn.close()

    async def conductor() -> None:
        nonlocal sent_at, cpu0
        await asyncio.sleep(measure_from - time.perf_counter())
        cpu0 = server.cpu()
        await asyncio.sleep(stop_at - time.perf_counter())
        result.cpu = server.cpu() - cpu0
        if token is None:
            done.set()
            return
        t0 = time.perf_counter()
        async with _client(1, timeout=120) as client:
            r = await client.post(
                server.base + "/api/v1/commands",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "DocumentName": "AWS-RunPatchBaseline",
                    "Parameters": {"Operation": "Scan"},
                    "Targets": [{"Key": "InstanceIds", "Values": ["*"]}],
                    "MaxConcurrency": "100%",
                },
            )
            r.raise_for_status()
        sent_at = time.perf_counter()  # the command and its invocations exist
        result.extra["send_ms"] = (sent_at - t0) * 1000
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_until(lambda: len(delivered) >= len(creds)), wait * 3)
        done.set()

    tasks = [asyncio.create_task(node(c)) for c in creds]
    try:
        await conductor()
    except httpx.HTTPError as exc:
        print(f"long-poll: sending the command failed: {exc!r}", file=sys.stderr)
        done.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    result.elapsed = seconds
    if delivered:
        ordered = sorted(delivered)
        result.extra["delivered"] = len(ordered)
        result.extra["delivery_p50_ms"] = ordered[len(ordered) // 2] * 1000
        result.extra["delivery_p99_ms"] = (
            ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000
        )
        result.extra["delivery_all_ms"] = ordered[-1] * 1000
    return result


async def _until(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.05)


def inventory(seed: int, size: int) -> list[dict[str, str]]:
    rnd = random.Random(seed)
    items = []
    for i in range(size):
        kind = "update" if i % 20 == 0 else "installed"
        items.append(
            {
                "kind": kind,
                "name": f"pkg{i:05d}-{rnd.randrange(1000)}",
                "arch": "amd64",
                "version": f"{rnd.randrange(10)}.{rnd.randrange(100)}-{rnd.randrange(5)}",
                "source_name": f"src{i:05d}",
                "repository": "bookworm/main",
                "classification": "" if kind == "installed" else "security",
            }
        )
    return items


async def uploads(server: Server, creds: list[str], size: int, minimal: bool) -> Result:
    """One node at a time: a full upload of ``size`` packages, then a delta of 20 changes.
    ``latencies`` are the full uploads, ``extra['delta']`` the median delta."""
    from patchwarden.wire import content_hash, item_hash

    result = Result()
    deltas: list[float] = []
    async with _client(4, timeout=120) as client:
        for n, cred in enumerate(creds):
            headers = {"Authorization": f"Bearer {cred}"}
            items = inventory(n, size)
            hashes = {item_hash(i): i for i in items}
            digest = content_hash(hashes)
            body = {"items": items, "content_hash": digest}
            t0 = time.perf_counter()
            if minimal:
                r = await client.put(server.base + "/upload", json=body)
            else:
                r = await client.put(
                    server.base + "/api/v1/agent/inventory", json=body, headers=headers
                )
            result.latencies.append(time.perf_counter() - t0)
            r.raise_for_status()
            changed = inventory(10_000 + n, 10)
            for i in changed:
                i["name"] += "-new"
            removed = sorted(hashes)[:10]
            after = set(hashes) - set(removed) | {item_hash(i) for i in changed}
            delta = {
                "base_hash": digest,
                "content_hash": content_hash(after),
                "added": changed,
                "removed": removed,
            }
            t0 = time.perf_counter()
            if minimal:
                r = await client.put(server.base + "/upload", json=delta)
            else:
                r = await client.patch(
                    server.base + "/api/v1/agent/inventory", json=delta, headers=headers
                )
            deltas.append(time.perf_counter() - t0)
            r.raise_for_status()
    result.extra["delta_p50_ms"] = statistics.median(deltas) * 1000
    result.extra["delta_p90_ms"] = sorted(deltas)[int(0.9 * len(deltas))] * 1000
    return result


# -- the run ----------------------------------------------------------------------------


def aio(coro: Any) -> Any:
    """Run ``coro`` on uvloop when it is installed (as uvicorn's server does)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def run(args: argparse.Namespace) -> dict[str, dict[str, Result]]:
    results: dict[str, dict[str, Result]] = {}
    minimal = Server("minimal")
    try:
        dummy = [f"mi-{i:017x}.x" for i in range(args.nodes)]
        results["minimal"] = {
            "saturation": aio(saturation(minimal, "/ping", dummy, args.concurrency, args.seconds)),
            "target": aio(open_loop(minimal, "/ping", dummy, args.period, args.seconds)),
            "upload": aio(uploads(minimal, dummy[: args.uploads], args.packages, True)),
        }
        if args.long_poll:
            results["minimal"]["long-poll"] = aio(
                long_poll(minimal, dummy, None, args.wait, args.seconds)
            )
    finally:
        minimal.stop()
    for backend in args.backends.split(","):
        with database(backend) as url:
            t0 = time.perf_counter()
            nodes = register_nodes(url, args.nodes + args.uploads)
            print(
                f"{backend}: registered {len(nodes)} nodes in {time.perf_counter() - t0:.1f} s",
                file=sys.stderr,
            )
            token = admin_token(url)
            creds = [c for _, c in nodes[: args.nodes]]
            path = "/api/v1/agent/commands?wait=0"
            server = Server("fleet", url)
            try:
                out: dict[str, Result] = {}
                errors = aio(warm_up(server, path, creds, args.concurrency))
                print(f"{backend}: every node polled once ({errors} errors)", file=sys.stderr)
                out["saturation"] = aio(
                    saturation(server, path, creds, args.concurrency, args.seconds)
                )
                out["target"] = aio(open_loop(server, path, creds, args.period, args.seconds))
                out["upload"] = aio(
                    uploads(server, [c for _, c in nodes[args.nodes :]], args.packages, False)
                )
                if args.long_poll:
                    out["long-poll"] = aio(long_poll(server, creds, token, args.wait, args.seconds))
                results[backend] = out
            finally:
                server.stop()
    return results


def report(results: dict[str, dict[str, Result]], args: argparse.Namespace) -> str:
    ref = results["minimal"]
    lines = [
        f"{args.nodes} nodes, one server process, load generator in one process "
        f"(asyncio streams, keep-alive); {os.cpu_count()} CPUs; "
        f"{args.seconds:g} s per measurement.",
        "",
        "| | minimal FastAPI | " + " | ".join(b for b in results if b != "minimal") + " |",
        "|---|---:|" + "---:|" * (len(results) - 1),
    ]

    def row(label: str, get: Any, fmt: str, ratio: bool = True) -> None:
        cells = [format(get(ref), fmt)]
        for backend, res in results.items():
            if backend == "minimal":
                continue
            value = get(res)
            cell = format(value, fmt)
            base = get(ref)
            if ratio and base:
                cell += f" (x{value / base:.1f})"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("saturation: polls/s", lambda r: r["saturation"].rate, ".0f")
    row("saturation: p50 ms", lambda r: r["saturation"].pct(0.5), ".1f")
    row("saturation: server CPU ms per poll", lambda r: r["saturation"].cpu_per_1000, ".2f")
    row(f"target {args.nodes}/{args.period:g}s: polls/s", lambda r: r["target"].rate, ".0f")
    row("target: p50 ms", lambda r: r["target"].pct(0.5), ".1f")
    row("target: p99 ms", lambda r: r["target"].pct(0.99), ".1f")
    row(
        "target: server CPU % (until every answer is in)",
        lambda r: r["target"].cpu / r["target"].extra["drained_s"] * 100,
        ".0f",
    )
    row("target: errors", lambda r: r["target"].errors + r["saturation"].errors, "d", False)
    row(f"upload {args.packages} packages, first: p50 ms", lambda r: r["upload"].pct(0.5), ".1f")
    row("upload, delta (20 changes): p50 ms", lambda r: r["upload"].extra["delta_p50_ms"], ".1f")
    text = "\n".join(lines)
    lp = {b: r["long-poll"] for b, r in results.items() if "long-poll" in r}
    if lp:
        text += (
            f"\n\nLong-poll as `agent run` does it (wait={args.wait:g} s, {args.nodes} nodes "
            "holding a request each), then one Scan command to every node (each node reports "
            "Success at once, so the ramp-up runs at the server's speed):\n\n"
            "| | polls/s | answer past the wait p50 / p99 ms | server CPU % | command created, "
            "ms | command reached p50 / p99 / all nodes, ms | errors |\n"
            "|---|---:|---:|---:|---:|---:|---:|\n"
        )
        for backend, r in lp.items():
            reached = (
                f"{r.extra.get('delivery_p50_ms', float('nan')):.0f} / "
                f"{r.extra.get('delivery_p99_ms', float('nan')):.0f} / "
                f"{r.extra.get('delivery_all_ms', float('nan')):.0f} "
                f"({r.extra.get('delivered', 0):.0f} nodes)"
                if "send_ms" in r.extra
                else "-"
            )
            created = f"{r.extra['send_ms']:.0f}" if "send_ms" in r.extra else "-"
            text += (
                f"| {backend} | {r.rate:.0f} | {r.pct(0.5):.1f} / {r.pct(0.99):.1f} | "
                f"{r.cpu / r.elapsed * 100:.0f} | {created} | {reached} | {r.errors} |\n"
            )
    lag = max(r["target"].extra.get("generator_max_lag_ms", 0) for r in results.values())
    text += f"\nLargest lag of the open-loop generator behind its schedule: {lag:.0f} ms.\n"
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument(
        "--period", type=float, default=10.0, help="seconds between polls of a node"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each measurement")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="closed loops (saturation)",
    )
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--uploads", type=int, default=20, help="nodes uploading inventories")
    parser.add_argument("--packages", type=int, default=2000)
    parser.add_argument("--wait", type=float, default=20.0, help="long-poll wait (agent default)")
    parser.add_argument("--no-long-poll", dest="long_poll", action="store_false")
    args = parser.parse_args()
    print(report(run(args), args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
