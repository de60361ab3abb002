"""Benchmark: how long one command takes to reach a fleet waiting on long-polls, with
batch claims (one transaction per command and rebuild hands out a whole rate-control
budget) and without (``PATCHWARDEN_BATCH_CLAIMS=0``: each node claims alone, queueing on
the command's row lock) — the reference, in the same run.

One server process (``bench/fleet_load.py``'s, on PostgreSQL in a fresh schema of database
``test`` or a SQLite file); the simulated nodes long-poll as ``agent run`` does
(``GET /api/v1/agent/commands?wait=W`` back to back on their own connections) and, once
every node is waiting, one ``AWS-RunPatchBaseline`` Scan goes to all of them:

- **100 %**: ``MaxConcurrency 100%``, each node reports Success at once (SSM's ramp-up, 1 →
  3 → 7 → …, runs at the server's speed): the time until every node has its invocation;
- **10 %**: ``MaxConcurrency 10%``, each node works ``--work`` seconds before reporting:
  the time until every invocation has finished, against the nodes' own bound (the same
  rollout with a server that takes no time: SSM's ramp-up, then MaxConcurrency at a time,
  :func:`ideal`).

Prints a Markdown table.  Not a test: nothing asserts on time.  Usage::

    .venv/bin/python bench/fanout.py [--nodes 1000,10000] [--backends postgresql,sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import math
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet_load import (
    HTTP_ERRORS,
    Conn,
    Server,
    _client,
    admin_token,
    aio,
    database,
    register_nodes,
)


@dataclass
class Run:
    """One fan-out."""

    reached: list[float] = field(default_factory=list)
    """Seconds from the command's creation until each node had its invocation."""
    finished: list[float] = field(default_factory=list)
    """... until each node had reported."""
    send_ms: float = 0.0
    errors: int = 0
    gave_up: bool = False

    def pct(self, values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else math.nan


async def fan_out(
    port: int, creds: list[str], token: str, wait: float, concurrency: str, work: float,
    patience: float,
) -> Run:  # fmt: skip
    run = Run()
    sent_at: float | None = None
    waiting = 0
    done = asyncio.Event()
    path = f"/api/v1/agent/commands?wait={wait:g}"

    async def node(cred: str) -> None:
        nonlocal waiting
        await asyncio.sleep(random.uniform(0, min(wait, 2.0)))
        conn = Conn(port)
        first = True
        while not done.is_set():
            if first:
                waiting += 1
                first = False
            try:
                status, raw = await conn.get(path, cred)
                body = json.loads(raw) if status == 200 else None
            except HTTP_ERRORS:
                body = None
            if body is None:
                run.errors += 1
                await asyncio.sleep(1)
                continue
            if not body["invocations"]:
                continue
            if sent_at is not None:
                run.reached.append(time.perf_counter() - sent_at)
            if work:
                await asyncio.sleep(work)
            for inv in body["invocations"]:
                report = json.dumps({"status": "Success", "output": "bench"}).encode()
                url = f"/api/v1/agent/invocations/{inv['invocation_id']}"
                try:
                    status, _ = await conn.request("POST", url, cred, report)
                    run.errors += status != 200
                except HTTP_ERRORS:
                    run.errors += 1
            if sent_at is not None:
                run.finished.append(time.perf_counter() - sent_at)
            break
        conn.close()

    tasks = [asyncio.create_task(node(c)) for c in creds]
    while waiting < len(creds):
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # the last ones are parked on the server
    t0 = time.perf_counter()
    async with _client(1, timeout=300) as client:
        r = await client.post(
            f"http://127.0.0.1:{port}/api/v1/commands",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "DocumentName": "AWS-RunPatchBaseline",
                "Parameters": {"Operation": "Scan"},
                "Targets": [{"Key": "InstanceIds", "Values": ["*"]}],
                "MaxConcurrency": concurrency,
                "MaxErrors": "100%",
            },
        )
        r.raise_for_status()
    sent_at = time.perf_counter()
    run.send_ms = (sent_at - t0) * 1000
    deadline = sent_at + patience
    while len(run.finished) < len(creds) and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    run.gave_up = len(run.finished) < len(creds)
    done.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return run


def ideal(count: int, limit: int, work: float) -> float:
    """When the last of ``count`` nodes that each work ``work`` seconds finishes if the
    server took no time at all: SSM's ramp-up (:func:`patchwarden.core.rollout.ramp`)
    and MaxConcurrency ``limit`` are the only bounds — the nodes' bound."""
    from patchwarden.core.rollout import ramp

    ends: list[float] = []
    started = answered = 0
    now = 0.0
    while answered < count:
        room = min(limit - (started - answered), ramp(answered) - started, count - started)
        for _ in range(max(0, room)):
            heapq.heappush(ends, now + work)
            started += 1
        now = heapq.heappop(ends)
        answered += 1
    return now


@contextlib.contextmanager
def serving(url: str, env: dict[str, str], replicas: int) -> Iterator[int]:
    """The port of one server process (``replicas`` 0) or of nginx in front of
    ``replicas`` ``patchwarden server`` processes (``bench/cluster.py``, each node always
    to the same replica)."""
    if not replicas:
        server = Server("fleet", url, env)
        try:
            yield server.port
        finally:
            server.stop()
        return
    from cluster import Cluster

    with Cluster(url, replicas, env=env, migrate=False, balance="hash") as cluster:
        yield cluster.port


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for backend in args.backends.split(","):
        for count in (int(n) for n in args.nodes.split(",")):
            with database(backend) as url:
                creds = [c for _, c in register_nodes(url, count)]
                token = admin_token(url)
                for batch in ["1" if c == "batch" else "0" for c in args.claims.split(",")]:
                    for concurrency, work in [(c, 0.0 if c == "100%" else args.work)
                                              for c in args.concurrency.split(",")]:  # fmt: skip
                        env = {"PATCHWARDEN_BATCH_CLAIMS": batch}
                        with serving(url, env, args.replicas) as port:
                            run = aio(fan_out(port, creds, token, args.wait, concurrency,
                                              work, args.patience))  # fmt: skip
                        limit = math.ceil(count * int(concurrency.rstrip("%")) / 100)
                        bound = ideal(count, limit, work) if work else 0.0
                        row = {
                            "backend": backend,
                            "replicas": args.replicas,
                            "nodes": count,
                            "claims": "batch" if batch == "1" else "one by one",
                            "concurrency": concurrency,
                            "reached": len(run.reached),
                            "reach_p50": run.pct(run.reached, 0.5),
                            "reach_all": max(run.reached) if run.reached else math.nan,
                            "finished": len(run.finished),
                            "finish_all": max(run.finished) if run.finished else math.nan,
                            "bound": bound,
                            "send_ms": run.send_ms,
                            "errors": run.errors,
                            "gave_up": run.gave_up,
                        }
                        rows.append(row)
                        print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"Long-poll wait {args.wait:g} s; each node reports at once (100 %) or after "
        f"{args.work:g} s of work (10 %); gave up after {args.patience:g} s.",
        "",
        "| backend | server | nodes | claims | MaxConcurrency | reached | p50 s "
        "| all reached, s | all finished, s | nodes' bound, s |",
        "|---|---|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        finish = f"{r['finish_all']:.1f}" if not r["gave_up"] else f"> {args.patience:g}"
        bound = f"{r['bound']:.1f}" if r["bound"] else "-"
        lines.append(
            f"| {r['backend']} | {served(r['replicas'])} | {r['nodes']:,} | {r['claims']} "
            f"| {r['concurrency']} "
            f"| {r['reached']:,} | {r['reach_p50']:.1f} | {r['reach_all']:.1f} | {finish} "
            f"| {bound} |"
        )
    return "\n".join(lines)


def served(replicas: int) -> str:
    """The server column: one process, or replicas behind nginx."""
    return "1 process" if not replicas else f"{replicas} replicas, nginx"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1000,10000")
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--wait", type=float, default=10.0, help="long-poll wait (s)")
    parser.add_argument("--work", type=float, default=5.0, help="seconds a 10 %% node works")
    parser.add_argument("--patience", type=float, default=120.0, help="give up after (s)")
    parser.add_argument("--claims", default="batch,one", help="batch, one (by one) or both")
    parser.add_argument("--concurrency", default="100%,10%", help="MaxConcurrency values")
    parser.add_argument(
        "--replicas", type=int, default=0,
        help="0: one server process; N: N `patchwarden server` replicas behind nginx",
    )  # fmt: skip
    args = parser.parse_args()
    print(table(measure(args), args))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
