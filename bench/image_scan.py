"""Benchmark: ``patchwarden image scan`` of a ~50 MB layer versus reading the layer alone and
versus ``umoci unpack`` + ``patchwarden scan --root --vulns`` of the unpacked root.

The image is made here, offline: a root with a copy of part of this host's ``/usr`` (until
``--megabytes`` of files, uncompressed), the host's dpkg status database and os-release,
packed by ``umoci`` into one gzip layer.  A small vulnerability database is imported from a
generated Debian tracker file (a finding for a few of the host's source packages), so both
scans do the same assessment.

- **read only**: gzip-decompress the layer and walk its tar stream (Python ``tarfile``, every
  member, no file kept): the floor of any streaming reader;
- **image scan (in process)**: :class:`~patchwarden.adapters.image.reader.OciImageReader`
  ``.read`` (whiteouts, kept files, dpkg parsing) — what ``image scan`` adds to the floor;
- **image scan (CLI)**: ``patchwarden image scan -f json REF`` (a process: start-up, reading,
  assessment, rendering);
- **unpack + scan --root**: ``umoci unpack`` into a fresh directory, then ``patchwarden scan
  --root DIR/rootfs --vulns -f json`` — what scanning an image took before ``image scan``.

Prints Markdown tables of best-of-N times and ratios.  Not a test: nothing asserts on time.
Usage: ``.venv/bin/python bench/image_scan.py [--runs 3] [--megabytes 140]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SOURCES = ("usr/lib/python3.11", "usr/lib/python3", "usr/bin", "usr/lib/x86_64-linux-gnu")


def sh(argv: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def copy_usr(root: Path, budget: int) -> int:
    """Copy regular files of the host's ``SOURCES`` into ``root`` until ``budget`` bytes."""
    total = 0
    for source in SOURCES:
        base = Path("/") / source
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if total >= budget:
                return total
            if path.is_symlink() or not path.is_file():
                continue
            dest = root / path.relative_to("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copy2(path, dest)
            except OSError:
                continue
            total += dest.stat().st_size
    return total


def build_image(work: Path, budget: int) -> tuple[Path, Path]:
    """(layout, layer blob) of a one-layer image of a partial copy of this host."""
    root = work / "root"
    (root / "etc").mkdir(parents=True)
    (root / "var/lib/dpkg").mkdir(parents=True)
    shutil.copy2("/var/lib/dpkg/status", root / "var/lib/dpkg/status")
    shutil.copy("/etc/os-release", root / "etc/os-release")  # follows the symlink
    size = copy_usr(root, budget)
    layout = work / "layout"
    sh(["umoci", "init", "--layout", str(layout)])
    sh(["umoci", "new", "--image", f"{layout}:bench"])
    bundle = work / "bundle"
    sh(["umoci", "unpack", "--image", f"{layout}:bench", str(bundle)])
    sh(["cp", "-a", f"{root}/.", str(bundle / "rootfs")])
    sh(["umoci", "repack", "--image", f"{layout}:bench", str(bundle)])
    shutil.rmtree(bundle)
    shutil.rmtree(root)
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].split(":", 1)[1]
    manifest = json.loads((layout / "blobs/sha256" / manifest_digest).read_text())
    layer = layout / "blobs/sha256" / manifest["layers"][0]["digest"].split(":", 1)[1]
    print(
        f"image: {size / 1e6:.0f} MB of files, one gzip layer of "
        f"{layer.stat().st_size / 1e6:.1f} MB",
        file=sys.stderr,
    )
    return layout, layer


def tracker_db(work: Path, env: dict[str, str]) -> None:
    """A small vulnerability database: one open CVE for a few of the host's sources."""
    sources = []
    for block in Path("/var/lib/dpkg/status").read_text(errors="replace").split("\n\n"):
        for line in block.splitlines():
            if line.startswith("Source: ") or line.startswith("Package: "):
                sources.append(line.split()[1])
                break
    release = {"status": "open", "repositories": {}, "urgency": "high"}
    tracker = {
        name: {f"CVE-2099-{i:04d}": {"releases": {"bookworm": release}, "description": ""}}
        for i, name in enumerate(sorted(set(sources))[:50])
    }
    feeds = work / "feeds"
    feeds.mkdir()
    (feeds / "tracker.json").write_text(json.dumps(tracker))
    sh([str(Path(sys.executable).parent / "patchwarden"), "db", "import", str(feeds)], env)


def read_only(layer: Path) -> None:
    """Decompress and walk every member: tarfile's own streaming gzip (zlib), as fast as
    Python reads a layer (``gzip.open`` is slower)."""
    with layer.open("rb") as raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
        for _ in tar:
            pass


def best(runs: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--megabytes", type=int, default=140, help="uncompressed files copied")
    args = parser.parse_args()
    for tool in ("umoci",):
        if shutil.which(tool) is None:
            sys.exit(f"bench/image_scan.py needs {tool} (apt-get install {tool})")
    from patchwarden.adapters.image.reader import OciImageReader

    pw = str(Path(sys.executable).parent / "patchwarden")
    with tempfile.TemporaryDirectory(prefix="pw-bench-image-") as tmp:
        work = Path(tmp)
        layout, layer = build_image(work, args.megabytes * 1_000_000)
        env = {**os.environ, "PATCHWARDEN_HOME": str(work / "home")}
        tracker_db(work, env)
        ref = f"{layout}:bench"

        def unpack_and_scan() -> None:
            target = work / "unpacked"
            shutil.rmtree(target, ignore_errors=True)
            sh(["umoci", "unpack", "--image", ref, str(target)])
            sh([pw, "scan", "--root", str(target / "rootfs"), "--vulns", "-f", "json"], env)

        packages = OciImageReader().read(ref).facts.package_count
        layer_mb = layer.stat().st_size / 1e6

        def cli_scan() -> None:
            sh([pw, "image", "scan", "-f", "json", ref], env)

        rows = [
            (
                "read only (gunzip + tar walk, in process)",
                best(args.runs, lambda: read_only(layer)),
            ),
            ("image reader only (in process)", best(args.runs, lambda: OciImageReader().read(ref))),
            ("`patchwarden image scan -f json` (CLI)", best(args.runs, cli_scan)),
            ("`umoci unpack` + `scan --root --vulns -f json`", best(args.runs, unpack_and_scan)),
        ]
    floor = rows[0][1]
    cli = rows[2][1]
    print(f"\none gzip layer of {layer_mb:.1f} MB, {packages} dpkg packages, best of {args.runs}\n")
    print("| what | seconds | / read only | / image scan CLI |")
    print("|---|---:|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {seconds / floor:.2f} | {seconds / cli:.2f} |")


if __name__ == "__main__":
    main()
