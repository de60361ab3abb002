"""Chaos runs: faults injected into a working fleet, scripted and bounded in time.

Every scenario runs on a fresh PostgreSQL schema of database ``test``
(``fleet_load.database``), with simulated nodes (one asyncio task each, keep-alive HTTP/1.1
as ``fleet_load.Conn``) that behave as ``agent run`` does: back-to-back long-polls
(``GET /api/v1/agent/commands?wait=20``), a journal of the invocations they executed (an
invocation handed again is *not* executed again, its result is re-sent), results kept
until acknowledged and re-sent, and retries with jittered exponential back-off after a
connection error or a 5xx (1, 2, 4 … capped at ``--max-backoff`` s; the real agent caps at
60 s — a bounded run cannot wait that long, and the cap only shifts the time to recover).

Scenarios (``--scenario``):

- ``kill-replica``: 3 replicas behind nginx (``bench/cluster.py``), ``--nodes`` nodes; a
  maintenance window with canary waves ``[1, "10%", "25%"]`` runs; in the middle of a wave
  the replica that claimed most invocations so far (``--kill scheduler``: the replica that
  runs the window execution) is killed with SIGKILL, then restarted once the window ended;
- ``pg-restart``: 2 replicas behind nginx; a Scan to every node (MaxConcurrency 20 %,
  each node works ``--work`` s); ``pg_ctlcluster 15 main restart -m fast`` mid-command;
- ``terminate-backends``: same fleet; for ``--terminate-seconds`` s, every 200 ms,
  ``pg_terminate_backend`` of every connection whose ``application_name`` is this run's
  (the servers connect with ``application_name=pw-chaos-<schema>``: nobody else's
  connections are touched);
- ``agent-cutoff``: one replica, a few nodes; node A is cut off (no request, its
  connection dropped) before a command reaches it, node B right after it executed its
  invocation (before reporting); both stay away longer than the command's delivery (30 s)
  and execution (10 s) timeouts — an hour away against timeouts of minutes, scaled down —
  then come back: A's invocation must have ended without running, B's late report must be
  answered (accepted or not) and B must not run it again; a second command then reaches
  both;
- ``disk-full``: ``patchwarden db update`` into a vulnerability database on a small tmpfs
  (``PATCHWARDEN_HOME`` on it), fed by a local HTTP server: a first update with the
  fixture feed, then an update whose download (and then whose rebuild) does not fit; it
  must fail with one line, exit non-zero, leave the previous database readable
  (``db status``); after ``mount -o remount,size=…`` it succeeds.  Always unmounted.

Measures, from the nodes' own counts and the server's database after each run:
**requests failed** (agent and operator requests that got a connection error or a 5xx —
past nginx's own retries), **commands lost** (commands — a window's waves included — not
in a terminal status with every invocation terminal and their number equal to the targets,
within the bound; a window execution not ended counts too; so does a result a node had
acknowledged that the server does not show), **invocations run twice** (an invocation id
the nodes *executed* more than once), **re-deliveries** (invocations whose ``deliveries``
counter is above 1: handed again, allowed), **time to recover** (from the fault to the
first successful poll / claim / report after it, the last affected node's recovery, and
until every command ended).

Prints a Markdown table; exits 1 when a command was lost or an invocation ran twice.
Not a test: nothing asserts on time.  Usage (as root, the PostgreSQL cluster at
127.0.0.1:5432)::

    env -u PYTHONDONTWRITEBYTECODE .venv/bin/python bench/chaos.py [--scenario all] [--nodes 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster import Cluster
from fleet_load import (
    HTTP_ERRORS,
    Conn,
    admin_token,
    aio,
    database,
    register_nodes,
)

TERMINAL_COMMAND = {"Success", "Failed", "Incomplete", "TimedOut", "Cancelled"}
TERMINAL_INVOCATION = {"Success", "Failed", "TimedOut", "Cancelled", "Undeliverable"}
TERMINAL_EXECUTION = {"SUCCESS", "FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED_OVERLAPPING"}
QUIET_LOOPS = {
    # background loops the scenarios do not exercise: off, so the load is the fleet's
    "PATCHWARDEN_ASSESS_INTERVAL": "0",
    "PATCHWARDEN_IMAGES_INTERVAL": "0",
    "PATCHWARDEN_NOTIFY_INTERVAL": "0",
    "PATCHWARDEN_HISTORY_INTERVAL": "0",
    "PATCHWARDEN_PRUNE_INTERVAL": "0",
}
ROOT = Path(__file__).resolve().parents[1]
PATCHWARDEN = str(Path(sys.executable).with_name("patchwarden"))


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


# -- what the nodes saw -------------------------------------------------------------------


@dataclass
class Stats:
    """Requests and executions of one scenario's simulated nodes and operator."""

    events: list[tuple[float, int, str, bool]] = field(default_factory=list)
    """(monotonic time, node index (-1: operator), kind, ok) of every request."""
    executions: Counter[str] = field(default_factory=Counter)
    """Invocation id → times a node executed it."""
    acked: dict[str, str] = field(default_factory=dict)
    """Invocation id → the status a node reported and the server acknowledged."""
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Invocation id → the server's answer to the acknowledged report."""
    handed_again: int = 0
    """Invocations a node was handed after it had executed them (re-sent, not run)."""
    codes: Counter[str] = field(default_factory=Counter)
    """Failed requests by kind and status (0: connection error or timeout)."""

    def record(self, node: int, kind: str, status: int, started: float | None = None) -> bool:
        """Count one answered (or failed) request; an empty long-poll counts when it was
        *sent* (``started``: the server took it), everything else when it was answered."""
        ok = 0 < status < 500
        at = started if started is not None and ok and kind == "poll" else time.monotonic()
        self.events.append((at, node, kind, ok))
        if not ok:
            self.codes[f"{kind}:{status}"] += 1
        return ok

    @property
    def failed(self) -> int:
        return sum(1 for e in self.events if not e[3])

    def recovery(self, fault: float) -> dict[str, float | None]:
        """Seconds from ``fault`` to the first success of each kind, to the last failure,
        and until the last node that failed after the fault succeeded again."""
        out: dict[str, float | None] = {}
        for kind, kinds in (("poll", ("poll", "claim")), ("claim", ("claim",)),
                            ("report", ("report",))):  # fmt: skip
            oks = [t for t, _, k, ok in self.events if ok and k in kinds and t >= fault]
            out[kind] = min(oks) - fault if oks else None
        fails = [(t, n) for t, n, _, ok in self.events if not ok and t >= fault]
        out["last_failure"] = max(t for t, _ in fails) - fault if fails else None
        worst = 0.0
        for n in {n for _, n in fails}:
            first_fail = min(t for t, m in fails if m == n)
            oks = [t for t, m, _, ok in self.events if ok and m == n and t > first_fail]
            worst = max(worst, (min(oks) if oks else time.monotonic()) - fault)
        out["all_nodes"] = worst if fails else None
        return out


class SimNode:
    """One simulated agent (see the module docstring)."""

    def __init__(
        self, index: int, cred: str, port: int, stats: Stats, work: float, wait: float,
        max_backoff: float,
    ) -> None:  # fmt: skip
        self.index, self.cred, self.port, self.stats = index, cred, port, stats
        self.work, self.wait, self.max_backoff = work, wait, max_backoff
        self.conn = Conn(port)
        self.last_used = 0.0
        self.journal: dict[str, str] = {}  # invocation id -> started / finished / acked
        self.unacked: dict[str, bytes] = {}
        self.online = asyncio.Event()
        self.online.set()
        self.cut_after_execute = False
        self.polled = 0
        self.failures = 0

    def cut(self) -> None:
        """The network goes away: the connection is dropped, no request is made."""
        self.online.clear()
        self.conn.close()

    async def call(
        self, method: str, path: str, body: bytes | None, timeout: float
    ) -> tuple[int, bytes]:
        if time.monotonic() - self.last_used > 3.5:  # the server's idle keep-alive (5 s)
            self.conn.close()
        try:
            status, raw = await asyncio.wait_for(
                self.conn.request(method, path, self.cred, body), timeout
            )
        except (TimeoutError, *HTTP_ERRORS):
            self.conn.close()
            return 0, b""
        self.last_used = time.monotonic()
        return status, raw

    async def flush(self) -> bool:
        """Send every unacknowledged result; False when one failed (retry later)."""
        for inv_id, body in list(self.unacked.items()):
            await self.online.wait()
            status, raw = await self.call("POST", f"/api/v1/agent/invocations/{inv_id}", body, 30)
            if not self.online.is_set():
                return False
            if not self.stats.record(self.index, "report", status):
                return False
            # 200, or a 4xx that is final (as the agent: acknowledged either way)
            del self.unacked[inv_id]
            self.journal[inv_id] = "acked"
            answer = json.loads(raw) if status == 200 else {"http": status}
            self.stats.acked[inv_id] = json.loads(body)["status"]
            self.stats.answers[inv_id] = answer
        return True

    async def execute(self, inv: dict[str, Any]) -> None:
        inv_id = inv["invocation_id"]
        if inv_id in self.journal:  # handed again: never run twice, re-send the result
            self.stats.handed_again += 1
            if self.journal[inv_id] == "acked":
                self.unacked[inv_id] = json.dumps(
                    {"status": self.stats.acked[inv_id], "output": "chaos (again)"}
                ).encode()
            return
        self.journal[inv_id] = "started"
        self.stats.executions[inv_id] += 1
        await asyncio.sleep(self.work * random.uniform(0.8, 1.2))
        self.journal[inv_id] = "finished"
        self.unacked[inv_id] = json.dumps({"status": "Success", "output": "chaos"}).encode()
        if self.cut_after_execute:
            self.cut_after_execute = False
            self.cut()

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.sleep(random.uniform(0, 2))
        path = f"/api/v1/agent/commands?wait={self.wait:g}"
        while not stop.is_set():
            await self.online.wait()
            ok = await self.flush()
            if ok:
                started = time.monotonic()
                status, raw = await self.call("GET", path, None, self.wait + 30)
                if not self.online.is_set():  # cut off meanwhile: its own doing, not counted
                    continue
                try:
                    invocations = json.loads(raw)["invocations"] if status == 200 else None
                except (ValueError, KeyError):
                    invocations, status = None, 0
                kind = "claim" if invocations else "poll"
                ok = self.stats.record(self.index, kind, status, started)
                ok = ok and invocations is not None
                if ok:
                    self.polled += 1
                    for inv in invocations or []:
                        await self.execute(inv)
            if ok:
                self.failures = 0
                continue
            self.failures += 1
            delay = min(self.max_backoff, 2 ** min(self.failures - 1, 6))
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        self.conn.close()


class Operator:
    """The operator's requests (httpx), retried like the CLI would be re-run."""

    def __init__(self, url: str, token: str, stats: Stats) -> None:
        self.url, self.stats = url, stats
        self.client = httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    async def call(self, method: str, path: str, body: Any = None, tries: int = 30) -> Any:
        for attempt in range(tries):
            try:
                r = await self.client.request(method, path, json=body)
                status = r.status_code
            except httpx.HTTPError:
                status = 0
            if self.stats.record(-1, "operator", status):
                if status >= 400:
                    raise RuntimeError(f"{method} {path}: {status} {r.text[:300]}")
                return r.json()
            await asyncio.sleep(min(5, 0.5 * 2**attempt))
        raise RuntimeError(f"{method} {path}: no answer after {tries} tries")

    async def close(self) -> None:
        await self.client.aclose()


class Fleet:
    """The simulated nodes of one scenario, running until :meth:`stop`."""

    def __init__(self, creds: list[str], port: int, stats: Stats, args: argparse.Namespace,
                 work: float) -> None:  # fmt: skip
        self.stop_event = asyncio.Event()
        self.nodes = [
            SimNode(i, c, port, stats, work, args.wait, args.max_backoff)
            for i, c in enumerate(creds)
        ]
        self.tasks = [asyncio.create_task(n.run(self.stop_event)) for n in self.nodes]

    async def ready(self, timeout: float = 60) -> None:
        """Until every node has polled once (and the last ones are parked)."""
        deadline = time.monotonic() + timeout
        while any(n.polled == 0 and n.online.is_set() for n in self.nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("the nodes did not all poll")
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        self.stop_event.set()
        for n in self.nodes:
            n.online.set()
        await asyncio.sleep(0)
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for n in self.nodes:
            n.conn.close()


# -- what the server says ----------------------------------------------------------------


def measure_url(url: str) -> str:
    return url.split("&application_name=")[0]


def server_state(url: str) -> dict[str, Any]:
    """Commands, invocations and window executions of the scenario's schema."""
    from sqlalchemy import create_engine, text

    engine = create_engine(measure_url(url), pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            commands = conn.execute(
                text("SELECT id, status, status_details, target_count FROM commands")
            ).all()
            invocations = conn.execute(
                text(
                    "SELECT id, command_id, node_id, status, status_details, deliveries, "
                    "claimed_by FROM invocations"
                )
            ).all()
            executions = conn.execute(
                text("SELECT id, status, status_details, claimed_by FROM window_executions")
            ).all()
    finally:
        engine.dispose()
    return {"commands": commands, "invocations": invocations, "executions": executions}


def lost_commands(state: dict[str, Any], stats: Stats) -> tuple[int, list[str]]:
    """Commands not ended with every invocation accounted for (see the module), and why."""
    by_command: dict[str, list[Any]] = {}
    for inv in state["invocations"]:
        by_command.setdefault(inv.command_id, []).append(inv)
    lost, why = set(), []
    for cmd in state["commands"]:
        invs = by_command.get(cmd.id, [])
        open_ = [i for i in invs if i.status not in TERMINAL_INVOCATION]
        if cmd.status not in TERMINAL_COMMAND or open_ or len(invs) != cmd.target_count:
            lost.add(cmd.id)
            why.append(
                f"command {cmd.id} {cmd.status}: {len(invs)}/{cmd.target_count} invocations, "
                f"{len(open_)} not ended"
            )
    status = {i.id: i for i in state["invocations"]}
    for inv_id, reported in stats.acked.items():
        inv = status.get(inv_id)
        answer = stats.answers.get(inv_id, {})
        if inv is None or (answer.get("accepted") and inv.status != reported):
            lost.add(inv.command_id if inv else inv_id)
            why.append(f"invocation {inv_id}: reported {reported}, server has "
                       f"{inv.status if inv else 'nothing'}")  # fmt: skip
    for ex in state["executions"]:
        if ex.status not in TERMINAL_EXECUTION:
            lost.add(ex.id)
            why.append(f"window execution {ex.id} {ex.status}: {ex.status_details}")
    return len(lost), why


async def until_ended(url: str, bound: float, want_execution: bool = False) -> float | None:
    """Monotonic time when every command (and window execution) had ended; None if not
    within ``bound`` seconds."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        try:
            state = await asyncio.to_thread(server_state, url)
        except Exception:  # the database may be restarting
            state = None
        if state is not None:
            cmds_done = all(c.status in TERMINAL_COMMAND for c in state["commands"])
            invs_done = all(i.status in TERMINAL_INVOCATION for i in state["invocations"])
            ex_done = all(e.status in TERMINAL_EXECUTION for e in state["executions"])
            if cmds_done and invs_done and ex_done and (state["executions"] or not want_execution):
                return time.monotonic()
        await asyncio.sleep(0.5)
    return None


@dataclass
class Row:
    scenario: str
    failed: int | str
    lost: int | str
    twice: int | str
    redelivered: int | str
    recover: str
    notes: str
    problems: list[str] = field(default_factory=list)

    @property
    def bad(self) -> bool:
        return (
            bool(self.problems)
            or (isinstance(self.lost, int) and self.lost > 0)
            or (isinstance(self.twice, int) and self.twice > 0)
        )


def secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def fleet_row(name: str, url: str, stats: Stats, fault: float, ended: float | None,
              notes: list[str]) -> Row:  # fmt: skip
    state = server_state(url)
    lost, why = lost_commands(state, stats)
    twice = sum(1 for c in stats.executions.values() if c > 1)
    redelivered = sum(1 for i in state["invocations"] if i.deliveries > 1)
    rec = stats.recovery(fault)
    recover = (
        f"first poll {secs(rec['poll'])}, claim {secs(rec['claim'])}, report "
        f"{secs(rec['report'])}; last failure {secs(rec['last_failure'])}; every node "
        f"{secs(rec['all_nodes'])}; all ended "
        + (secs(ended - fault) if ended else "NOT within the bound")
    )
    executed = sum(stats.executions.values())
    invs = len(state["invocations"])
    codes = ", ".join(f"{k}x{v}" for k, v in sorted(stats.codes.items())) or "none"
    notes = [
        f"{len(state['commands'])} commands, {invs} invocations, {executed} executions, "
        f"{stats.handed_again} handed again after running",
        f"failures by kind:status {codes}",
        *notes,
    ]
    return Row(name, stats.failed, lost, twice, redelivered, recover, "; ".join(notes), why)


def nginx_note(cluster: Any) -> str:
    """What nginx's error log says about the upstreams (it retries 502/503 on the next
    replica and, with every replica failing, answers 502 itself)."""
    nginx = getattr(cluster, "nginx", None)
    path = getattr(nginx, "log", None)
    if path is None or not Path(path).exists():
        return "nginx log: -"
    text = Path(path).read_text(errors="replace")
    return (
        f"nginx: {text.count('no live upstreams')} x 'no live upstreams', "
        f"{text.count('prematurely closed')} x 'upstream prematurely closed', "
        f"{text.count('Connection refused')} x 'connection refused'"
    )


def app_url(url: str, schema_tag: str) -> str:
    """The servers' URL: the run's own ``application_name`` (what terminate-backends and
    nothing else may kill)."""
    return f"{url}&application_name=pw-chaos-{schema_tag}"


def schema_of(url: str) -> str:
    return url.split("search_path%3D")[1].split("&")[0]


# -- scenarios -----------------------------------------------------------------------------


WINDOW_WAVES = [1, "10%", "25%"]


def window_document(at: datetime) -> dict[str, Any]:
    return {
        "apiVersion": "patchwarden/v1",
        "kind": "MaintenanceWindow",
        "metadata": {"name": "chaos"},
        "spec": {
            "Schedule": f"at({at:%Y-%m-%dT%H:%M:%S})",
            "Duration": 1,
            "Cutoff": 0,
            "Targets": [{"Key": "InstanceIds", "Values": ["*"]}],
            "Tasks": [
                {
                    "Name": "install",
                    "MaxConcurrency": WINDOW_WAVES,
                    "MaxErrors": "10%",
                    "TaskInvocationParameters": {
                        "RunCommand": {"Parameters": {"Operation": "Install",
                                                      "RebootOption": "NoReboot"}}
                    },
                }
            ],
        },
    }  # fmt: skip


def claims_by_replica(url: str) -> Counter[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(measure_url(url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT claimed_by, count(*) FROM invocations WHERE claimed_by IS NOT NULL "
                    "GROUP BY claimed_by"
                )
            ).all()
            owner = conn.execute(text("SELECT claimed_by FROM window_executions")).scalar()
    finally:
        engine.dispose()
    out = Counter({r[0]: r[1] for r in rows})
    out["__window__"] = 0
    return out if owner is None else out + Counter({f"__window__{owner}": 1})


async def kill_replica(args: argparse.Namespace) -> Row:
    with database("postgresql") as url:
        creds = [c for _, c in register_nodes(url, args.nodes)]
        token = admin_token(url)
        env = {**QUIET_LOOPS, "PATCHWARDEN_SCHEDULER_INTERVAL": "1"}
        with Cluster(url, 3, nginx=True, env=env) as cluster:
            stats = Stats()
            op = Operator(cluster.url, token, stats)
            fleet = Fleet(creds, cluster.port, stats, args, args.work)
            notes: list[str] = []
            try:
                await fleet.ready()
                at = (datetime.now(UTC) + timedelta(seconds=5)).replace(microsecond=0)
                await op.call("POST", "/api/v1/windows", window_document(at))
                log(f"kill-replica: window at {at:%H:%M:%S}, {len(creds)} nodes")
                # mid-wave: once 40 % of the nodes are done and a wave is running
                deadline = time.monotonic() + args.bound
                while time.monotonic() < deadline:
                    state = await asyncio.to_thread(server_state, url)
                    done = sum(1 for i in state["invocations"] if i.status == "Success")
                    running = sum(1 for i in state["invocations"] if i.status == "InProgress")
                    if done >= 0.4 * len(creds) and running:
                        break
                    await asyncio.sleep(0.2)
                counts = await asyncio.to_thread(claims_by_replica, url)
                owner = next((k[10:] for k in counts if k.startswith("__window__") and k[10:]), "")
                by_id = {r.replica_id: r for r in cluster.replicas}
                if args.kill == "scheduler" and owner in by_id:
                    victim = by_id[owner]
                else:
                    best = max((c for c in counts.items() if c[0] in by_id), key=lambda c: c[1])
                    victim = by_id[best[0]]
                claims = {by_id[k].port: v for k, v in counts.items() if k in by_id}
                waves = len({i.command_id for i in state["invocations"]})
                fault = time.monotonic()
                victim.kill9()
                log(f"kill-replica: SIGKILL replica :{victim.port} ({victim.replica_id}) "
                    f"with {done} done, {running} running, wave {waves}")  # fmt: skip
                notes.append(
                    f"killed replica :{victim.port} during wave {waves} of "
                    f"{len(creds)} nodes' window ({done} done, {running} running); claims per "
                    f"replica port before: {claims}; it ran the window execution: "
                    f"{'yes' if victim.replica_id == owner else 'no'}"
                )
                ended = await until_ended(url, args.bound, want_execution=True)
                after = await asyncio.to_thread(server_state, url)
                ex = after["executions"][0] if after["executions"] else None
                if ex is not None:
                    owner_port = by_id[ex.claimed_by].port if ex.claimed_by in by_id else "?"
                    notes.append(
                        f"window execution {ex.status} ({ex.status_details or '-'}), last "
                        f"advanced by replica :{owner_port}; waves: "
                        f"{len({i.command_id for i in after['invocations']})}"
                    )
                t0 = time.monotonic()
                await asyncio.to_thread(victim.restart)
                notes.append(f"killed replica restarted in {time.monotonic() - t0:.1f} s")
                notes.append(nginx_note(cluster))
                await asyncio.sleep(1)
            finally:
                await fleet.stop()
                await op.close()
            return fleet_row("kill -9 a replica mid-wave", url, stats, fault, ended, notes)


async def command_under_fault(
    args: argparse.Namespace, name: str, fault_fn: Any, replicas: int = 2
) -> Row:
    """A Scan to every node (MaxConcurrency 20 %) through ``replicas`` replicas behind
    nginx; ``fault_fn(url, notes)`` (a coroutine) runs once a quarter of the nodes are done."""
    with database("postgresql") as url:
        tag = schema_of(url)
        creds = [c for _, c in register_nodes(url, args.nodes)]
        token = admin_token(url)
        with Cluster(app_url(url, tag), replicas, nginx=True, env=QUIET_LOOPS) as cluster:
            stats = Stats()
            op = Operator(cluster.url, token, stats)
            fleet = Fleet(creds, cluster.port, stats, args, args.work)
            notes: list[str] = []
            watching = asyncio.Event()

            async def watch(command_id: str) -> None:  # the operator follows the command
                while not watching.is_set():
                    with contextlib.suppress(RuntimeError):
                        await op.call("GET", f"/api/v1/commands/{command_id}", tries=1)
                    await asyncio.sleep(0.5)

            try:
                await fleet.ready()
                sent = await op.call("POST", "/api/v1/commands", {
                    "DocumentName": "AWS-RunPatchBaseline",
                    "Parameters": {"Operation": "Scan"},
                    "Targets": [{"Key": "InstanceIds", "Values": ["*"]}],
                    "MaxConcurrency": "20%", "MaxErrors": "0",
                })  # fmt: skip
                command_id = sent.get("command_id") or sent.get("id") or sent["CommandId"]
                watcher = asyncio.create_task(watch(command_id))
                while sum(stats.executions.values()) < 0.25 * len(creds):
                    await asyncio.sleep(0.1)
                log(f"{name}: fault at {sum(stats.executions.values())} executions")
                fault = time.monotonic()
                await fault_fn(url, notes)
                ended = await until_ended(url, args.bound)
                watching.set()
                await watcher
                await asyncio.sleep(1)
            finally:
                await fleet.stop()
                await op.close()
            logs = [r.log.read_text(errors="replace") for r in cluster.replicas]
            keep = Path(tempfile.gettempdir()) / "pw-chaos-logs"
            keep.mkdir(exist_ok=True)
            for r, text in zip(cluster.replicas, logs, strict=True):
                (keep / f"{name.split()[0]}-{r.port}.log").write_text(text)
            notes.append(nginx_note(cluster))
            dead = [r.port for r in cluster.replicas if not r.alive()]
            notes.append(f"replicas that died: {dead or 'none'} (logs in {keep})")
            tracebacks = sum(text.count("Traceback") for text in logs)
            internal = sum(text.count(" 500 ") for text in logs)
            notes.append(f"server logs: {tracebacks} tracebacks, {internal} lines with ' 500 '")
            return fleet_row(name, url, stats, fault, ended, notes)


async def pg_restart(args: argparse.Namespace) -> Row:
    async def restart(url: str, notes: list[str]) -> None:
        t0 = time.monotonic()
        done = await asyncio.to_thread(
            subprocess.run,
            ["pg_ctlcluster", args.pg_version, "main", "restart", "-m", "fast"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        took = time.monotonic() - t0
        notes.append(f"pg_ctlcluster {args.pg_version} main restart -m fast: exit "
                     f"{done.returncode} in {took:.1f} s {done.stderr.strip()[:200]}")  # fmt: skip
        log(notes[-1])

    return await command_under_fault(args, "restart PostgreSQL under load", restart)


async def terminate_backends(args: argparse.Namespace) -> Row:
    async def terminate(url: str, notes: list[str]) -> None:
        import psycopg

        name = f"pw-chaos-{schema_of(url)}"
        killed, rounds = 0, 0
        stop_at = time.monotonic() + args.terminate_seconds

        def loop() -> None:
            nonlocal killed, rounds
            with psycopg.connect(
                "host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True
            ) as conn:
                while time.monotonic() < stop_at:
                    rows = conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = 'test' AND application_name = %s "
                        "AND pid <> pg_backend_pid()",
                        (name,),
                    ).fetchall()
                    killed += sum(1 for (ok,) in rows if ok)
                    rounds += 1
                    time.sleep(0.2)

        await asyncio.to_thread(loop)
        notes.append(
            f"{killed} server connections terminated in {rounds} rounds over "
            f"{args.terminate_seconds:g} s (application_name = '{name}' only)"
        )
        log(notes[-1])

    return await command_under_fault(args, "terminate backends every 200 ms", terminate)


async def agent_cutoff(args: argparse.Namespace) -> Row:
    count = min(args.nodes, 20)
    with database("postgresql") as url:
        creds = [c for _, c in register_nodes(url, count)]
        ids = [c.split(".")[0] for c in creds]
        token = admin_token(url)
        with Cluster(url, 1, nginx=False, env=QUIET_LOOPS) as cluster:
            stats = Stats()
            op = Operator(cluster.url, token, stats)
            fleet = Fleet(creds, cluster.port, stats, args, 0.5)
            a, b, c = fleet.nodes[0], fleet.nodes[1], fleet.nodes[2]
            notes: list[str] = []
            try:
                await fleet.ready()
                a.cut()  # A: away long before the command exists (no poll left parked)
                await asyncio.sleep(args.wait + 2)
                c.cut()  # C: away just before, its last long-poll still parked on the server
                b.cut_after_execute = True  # B: away right after running its invocation
                t_sent = time.monotonic()
                first = await op.call("POST", "/api/v1/commands", {
                    "DocumentName": "AWS-RunPatchBaseline",
                    "Parameters": {"Operation": "Scan"},
                    "InstanceIds": ids,
                    "MaxConcurrency": "100%", "MaxErrors": "100%",
                    "TimeoutSeconds": 30, "ExecutionTimeoutSeconds": 10,
                })  # fmt: skip
                first_id = first.get("command_id") or first.get("id") or first["CommandId"]
                while not stats.executions or b.online.is_set():
                    await asyncio.sleep(0.1)
                away = args.cutoff_seconds
                log(f"agent-cutoff: A and B away for {away:g} s")
                await asyncio.sleep(max(0.0, t_sent + away - time.monotonic()))
                fault = time.monotonic()  # here: the moment they come back
                b_inv = next(iter(b.journal))
                for node in (a, b, c):
                    node.online.set()
                await asyncio.sleep(args.wait + 3)  # each polled (A: an empty answer)
                second = await op.call("POST", "/api/v1/commands", {
                    "DocumentName": "AWS-RunPatchBaseline",
                    "Parameters": {"Operation": "Scan"},
                    "InstanceIds": ids[:3], "MaxConcurrency": "100%",
                    "TimeoutSeconds": 60,
                })  # fmt: skip
                second_id = second.get("command_id") or second.get("id") or second["CommandId"]
                ended = await until_ended(url, args.bound)
                await asyncio.sleep(0.5)
            finally:
                await fleet.stop()
                await op.close()
            state = server_state(url)
            inv = {(i.command_id, i.node_id): i for i in state["invocations"]}
            ia, ib, ic = (inv[(first_id, ids[k])] for k in range(3))
            a_ran, c_ran = stats.executions[ia.id], stats.executions[ic.id]
            k = 3600 / args.cutoff_seconds
            notes.append(
                f"cut off {args.cutoff_seconds:g} s against TimeoutSeconds 30 / "
                f"ExecutionTimeoutSeconds 10 (x{k:.0f}: an hour away against timeouts of "
                f"{30 * k / 60:.0f} and {10 * k / 60:.0f} min); 'claim' is the second command, "
                f"sent {args.wait + 3:g} s after their return"
            )
            notes.append(
                f"A (away before delivery): {ia.status} / {ia.status_details}, deliveries "
                f"{ia.deliveries}, executed {a_ran}x"
            )
            notes.append(
                f"C (away with a long-poll parked on the server): {ic.status} / "
                f"{ic.status_details}, deliveries {ic.deliveries}, executed {c_ran}x"
            )
            notes.append(
                f"B (away after running, reported late): {ib.status} / {ib.status_details}, "
                f"executed {stats.executions[ib.id]}x, late report answered "
                f"{stats.answers.get(b_inv, 'never')}"
            )
            c2 = [i for i in state["invocations"] if i.command_id == second_id]
            notes.append(
                "second command after their return: " + ", ".join(f"{i.status}" for i in c2)
            )
            problems: list[str] = []
            for label, i, ran in (("A", ia, a_ran), ("C", ic, c_ran)):
                if ran or i.status not in ("TimedOut", "Undeliverable", "Cancelled"):
                    problems.append(f"{label}: {i.status} executed {ran}")
            row = fleet_row("agent cut off (an hour, scaled)", url, stats, fault, ended, notes)
            row.problems += problems
            if problems and isinstance(row.lost, int):
                row.lost += 1
            return row


# -- disk full ------------------------------------------------------------------------------


def synthetic_tracker(packages: int, cves: int) -> bytes:
    """A Debian security tracker JSON with ``packages`` x ``cves`` open bookworm issues."""
    out = {}
    for p in range(packages):
        out[f"chaospkg{p:06d}"] = {
            f"CVE-2099-{p * cves + c:07d}": {
                "description": "synthetic issue for bench/chaos.py disk-full " + "x" * 60,
                "scope": "local",
                "releases": {
                    "bookworm": {
                        "status": "resolved",
                        "repositories": {"bookworm": "1.0-1"},
                        "fixed_version": "1.0-2",
                        "urgency": "medium",
                    }
                },
            }
            for c in range(cves)
        }
    return json.dumps(out).encode()


class FeedHttp:
    """Files served on 127.0.0.1 (a thread)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:
                body = files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(ConnectionError):  # the client ran out of disk
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def cli(home: Path, *argv: str) -> tuple[int, str, str, float]:
    env = {**os.environ, "PATCHWARDEN_HOME": str(home)}
    t0 = time.monotonic()
    done = subprocess.run(
        [PATCHWARDEN, *argv], env=env, capture_output=True, text=True, check=False, timeout=300
    )
    return done.returncode, done.stdout, done.stderr, time.monotonic() - t0


def status_json(home: Path) -> tuple[int, Any]:
    """``db status --format json``: exit code and the files it lists (URL, time, records,
    SHA-256), or its error."""
    code, out, err, _ = cli(home, "db", "status", "--format", "json")
    try:
        return code, json.loads(out)["files"]
    except (ValueError, KeyError):
        return code, err.strip()


def disk_full(args: argparse.Namespace) -> Row:
    tmp = Path(tempfile.mkdtemp(prefix="pw-chaos-disk-"))
    mnt = tmp / "home"
    mnt.mkdir()
    small = (ROOT / "tests/data/feeds/debian-tracker/tracker-osvdev.json").read_bytes()
    big_download = synthetic_tracker(4000, 10)  # ~10 MB: the download does not fit
    big_build = synthetic_tracker(1500, 4)  # ~1.5 MB: the download fits, the rebuild not
    feeds = FeedHttp({"/small.json": small, "/big.json": big_download, "/build.json": big_build})
    notes: list[str] = []
    problems: list[str] = []
    failed = 0
    recover = "-"
    mounted = False
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={args.disk_size}", "tmpfs",
                        str(mnt)], check=True)  # fmt: skip
        mounted = True
        code, _, err, _ = cli(
            mnt, "db", "update", "--url", f"debian-tracker={feeds.url('/small.json')}"
        )
        if code != 0:
            raise RuntimeError(f"the first update failed: {err.strip()}")
        _, before = status_json(mnt)
        db_file = mnt / "vulndb.sqlite"
        size = db_file.stat().st_size
        notes.append(f"tmpfs {args.disk_size}; database after the first update: {size // 1024} KiB")
        for label, path in (("download", "/big.json"), ("rebuild", "/build.json")):
            body = {"/big.json": big_download, "/build.json": big_build}[path]
            code, _, err, took = cli(
                mnt, "db", "update", "--url", f"debian-tracker={feeds.url(path)}"
            )
            lines = [ln for ln in err.strip().splitlines() if ln.strip()]
            sc, after = status_json(mnt)
            leftovers = sorted(p.name for p in mnt.iterdir() if p.name != "vulndb.sqlite")
            intact = sc == 0 and after == before
            failed += code != 0
            notes.append(
                f"disk full during the {label} ({len(body) // 1024} KiB feed): exit {code} in "
                f"{took:.1f} s, stderr {len(lines)} line(s): {lines[-1] if lines else ''!r}; "
                f"db status exit {sc}, previous database intact: {intact}; files left: "
                f"{leftovers or 'none'}"
            )
            log(notes[-1])
            if code == 0:
                problems.append(f"{label}: the update did not fail on a full disk")
            if len(lines) != 1 or "Traceback" in err:
                problems.append(f"{label}: stderr is not one line: {err[-800:]}")
            if not intact:
                problems.append(f"{label}: previous database not intact: {after}")
        t0 = time.monotonic()
        subprocess.run(["mount", "-o", "remount,size=256m", str(mnt)], check=True)
        code, _, err, took = cli(
            mnt, "db", "update", "--url", f"debian-tracker={feeds.url('/build.json')}"
        )
        sc, after = status_json(mnt)
        recover = (
            f"update after freeing space: exit {code} in {took:.1f} s "
            f"(from the remount: {time.monotonic() - t0:.1f} s)"
        )
        notes.append(f"after `mount -o remount,size=256m`: update exit {code}, db status exit {sc}")
        if code != 0:
            problems.append(f"update after freeing space failed: {err.strip()}")
    finally:
        feeds.close()
        if mounted:
            subprocess.run(["umount", str(mnt)], check=False)
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return Row(
        "disk full during `db update`", f"{failed} of 3 updates (the 2 on a full disk)",
        "n/a" if not problems else f"{len(problems)} problems", "n/a", "n/a", recover,
        "; ".join(notes), problems,
    )  # fmt: skip


# -- the run -------------------------------------------------------------------------------


SCENARIOS: dict[str, Any] = {
    "kill-replica": kill_replica,
    "pg-restart": pg_restart,
    "terminate-backends": terminate_backends,
    "agent-cutoff": agent_cutoff,
    "disk-full": disk_full,
}


def table(rows: list[Row]) -> str:
    lines = [
        "| scenario | requests failed | commands lost | invocations run twice | re-deliveries "
        "| time to recover | notes |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.scenario} | {r.failed} | {r.lost} | {r.twice} | {r.redelivered} "
            f"| {r.recover} | {r.notes} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="all", choices=["all", *SCENARIOS])
    parser.add_argument("--nodes", type=int, default=300)
    parser.add_argument("--wait", type=float, default=20.0, help="long-poll wait (s)")
    parser.add_argument("--work", type=float, default=1.0, help="seconds a node works")
    parser.add_argument("--max-backoff", type=float, default=8.0, help="agents' back-off cap")
    parser.add_argument("--bound", type=float, default=150.0, help="seconds a run may take")
    parser.add_argument(
        "--kill",
        choices=["claims", "scheduler"],
        default="claims",
        help="kill-replica: the replica with most claims, or the window's",
    )
    parser.add_argument("--terminate-seconds", type=float, default=20.0)
    parser.add_argument("--cutoff-seconds", type=float, default=45.0)
    parser.add_argument("--disk-size", default="2m", help="tmpfs size for disk-full")
    parser.add_argument("--pg-version", default="15")
    args = parser.parse_args()
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    rows: list[Row] = []
    for name in names:
        log(f"scenario {name}")
        fn = SCENARIOS[name]
        row: Row = aio(fn(args)) if asyncio.iscoroutinefunction(fn) else fn(args)
        rows.append(row)
        print(table([row]).splitlines()[-1], file=sys.stderr, flush=True)
        for p in row.problems:
            log(f"{name}: PROBLEM {p}")
    print(f"{args.nodes} simulated nodes, long-poll {args.wait:g} s, work {args.work:g} s, "
          f"back-off cap {args.max_backoff:g} s, bound {args.bound:g} s; "
          f"{os.cpu_count()} CPUs.\n")  # fmt: skip
    print(table(rows))
    return 1 if any(r.bad for r in rows) else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
