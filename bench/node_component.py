"""Benchmark: the node component (stdlib-only, a node's own Python) against the full agent.

One ``patchwarden server`` process (SQLite, a temporary home) on loopback.  The managed
root is a copy of this host's apt facts (dpkg status, apt's lists, ``etc/apt``,
os-release, machine-id), so nothing on the host changes and nothing leaves loopback.

- **bundle**: the zipapp the server serves, against what ``pip install patchwarden`` puts
  on a node for the full agent (the installed files of the package and of its runtime
  dependencies, recursively; no extras);
- **inventory round**: ``BUNDLE run --once`` on Python 3.6, 3.10 and 3.11 — collect and
  hash the facts, upload the bodies the server lacks (gzip), let the server rebuild and
  collect the root — against the full agent's ``patchwarden agent run --once`` (collect
  locally, upload the inventory), both as processes: seconds and the process's own peak
  resident set;
  *cold* = the first node on this mirror (every body is uploaded), *shared* = another node
  with the same lists (only the hashes travel), *warm* = the same node again (nothing is
  hashed again);
- **bytes on the wire** for the cold and the shared node (gzip bodies).

Prints Markdown tables.  Not a test: nothing asserts on time.  Usage::

    .venv/bin/python bench/node_component.py [--runs 5]
"""

from __future__ import annotations

import argparse
import glob
import gzip
import importlib.metadata as md
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from patchwarden.adapters.bundle import build_bundle

PYENV = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv"))
HOST_FILES = (
    "var/lib/dpkg/status",
    "var/lib/dpkg/arch",
    "etc/os-release",
    "usr/lib/os-release",
    "etc/machine-id",
    "etc/hostname",
)


def interpreters() -> dict[str, str]:
    found = {}
    for version in ("3.6", "3.10"):
        builds = sorted(glob.glob(str(PYENV / "versions" / f"{version}.*" / "bin" / "python")))
        if builds:
            found[version] = builds[-1]
    found["3.11"] = sys.executable
    return found


def copy_host_root(dest: Path) -> None:
    for rel in HOST_FILES:
        src = Path("/") / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src.resolve(), dest / rel)
    lists = dest / "var/lib/apt/lists"
    lists.mkdir(parents=True)
    for f in Path("/var/lib/apt/lists").iterdir():
        if f.is_file() and f.name != "lock":
            shutil.copy2(f, lists / f.name)
    shutil.copytree("/etc/apt", dest / "etc/apt", symlinks=True)


PEAK = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(code)\n"
)
"""A small parent that reports its child's peak RSS (KiB): a child forked from this large
benchmark process would count the benchmark's own pages in its ``ru_maxrss``."""


def run(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(seconds, peak RSS in MiB) of one process, which must succeed."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-S", "-c", PEAK, *argv], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:4]} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return elapsed, int(proc.stdout.split()[-1]) // 1024


def start_server(home: Path) -> tuple[subprocess.Popen[str], str, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = str(Path(sys.executable).with_name("patchwarden"))
    proc = subprocess.Popen(
        [exe, "server", "--port", str(port), "--database-url", f"sqlite:///{home}/server.db"],
        env={**os.environ, "PATCHWARDEN_HOME": str(home), "PATCHWARDEN_ASSESS_INTERVAL": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    token = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("initial admin token"):
            token = line.rsplit(" ", 1)[1].strip()
        if "listening on" in line:
            break
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, url, token


def wire_bytes(blobs: Path, before: set[Path]) -> tuple[int, int]:
    """(files, gzip bytes) of the blobs stored since ``before``."""
    new = [p for p in blobs.rglob("*") if p.is_file() and p not in before and len(p.name) == 64]
    return len(new), sum(len(gzip.compress(p.read_bytes(), 6)) for p in new)


def installed_size(name: str, seen: set[str]) -> int:
    """Bytes of the files of distribution ``name`` and its runtime requirements."""
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        return 0
    seen.add(key)
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        return 0
    total = 0
    for f in dist.files or ():
        path = Path(str(dist.locate_file(f)))
        if path.is_file():
            total += path.stat().st_size
    for req in dist.requires or ():
        if "extra ==" in req:
            continue
        total += installed_size(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0], seen)
    return total


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not Path("/var/lib/apt/lists").is_dir():
        print("this benchmark needs a Debian-family host", file=sys.stderr)
        return 3
    work = Path(tempfile.mkdtemp(prefix="pw-bench-node-"))
    try:
        return measure(work, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(work: Path, runs: int) -> int:
    bundle = build_bundle(work / "bundle")
    full = installed_size("patchwarden", set())
    print("| what | size |\n|---|---:|")
    print(f"| node bundle `{bundle.path.name}` | {bundle.size / 1024:.0f} KiB |")
    print(f"| full agent: patchwarden + runtime dependencies, installed | {full / 2**20:.1f} MiB |")
    print(f"| ratio | {bundle.size / full:.4f}x |\n")

    root = work / "root"
    copy_host_root(root)
    home = work / "server"
    server, url, token = start_server(home)
    try:
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        pythons = interpreters()
        activation = api.post(
            "/api/v1/activations", json={"registration_limit": 2 * len(pythons) + 2}
        ).json()
        env = {**os.environ, "LC_ALL": "C.UTF-8"}
        rows: list[tuple[str, str, float, int]] = []
        blobs = home / "blobs"
        traffic: list[tuple[str, int, int]] = []
        for i, (version, python) in enumerate(pythons.items()):
            states = [work / f"node-{version}-{n}" for n in range(2)]
            for state in states:
                reg = [python, str(bundle.path), "register", "--server", url, "--root", str(root)]
                reg += ["--state-dir", str(state), "--activation-id"]
                reg += [activation["activation_id"], "--activation-code"]
                reg += [activation["activation_code"]]
                run(reg, env)
            once = ["run", "--once", "--poll-wait", "0", "--state-dir"]
            first = "cold" if i == 0 else "shared"
            for label, state in ((first, states[0]), ("shared", states[1])):
                before = {p for p in blobs.rglob("*")} if blobs.exists() else set()
                t, m = run([python, str(bundle.path), *once, str(state)], env)
                rows.append((f"node, Python {version}", label, t, m))
                if i == 0:
                    traffic.append((label, *wire_bytes(blobs, before)))
            again = [python, str(bundle.path), *once, str(states[0])]
            warm = [run(again, env) for _ in range(runs)]
            rows.append(
                (
                    f"node, Python {version}",
                    "warm",
                    median([w[0] for w in warm]),
                    int(median([w[1] for w in warm])),
                )
            )
        agent_state = work / "agent"
        exe = str(Path(sys.executable).with_name("patchwarden"))
        agent_env = {**env, "PATCHWARDEN_HOME": str(work / "agent-home")}
        reg = [exe, "agent", "register", "--server", url, "--root", str(root), "--state-dir"]
        reg += [str(agent_state), "--activation-id", activation["activation_id"]]
        reg += ["--activation-code", activation["activation_code"]]
        run(reg, agent_env)
        once = [exe, "agent", "run", "--once", "--poll-wait", "0", "--state-dir", str(agent_state)]
        t, m = run(once, agent_env)
        rows.append(("full agent (reference), Python 3.11", "cold", t, m))
        warm = [run(once, agent_env) for _ in range(runs)]
        ref_warm = median([w[0] for w in warm])
        rows.append(
            (
                "full agent (reference), Python 3.11",
                "warm",
                ref_warm,
                int(median([w[1] for w in warm])),
            )
        )
        ref = {label: (t, m) for who, label, t, m in rows if who.startswith("full")}
        print("| process | round | s | ratio vs full agent | peak RSS MiB | ratio |")
        print("|---|---|---:|---:|---:|---:|")
        for who, label, t, m in rows:
            rt, rm = ref["warm" if label == "warm" else "cold"]
            print(f"| {who} | {label} | {t:.3f} | {t / rt:.2f}x | {m} | {m / rm:.2f}x |")
        print("\n| node on this mirror | bodies uploaded | gzip bytes on the wire |")
        print("|---|---:|---:|")
        for label, files, size in traffic:
            print(f"| {label} | {files} | {size / 2**20:.2f} MiB |")
        nodes = api.get("/api/v1/nodes").json()
        print(f"\n({len(nodes) if isinstance(nodes, list) else nodes} nodes registered)")
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
