"""Benchmark: ``patchwarden server`` x1 and x3 on one PostgreSQL behind nginx, with the
same nginx in front of a minimal FastAPI app as the reference — in the same run.

``bench/cluster.py``'s :class:`Cluster` starts the replicas (the real CLI, each with its
own data directory, one database: a fresh schema of database ``test``, dropped
afterwards) and a private nginx of the Debian package on 127.0.0.1 (upstream keep-alive,
HTTP/1.1, access log off).  The load generator is this process (``bench/fleet_load.py``'s
keep-alive HTTP/1.1 client on uvloop); every node is registered through the storage layer
and polls once through nginx before anything is measured.

Scenarios, per setup (1 or 3 upstreams; the fleet server or the minimal app):

- **saturation**: ``--concurrency`` closed loops (256) of ``GET
  /api/v1/agent/commands?wait=0`` (``/ping`` for the minimal app) through nginx, as fast
  as they go: the polls per second the setup sustains;
- **target**: ``--nodes`` (20,000) nodes each polling once per ``--period`` (10 s) at a
  random phase, ``wait=0``, over a keep-alive pool of 512 connections to nginx (open
  loop: a slow answer does not delay the next node): p50/p99 latency, errors, the CPU of
  every replica summed (from /proc), nginx's and the load generator's.

CPU columns are percent of one core over the window.  The machine's other jobs share the
cores: the load average is printed with the tables.  Prints Markdown tables.  Not a test:
nothing asserts on time.  Usage::

    .venv/bin/python bench/replicas.py [--nodes 20000] [--replicas 1,3] [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster import Cluster
from fleet_load import Result, admin_token, aio, database, open_loop, register_nodes, saturation
from fleet_load import warm_up as fleet_warm_up

POLL = "/api/v1/agent/commands?wait=0"


@dataclass
class Target:
    """What fleet_load's generators drive: a port and a CPU clock (the replicas summed).
    Every ``cpu()`` also notes nginx's and this process's CPU, so the first and last
    notes of a run bracket its window for them too."""

    cluster: Cluster
    notes: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.cluster.port

    def cpu(self) -> float:
        mine = os.times()
        replicas = self.cluster.cpu()
        self.notes.append((time.perf_counter(), self.cluster.nginx_cpu(), mine.user + mine.system))
        return replicas

    def window(self) -> tuple[float, float]:
        """(nginx, generator) CPU % of one core between the first and last notes."""
        if len(self.notes) < 2:
            return float("nan"), float("nan")
        (t0, n0, g0), (t1, n1, g1) = self.notes[0], self.notes[-1]
        span = t1 - t0 or float("nan")
        return (n1 - n0) / span * 100, (g1 - g0) / span * 100


@dataclass
class Row:
    label: str
    result: Result
    nginx_cpu: float
    generator_cpu: float
    warm_errors: int = 0


def measure(
    target: Target, kind: str, path: str, creds: list[str], args: argparse.Namespace
) -> Result:
    target.notes.clear()
    if kind == "saturation":
        result: Result = aio(saturation(target, path, creds, args.concurrency, args.seconds))  # type: ignore[arg-type]
    else:
        result = aio(open_loop(target, path, creds, args.period, args.seconds))  # type: ignore[arg-type]
    return result


@dataclass
class Direct:
    """One replica's own port (for the warm-up)."""

    port: int


def run_setup(
    label: str, cluster: Cluster, path: str, creds: list[str], args: argparse.Namespace
) -> dict[str, Row]:
    target = Target(cluster)
    warm = 0
    for replica in cluster.replicas:  # each replica has seen every node (its node cache)
        warm += aio(fleet_warm_up(Direct(replica.port), path, creds, 256))  # type: ignore[arg-type]
    warm += aio(fleet_warm_up(target, path, creds, 256))  # type: ignore[arg-type]
    print(f"{label}: every node polled once ({warm} errors)", file=sys.stderr)
    rows = {}
    for kind in ("saturation", "target"):
        if kind not in args.scenarios:
            continue
        result = measure(target, kind, path, creds, args)
        ngx, gen = target.window()
        rows[kind] = Row(label, result, ngx, gen, warm)
        window = result.extra.get("drained_s", result.elapsed)
        print(
            f"{label} {kind}: {result.rate:.0f}/s p50 {result.pct(0.5):.1f} ms "
            f"p99 {result.pct(0.99):.1f} ms errors {result.errors} "
            f"replicas CPU {result.cpu / window * 100:.0f}% nginx {ngx:.0f}% "
            f"generator {gen:.0f}% (load {os.getloadavg()[0]:.2f})",
            file=sys.stderr,
        )
    return rows


def run(args: argparse.Namespace, results: dict[str, dict[str, Row]]) -> None:
    """Every setup, its rows into ``results`` as they come (a failure keeps them)."""
    counts = [int(n) for n in args.replicas.split(",")]
    dummy = [f"mi-{i:017x}.x" for i in range(args.nodes)]
    if args.reference:
        for n in counts:
            with Cluster("", n, minimal=True) as cluster:
                results[f"minimal FastAPI x{n}"] = run_setup(
                    f"minimal x{n}", cluster, "/ping", dummy, args
                )
    with database("postgresql") as url:
        t0 = time.perf_counter()
        nodes = register_nodes(url, args.nodes)
        print(f"registered {len(nodes)} nodes in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        admin_token(url)  # tokens exist: no replica prints a bootstrap admin token
        creds = [c for _, c in nodes]
        for n in counts:
            with Cluster(url, n) as cluster:
                results[f"patchwarden x{n}"] = run_setup(
                    f"patchwarden x{n}", cluster, POLL, creds, args
                )
            if args.hash and n > 1:
                label = f"patchwarden x{n}, hash by credential"
                with Cluster(url, n, balance="hash") as cluster:
                    results[label] = run_setup(label, cluster, POLL, creds, args)
        if args.direct:
            with Cluster(url, 1, nginx=False) as cluster:
                results["patchwarden x1, no nginx"] = run_setup(
                    "patchwarden x1, no nginx", cluster, POLL, creds, args
                )


def _cells(label: str, row: Row, seconds: float) -> str:
    """A table row's common cells (unclosed): rate, latency, errors, the CPU of the replicas
    over ``seconds``, nginx's and the generator's."""
    r = row.result
    return (
        f"| {label} | {r.rate:.0f} | {r.pct(0.5):.1f} | {r.pct(0.99):.1f} | {r.errors} "
        f"| {r.cpu / seconds * 100:.0f} | {row.nginx_cpu:.0f} | {row.generator_cpu:.0f}"
    )


def report(results: dict[str, dict[str, Row]], args: argparse.Namespace) -> str:
    load = os.getloadavg()
    lines = [
        f"{args.nodes} nodes, {os.cpu_count()} CPUs shared with other jobs (load average "
        f"at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}); load generator in "
        f"one process; {args.seconds:g} s per measurement; CPU in % of one core.",
        "",
    ]
    if "saturation" in args.scenarios:
        lines += [
            f"Saturation: {args.concurrency} closed loops of `GET {POLL}` (`/ping`) through nginx:",
            "",
            "| setup | polls/s | p50 ms | p99 ms | errors | replicas CPU % | nginx CPU % "
            "| generator CPU % |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for label, rows in results.items():
            if "saturation" not in rows:
                continue
            row = rows["saturation"]
            lines.append(_cells(label, row, row.result.elapsed) + " |")
        lines.append("")
    if "target" in args.scenarios:
        lines += [
            f"Target: {args.nodes} nodes polling once per {args.period:g} s "
            f"({args.nodes / args.period:.0f} polls/s offered), random phase, `wait=0`, "
            "512 keep-alive connections to nginx:",
            "",
            "| setup | polls/s | p50 ms | p99 ms | errors | replicas CPU % | nginx CPU % "
            "| generator CPU % | generator lag ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for label, rows in results.items():
            if "target" not in rows:
                continue
            row = rows["target"]
            r = row.result
            lag = r.extra.get("generator_max_lag_ms", 0)
            lines.append(
                _cells(label, row, r.extra.get("drained_s", r.elapsed)) + f" | {lag:.0f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=20_000)
    parser.add_argument("--replicas", default="1,3", help="upstream counts to compare")
    parser.add_argument(
        "--period", type=float, default=10.0, help="seconds between polls of a node"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each measurement")
    parser.add_argument("--concurrency", type=int, default=256, help="closed loops (saturation)")
    parser.add_argument("--scenarios", default="saturation,target", help="saturation and/or target")
    parser.add_argument(
        "--no-reference", dest="reference", action="store_false", help="skip the minimal app"
    )
    parser.add_argument(
        "--direct", action="store_true", help="also 1 replica without nginx (nginx's cost)"
    )
    parser.add_argument(
        "--hash",
        action="store_true",
        help="also each multi-replica setup with nginx hashing the credential to a replica",
    )
    args = parser.parse_args()
    args.scenarios = set(args.scenarios.split(","))
    results: dict[str, dict[str, Row]] = {}
    try:
        run(args, results)
    finally:  # what was measured, even when a later step failed
        print(report(results, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
