"""Benchmark: ``patchwarden image build`` of the example image versus plain ``mmdebstrap`` +
``umoci`` making the same root into a one-layer image.

Everything is offline and private: a local ``copy://`` mirror is made in a temporary
directory from apt's cached .debs (``examples/images/support/local-mirror.py``), every run
gets a fresh temporary ``PATCHWARDEN_HOME`` (no vulnerability database there, so the build's
scan step is *skipped*; no pipeline, so nothing is pushed).  Per repetition, interleaved:

- **reference**: ``SOURCE_DATE_EPOCH=… mmdebstrap --variant=minbase bookworm OUT.tar
  "deb [trusted=yes] copy://MIRROR bookworm main"``, then ``umoci init`` + ``umoci new`` +
  ``umoci raw add-layer OUT.tar`` + ``umoci config`` with the recipe's label: the example
  image's content without its component;
- **build**: ``patchwarden image build DOCS --recipe web-base --no-distribute --no-tests -q
  --source-date-epoch 1735689600 -f json``, DOCS being ``examples/images/web-base.yaml``
  with its mirror pointed at the temporary one (bootstrap, the component's build and
  validate phases in chroot, clean, collect, deterministic tar, ``umoci``);
- **build + tests**: the same with ``--tests`` (the test phase runs in a ``cp -a`` copy of
  the root).

Child processes run without ``PYTHONDONTWRITEBYTECODE`` (bytecode caches are used, as an
installed patchwarden would).  Prints Markdown tables: medians and ratios to the reference,
and the build log's stages (``steps[].phase`` / ``durationSeconds``) of the last run of
each build row.  Not a test: nothing asserts on time.  Run as root:
``.venv/bin/python bench/image_build.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples/images/web-base.yaml"
MIRROR_SCRIPT = REPO / "examples/images/support/local-mirror.py"
EXAMPLE_MIRROR = "copy:///var/lib/patchwarden-example/repo"
EPOCH = 1735689600
LABEL = "org.example.team=platform"
TOOLS = ("mmdebstrap", "umoci", "apt-ftparchive", "dpkg", "cp")


def fail(message: str) -> None:
    sys.exit(f"bench/image_build.py: {message}")


def child_env(**extra: str) -> dict[str, str]:
    """This environment without PYTHONDONTWRITEBYTECODE (``env -u``), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


def sh(argv: list[str], env: dict[str, str] | None = None) -> str:
    """Run ``argv``; its stdout; a one-line exit on failure."""
    result = subprocess.run(argv, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [ln for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
        fail(f"{' '.join(argv[:3])}: exited {result.returncode}: {lines[-1] if lines else ''}")
    return result.stdout


def preflight() -> None:
    """One line and exit 1 when this machine cannot run the benchmark."""
    if os.geteuid() != 0:
        fail("run as root (mmdebstrap and the build's chroot need it)")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        fail(
            f"{', '.join(missing)}: command not found (apt-get install mmdebstrap umoci apt-utils)"
        )
    check = subprocess.run(
        [sys.executable, str(MIRROR_SCRIPT), "--check"], capture_output=True, text=True
    )
    if check.returncode != 0:
        fail(f"apt's cache lacks the minbase .debs (make image-debs): {check.stderr.strip()}")


def reference(mirror: Path, work: Path, arch: str) -> dict[str, float]:
    """mmdebstrap to a tar, then a one-layer image of it with umoci; seconds per part."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    tar, layout = work / "root.tar", work / "layout"
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH))
    began = time.perf_counter()
    sh(
        [
            "mmdebstrap", "--quiet", "--variant=minbase", "bookworm", str(tar),
            f"deb [trusted=yes] copy://{mirror} bookworm main",
        ],
        child_env(SOURCE_DATE_EPOCH=str(EPOCH)),
    )  # fmt: skip
    bootstrapped = time.perf_counter()
    sh(["umoci", "init", "--layout", str(layout)])
    sh(["umoci", "new", "--image", f"{layout}:base"])
    sh(
        [
            "umoci", "raw", "add-layer", "--image", f"{layout}:base", "--tag", "bench",
            "--history.created", created, str(tar),
        ]
    )  # fmt: skip
    sh(
        [
            "umoci", "config", "--image", f"{layout}:bench", "--created", created,
            "--no-history", "--os", "linux", "--architecture", arch, "--config.label", LABEL,
        ]
    )  # fmt: skip
    done = time.perf_counter()
    shutil.rmtree(work)
    return {"mmdebstrap (to a tar)": bootstrapped - began, "umoci": done - bootstrapped}


def build(pw: str, docs: Path, home: Path, tests: bool) -> tuple[float, dict[str, object]]:
    """One ``image build`` in a fresh ``home``: (seconds, the record as JSON)."""
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    argv = [
        pw, "image", "build", str(docs), "--recipe", "web-base", "--no-distribute",
        "--tests" if tests else "--no-tests", "-q", "--source-date-epoch", str(EPOCH),
        "-f", "json",
    ]  # fmt: skip
    began = time.perf_counter()
    result = subprocess.run(
        argv, env=child_env(PATCHWARDEN_HOME=str(home)), capture_output=True, text=True
    )
    seconds = time.perf_counter() - began
    try:
        record = json.loads(result.stdout)
    except ValueError:
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        fail(f"image build exited {result.returncode}: {lines[-1] if lines else 'no output'}")
    if record.get("status") != "AVAILABLE":
        fail(f"image build ended {record.get('status')}: {record.get('reason')}")
    shutil.rmtree(home)
    return seconds, record


def stages(record: dict[str, object], wall: float) -> list[tuple[str, str, float]]:
    """(stage, status, seconds) from the build log: builder stages as they are, a
    component's steps summed per phase, and what the log does not cover."""
    rows: dict[str, tuple[str, float]] = {}
    steps = record.get("steps")
    assert isinstance(steps, list)
    for step in steps:
        name = (
            f"component {step['component']}, {step['phase']} phase (chroot steps)"
            if step["component"]
            else f"{step['phase']} ({step['action']})"
        )
        status, seconds = rows.get(name, (step["status"], 0.0))
        rows[name] = (status, seconds + float(step["durationSeconds"]))
    logged = sum(seconds for _, seconds in rows.values())
    out = [(name, status, seconds) for name, (status, seconds) in rows.items()]
    out.append(
        (
            "outside the log (start-up, documents; removing the root after AVAILABLE)",
            "",
            wall - logged,
        )
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each row (median)")
    args = parser.parse_args()
    preflight()
    pw = str(Path(sys.executable).parent / "patchwarden")
    if not os.access(pw, os.X_OK):
        fail(f"{pw}: not found (make venv)")
    arch = sh(["dpkg", "--print-architecture"]).strip()
    with tempfile.TemporaryDirectory(prefix="pw-bench-build-") as tmp:
        work = Path(tmp)
        mirror = work / "mirror"
        sh([sys.executable, str(MIRROR_SCRIPT), str(mirror)])
        text = EXAMPLE.read_text()
        if EXAMPLE_MIRROR not in text:
            fail(f"{EXAMPLE}: no {EXAMPLE_MIRROR} line to point at the temporary mirror")
        docs = work / "web-base.yaml"
        docs.write_text(text.replace(EXAMPLE_MIRROR, f"copy://{mirror}"))
        times: dict[str, list[float]] = {"reference": [], "build": [], "tests": []}
        parts: dict[str, list[float]] = {}
        last: dict[str, tuple[float, dict[str, object]]] = {}
        for run in range(args.repeat):
            for part, seconds in reference(mirror, work / "ref", arch).items():
                parts.setdefault(part, []).append(seconds)
            times["reference"].append(sum(parts[p][-1] for p in parts))
            for key, tests in (("build", False), ("tests", True)):
                last[key] = build(pw, docs, work / "home", tests)
                times[key].append(last[key][0])
            print(
                f"run {run + 1}/{args.repeat}: "
                + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()),
                file=sys.stderr,
            )
        packages = last["build"][1].get("packageCount")
    ref = statistics.median(times["reference"])
    names = {
        "reference": "`mmdebstrap` to a tar + `umoci init/new/raw add-layer/config` (reference)",
        "build": "`patchwarden image build --no-tests` (scan skipped: no vulnerability database)",
        "tests": "`patchwarden image build --tests` (same, plus the test phase in a copy)",
    }
    print(f"\nminbase bookworm from a local copy:// mirror, {packages} packages, ")
    print(f"median of {args.repeat} (runs: seconds each)\n")
    print("| what | median s | runs | vs reference |")
    print("|---|---:|---|---:|")
    for key, values in times.items():
        runs = ", ".join(f"{v:.2f}" for v in values)
        median = statistics.median(values)
        print(f"| {names[key]} | {median:.2f} | {runs} | {median / ref:.2f}\u00d7 |")
    print("\nreference by part (median s): ", end="")
    print(", ".join(f"{p} {statistics.median(v):.2f}" for p, v in parts.items()))
    for key in ("build", "tests"):
        wall, record = last[key]
        print(f"\nstages of the last `{key}` run ({wall:.2f} s):\n")
        print("| stage | status | s | share |")
        print("|---|---|---:|---:|")
        for name, status, seconds in stages(record, wall):
            print(f"| {name} | {status} | {seconds:.2f} | {seconds / wall:.0%} |")


if __name__ == "__main__":
    main()
