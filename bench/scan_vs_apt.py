"""Benchmark: `patchwarden scan --format json` on this host versus `apt list --upgradable`.

Both run in the same invocation, interleaved, as separate processes (what a user types).

- cold: a fresh PATCHWARDEN_HOME each run (no inventory cache, empty first-seen database);
- warm: the same PATCHWARDEN_HOME as the previous run, indices unchanged;
- peak memory: the maximum resident set of each process (``wait4`` rusage).

Prints a Markdown table of medians and ratios (Patchwarden / apt).  Not a test: nothing
asserts on time.  Usage: ``.venv/bin/python bench/scan_vs_apt.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(argv: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    """(seconds, peak RSS in MiB, exit code) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss // 1024, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("patchwarden"))
    apt = shutil.which("apt")
    if apt is None:
        print("apt not found: this benchmark needs a Debian-family host", file=sys.stderr)
        return 3
    base_env = {**os.environ, "LC_ALL": "C.UTF-8"}
    cold, warm, ref, mem_cold, mem_warm = [], [], [], [], []
    warm_home = tempfile.mkdtemp(prefix="pw-bench-warm-")
    run([exe, "scan", "--format", "json"], {**base_env, "PATCHWARDEN_HOME": warm_home})
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="pw-bench-cold-") as home:
            t, m, rc = run(
                [exe, "scan", "--format", "json"], {**base_env, "PATCHWARDEN_HOME": home}
            )
            assert rc == 0, f"patchwarden scan exited {rc}"
            cold.append(t)
            mem_cold.append(m)
        t, m, _ = run(
            [exe, "scan", "--format", "json"], {**base_env, "PATCHWARDEN_HOME": warm_home}
        )
        warm.append(t)
        mem_warm.append(m)
        t, _, _ = run([apt, "list", "--upgradable"], base_env)
        ref.append(t)
    shutil.rmtree(warm_home, ignore_errors=True)
    apt_med = statistics.median(ref)
    rows = [
        ("apt list --upgradable (reference)", apt_med, None, 1.0),
        (
            "patchwarden scan --format json, cold",
            statistics.median(cold),
            max(mem_cold),
            statistics.median(cold) / apt_med,
        ),
        (
            "patchwarden scan --format json, warm",
            statistics.median(warm),
            max(mem_warm),
            statistics.median(warm) / apt_med,
        ),
    ]
    print(f"runs: {args.runs} (median), host: {os.uname().nodename}, cores: {os.cpu_count()}")
    print("| command | median s | peak RSS MiB | ratio vs apt |")
    print("|---|---|---|---|")
    for name, secs, mem, ratio in rows:
        print(f"| {name} | {secs:.3f} | {mem if mem is not None else '-'} | {ratio:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
