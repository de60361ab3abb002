"""Benchmark: ``patchwarden db import`` of a Debian-tracker-sized JSON, and lookups.

1. Synthesises a JSON of the tracker's shape (``{source: {CVE: {description, releases:
   {codename: {status, repositories, fixed_version, urgency, nodsa…}}}}}``): by default
   50,000 CVEs over 30,000 source packages, 3 or 4 releases per (package, CVE), realistic
   statuses (mostly resolved, some ``fixed_version "0"``, open, no-dsa ignored/postponed,
   undetermined, end-of-life), a few very large packages (``linux``, ``chromium`` …).
2. Times ``patchwarden db import FILE`` as a separate process and takes its peak RSS
   (``wait4`` rusage); as the reference, ``json.load`` of the same file in a process.
3. Times ``advisories("Debian:12", names)`` for a 5,000-package inventory (4,000 names
   with advisories, 1,000 without), median of the runs.

Prints a Markdown table.  Not a test: nothing asserts on time.  Usage:
``.venv/bin/python bench/vulndb_import.py [--cves N] [--packages N] [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RELEASES = ("buster", "bullseye", "bookworm", "trixie", "sid")
NUMBERS = {"buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13", "sid": "sid"}
BIG = ("linux", "chromium", "firefox-esr", "thunderbird", "webkit2gtk", "php8.2", "qemu", "xen")
URGENCY = ("unimportant", "low", "medium", "high", "not yet assigned", "low**", "medium**")
WORDS = ["buffer", "overflow", "in", "the", "parser", "allows", "remote", "attackers", "to",
         "cause", "a", "denial", "of", "service"]  # fmt: skip

# Shim for checkouts where the lead has not yet wired the db group into cli/main.py.
SHIM = (
    "import sys; from patchwarden.cli import db, main; "
    "main._command_groups = lambda: [db.register]; main.main(sys.argv[1:])"
)


def release_entry(rng: random.Random, codename: str, version: str) -> dict[str, object]:
    """One ``releases[codename]`` value with a realistic status mix."""
    roll = rng.random()
    repos = {codename: version}
    if codename != "sid" and rng.random() < 0.5:
        repos[f"{codename}-security"] = f"{version}+deb{NUMBERS[codename]}u2"
    if roll < 0.62:
        fixed = "0" if rng.random() < 0.12 else f"{version}+deb{NUMBERS[codename]}u1"
        return {"status": "resolved", "repositories": repos, "fixed_version": fixed,
                "urgency": rng.choice(URGENCY)}  # fmt: skip
    if codename == "buster" and roll < 0.8:
        return {"status": "open", "repositories": repos, "urgency": "end-of-life"}
    entry: dict[str, object] = {"status": "open", "repositories": repos, "urgency": "low"}
    if roll < 0.75:
        entry["nodsa"] = "Minor issue"
        if rng.random() < 0.5:
            entry["nodsa_reason"] = rng.choice(("ignored", "postponed"))
    elif roll > 0.95:
        entry["status"] = "undetermined"
    return entry


def synthesise(path: Path, cves: int, packages: int, seed: int = 3) -> tuple[int, list[str]]:
    """Write the tracker-shaped JSON; (number of (package, CVE, release) entries, names)."""
    rng = random.Random(seed)
    names = [*BIG, *(f"src{i:05d}" for i in range(packages - len(BIG)))]
    by_package: dict[str, list[int]] = {}
    for cve in range(cves):
        if cve < packages:  # every package has at least one CVE
            owners = [names[cve]]
        elif rng.random() < 0.2:
            owners = [rng.choice(BIG)]
        else:
            owners = [rng.choice(names)]
        if rng.random() < 0.25:
            owners.append(rng.choice(names))
        for owner in dict.fromkeys(owners):
            by_package.setdefault(owner, []).append(cve)
    entries = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("{")
        for n, (package, ids) in enumerate(by_package.items()):
            version = f"{rng.randint(1, 30)}.{rng.randint(0, 20)}-{rng.randint(1, 5)}"
            body: dict[str, object] = {}
            for cve in ids:
                chosen = rng.sample(RELEASES, rng.choice((3, 4)))
                entries += len(chosen)
                desc = " ".join(rng.choices(WORDS, k=rng.randint(25, 60)))
                body[f"CVE-{2005 + cve % 20}-{10000 + cve}"] = {
                    "description": desc.capitalize() + ".",
                    "scope": "remote",
                    "debianbug": 1_000_000 + cve,
                    "releases": {c: release_entry(rng, c, version) for c in chosen},
                }
            out.write(("," if n else "") + json.dumps(package) + ":" + json.dumps(body))
        out.write("}")
    return entries, list(by_package)


def run(argv: list[str]) -> tuple[float, int, int]:
    """(seconds, peak RSS in MiB, exit code) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if proc.stderr:
        sys.stderr.write(proc.stderr.read().decode())
        proc.stderr.close()
    return elapsed, usage.ru_maxrss // 1024, os.waitstatus_to_exitcode(status)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cves", type=int, default=50_000)
    parser.add_argument("--packages", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from patchwarden.adapters.vulndb import SqliteVulnDb

    exe = Path(sys.executable).with_name("patchwarden")
    wired = subprocess.run([exe, "db", "--help"], capture_output=True).returncode == 0
    cli = [str(exe)] if wired else [sys.executable, "-c", SHIM]
    with tempfile.TemporaryDirectory(prefix="pw-bench-vulndb-") as tmp:
        feed = Path(tmp) / "json"
        t0 = time.perf_counter()
        entries, names = synthesise(feed, args.cves, args.packages)
        made = time.perf_counter() - t0
        size = feed.stat().st_size / (1 << 20)
        ref = run([sys.executable, "-c", f"import json; json.load(open({str(feed)!r}))"])
        imports = []
        for n in range(args.runs):
            db_path = Path(tmp) / f"db{n}" / "vulndb.sqlite"
            secs, rss, rc = run([*cli, "db", "import", str(feed), "--db", str(db_path)])
            assert rc == 0, f"db import exited {rc}"
            imports.append((secs, rss))
        store = SqliteVulnDb(db_path)
        rng = random.Random(5)
        inventory = rng.sample(names, 4000) + [f"absent{i}" for i in range(1000)]
        lookups, found = [], 0
        for _ in range(max(args.runs, 5)):
            t0 = time.perf_counter()
            found = len(store.advisories("Debian:12", inventory))
            lookups.append(time.perf_counter() - t0)
        db_size = db_path.stat().st_size / (1 << 20)
        records = sum(f.records for f in store.feeds())
        store.close()
    imp_s = statistics.median(s for s, _ in imports)
    imp_m = max(m for _, m in imports)
    print(
        f"input: {args.cves:,} CVEs over {len(names):,} source packages, {entries:,} release "
        f"entries, {size:.1f} MiB JSON (synthesised in {made:.1f} s); database {db_size:.1f} MiB, "
        f"{records:,} advisories; runs: {args.runs} (median); cores: {os.cpu_count()}"
        + ("" if wired else "; db group not wired in cli/main.py yet: run through a shim")
    )
    print("| step | median s | peak RSS MiB | target |")
    print("|---|---|---|---|")
    print(f"| `json.load` of the file (reference: whole-file parse) | {ref[0]:.2f} | {ref[1]} | |")
    print(f"| `patchwarden db import FILE` | {imp_s:.2f} | {imp_m} | < 30 s, < 500 MiB |")
    print(
        f"| `advisories()` for 5,000 packages ({found:,} advisories) | "
        f"{statistics.median(lookups):.3f} | - | |"
    )
    print(f"\nimport / json.load: {imp_s / ref[0]:.1f}x time, {imp_m / ref[1]:.2f}x peak memory")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
