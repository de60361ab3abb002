#!/usr/bin/env python3
"""Make a local Debian mirror (a ``copy://`` dists layout) from the .debs in apt's cache.

    python3 examples/images/support/local-mirror.py DIR [--packages FILE] [--suite bookworm]
    python3 examples/images/support/local-mirror.py --check [--packages FILE]
    python3 examples/images/support/local-mirror.py DIR --publish FILE.deb…

FILE lists package names (default: minbase-bookworm.txt next to this script: what
``mmdebstrap --variant=minbase bookworm`` installs).  The newest cached version of each is
copied to DIR/pool and indexed with apt-ftparchive, so that

    mmdebstrap --variant=minbase bookworm ROOT "deb [trusted=yes] copy://DIR bookworm main"

works without a network.  ``--check`` exits 1 when a package has no .deb in the cache (fill
it with ``apt-get install --reinstall --download-only $(cat FILE)``, which needs the network
once).  ``--publish`` adds .debs to an existing mirror and indexes it again (a new version
of a package, as a security update would be).  Standard library and apt-utils/dpkg only.
"""

import argparse
import os
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

CACHE = Path("/var/cache/apt/archives")
HERE = Path(__file__).resolve().parent


def cached(names):
    """name -> (version, file) of the newest cached .deb of each name."""
    best = {}
    for entry in CACHE.glob("*.deb"):
        parts = entry.name[: -len(".deb")].split("_")
        if len(parts) != 3 or parts[0] not in names:
            continue
        name, version = parts[0], urllib.parse.unquote(parts[1])
        if name in best:
            newer = subprocess.run(["dpkg", "--compare-versions", version, "gt", best[name][0]])
            if newer.returncode != 0:
                continue
        best[name] = (version, entry)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", type=Path)
    parser.add_argument("--packages", type=Path, default=HERE / "minbase-bookworm.txt")
    parser.add_argument("--suite", default="bookworm")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--publish", nargs="+", type=Path, metavar="FILE.deb")
    args = parser.parse_args()
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if args.publish:
        if args.dir is None or not (args.dir / "pool").is_dir():
            parser.error("--publish needs the DIR of an existing mirror")
        for deb in args.publish:
            shutil.copy2(deb, args.dir / "pool" / deb.name)
        index(args.dir, args.suite, arch)
        print(f"local-mirror: published {' '.join(d.name for d in args.publish)} in {args.dir}")
        return 0
    names = set(args.packages.read_text().split())
    best = cached(names)
    missing = sorted(names - set(best))
    if missing:
        print(
            f"local-mirror: {len(missing)} package(s) not in {CACHE}: {' '.join(missing[:8])}"
            f"{' …' if len(missing) > 8 else ''} (apt-get install --reinstall --download-only "
            f"$(cat {args.packages}))",
            file=sys.stderr,
        )
        return 1
    if args.check:
        return 0
    if args.dir is None:
        parser.error("DIR is required (or --check)")
    pool = args.dir / "pool"
    if args.dir.exists():
        shutil.rmtree(args.dir)
    pool.mkdir(parents=True)
    for _version, path in best.values():
        shutil.copy2(path, pool / path.name)
    index(args.dir, args.suite, arch)
    print(
        f"local-mirror: {len(best)} packages in {args.dir} (deb [trusted=yes] copy://{args.dir.resolve()} {args.suite} main)"
    )
    return 0


def index(mirror, suite, arch):
    """Write the mirror's Packages and Release files for what its pool holds."""
    binary = mirror / "dists" / suite / "main" / f"binary-{arch}"
    binary.mkdir(parents=True, exist_ok=True)
    with open(binary / "Packages", "w") as out:
        subprocess.run(["apt-ftparchive", "packages", "pool"], cwd=mirror, stdout=out, check=True)
    options = [
        f"-oAPT::FTPArchive::Release::{key}={value}"
        for key, value in (
            ("Suite", suite),
            ("Codename", suite),
            ("Architectures", arch),
            ("Components", "main"),
        )
    ]
    release = subprocess.run(
        ["apt-ftparchive", *options, "release", f"dists/{suite}"],
        cwd=mirror,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (mirror / "dists" / suite / "Release").write_text(release)


if __name__ == "__main__":
    sys.exit(main())
