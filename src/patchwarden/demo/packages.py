"""The demo's packages: tiny real .debs in a local apt repository, and the vulnerability
feed that names their CVEs.

Four packages, published in a ``bookworm`` suite and its ``bookworm-security`` pocket:
``libdemo1``, ``webapp`` and ``demodb`` each have a security update whose changelog names
the CVEs it fixes; ``demo-tools`` has a plain bug-fix update in the release and a CVE that
no version fixes yet.  :func:`tracker_feed` writes the same facts in the Debian security
tracker's JSON format, so the server's findings and the packages' changelogs agree.  The
CVE ids are from the year 2099: they are examples, not real vulnerabilities.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from patchwarden.errors import EnvironmentProblem

MAINTAINER = "Patchwarden Demo <demo@patchwarden.invalid>"
RELEASE = "bookworm"
SECURITY = "bookworm-security"
SUITES: dict[str, dict[str, str]] = {
    RELEASE: {"Origin": "Debian", "Label": "Debian", "Codename": RELEASE, "Version": "12.8"},
    SECURITY: {
        "Origin": "Debian",
        "Label": "Debian-Security",
        "Codename": SECURITY,
        "Version": "12",
    },
}
"""The repository's suites and their Release fields (what apt's pinning and the baselines'
``PRODUCT``/security classification read)."""


@dataclass(frozen=True)
class Cve:
    """A vulnerability of a demo source package."""

    id: str
    urgency: str
    """The tracker's urgency: ``low``, ``medium``, ``high``."""
    summary: str


@dataclass(frozen=True)
class DemoDeb:
    """One version of one binary package, published in one suite."""

    suite: str
    name: str
    version: str
    source: str
    change: str
    """The changelog line of this version."""
    fixes: tuple[Cve, ...] = ()
    depends: str = ""
    section: str = "misc"


LIBDEMO_CVES = (
    Cve("CVE-2099-1001", "high", "heap overflow in libdemo's request parser"),
    Cve("CVE-2099-1002", "medium", "libdemo follows symlinks when rotating its logs"),
)
WEBAPP_CVES = (Cve("CVE-2099-2001", "high", "webapp: authentication bypass via a crafted cookie"),)
DEMODB_CVES = (Cve("CVE-2099-3001", "medium", "demodb: a replication peer can read any table"),)
UNFIXED = {
    "demo-tools": Cve("CVE-2099-4001", "low", "demo-tools writes its cache world-readable"),
}
"""Vulnerabilities no version fixes yet (findings without a fix)."""

CATALOG: tuple[DemoDeb, ...] = (
    DemoDeb(RELEASE, "libdemo1", "1.0-1", "demo", "Initial release.", section="libs"),
    DemoDeb(
        SECURITY,
        "libdemo1",
        "1.0-1+deb12u1",
        "demo",
        "Security update.",
        fixes=LIBDEMO_CVES,
        section="libs",
    ),
    DemoDeb(RELEASE, "webapp", "2.0-1", "webapp", "Initial release.", depends="libdemo1 (>= 1.0)"),
    DemoDeb(
        SECURITY,
        "webapp",
        "2.0-1+deb12u1",
        "webapp",
        "Security update.",
        fixes=WEBAPP_CVES,
        depends="libdemo1 (>= 1.0)",
    ),
    DemoDeb(RELEASE, "demodb", "3.0-1", "demodb", "Initial release.", section="database"),
    DemoDeb(
        SECURITY,
        "demodb",
        "3.0-1+deb12u1",
        "demodb",
        "Security update.",
        fixes=DEMODB_CVES,
        section="database",
    ),
    DemoDeb(RELEASE, "demo-tools", "1.0-1", "demo-tools", "Initial release.", section="utils"),
    DemoDeb(
        RELEASE,
        "demo-tools",
        "1.1-1",
        "demo-tools",
        "New upstream bug-fix release: faster log rotation.",
        section="utils",
    ),
)
"""Every .deb of the demo repository, oldest version of each package first."""


def oldest() -> dict[str, str]:
    """{package: its first version} (what an unpatched node has installed)."""
    found: dict[str, str] = {}
    for deb in CATALOG:
        found.setdefault(deb.name, deb.version)
    return found


def newest(suites: Sequence[str] = (RELEASE, SECURITY)) -> dict[str, str]:
    """{package: its last version in these suites}."""
    return {deb.name: deb.version for deb in CATALOG if deb.suite in suites}


def run(
    argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> str:
    """Run a tool (an argv list) and return its stdout; a failure is one line, exit 3."""
    import os

    try:
        proc = subprocess.run(
            list(argv),
            cwd=cwd,
            env={**os.environ, "LC_ALL": "C.UTF-8", **(env or {})},
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=300,
            check=False,
        )
    except OSError as exc:
        raise EnvironmentProblem(f"{argv[0]}: {exc.strerror or exc}") from None
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(f"{argv[0]} did not finish within 300 s") from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise EnvironmentProblem(f"{' '.join(argv[:2])} failed: {last}")
    return proc.stdout


def _changelog(deb: DemoDeb) -> bytes:
    """``changelog.Debian.gz``: every version of the package up to this one, newest first."""
    history = [d for d in CATALOG if d.name == deb.name]
    history = history[: history.index(deb) + 1]
    entries = []
    for n, d in enumerate(reversed(history)):
        urgency = "high" if d.fixes else "medium"
        lines = [d.change] + [f"Fix {c.id}: {c.summary}." for c in d.fixes]
        body = "\n".join(f"  * {line}" for line in lines)
        date = f"Mon, {1 + len(history) - n:02d} Dec 2026 12:00:00 +0000"
        entries.append(
            f"{d.source} ({d.version}) {d.suite}; urgency={urgency}\n\n{body}\n\n"
            f" -- {MAINTAINER}  {date}\n"
        )
    return gzip.compress("\n".join(entries).encode(), mtime=0)


def build_deb(deb: DemoDeb, workdir: Path) -> Path:
    """Build one .deb with ``dpkg-deb`` (no maintainer scripts: nothing runs on install)."""
    tree = workdir / f"{deb.name}_{deb.version}"
    (tree / "DEBIAN").mkdir(parents=True)
    share = tree / "usr/share" / deb.name
    share.mkdir(parents=True)
    (share / "VERSION").write_text(f"{deb.name} {deb.version}\n")
    doc = tree / "usr/share/doc" / deb.name
    doc.mkdir(parents=True)
    (doc / "changelog.Debian.gz").write_bytes(_changelog(deb))
    control = {
        "Package": deb.name,
        "Source": deb.source if deb.source != deb.name else "",
        "Version": deb.version,
        "Architecture": "all",
        "Maintainer": MAINTAINER,
        "Installed-Size": "4",
        "Depends": deb.depends,
        "Section": deb.section,
        "Priority": "optional",
        "Description": f"Patchwarden demo package {deb.name}\n Built by `patchwarden demo`.",
    }
    (tree / "DEBIAN/control").write_text("".join(f"{k}: {v}\n" for k, v in control.items() if v))
    out = workdir / f"{deb.name}_{deb.version}_all.deb"
    run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(tree), str(out)])
    shutil.rmtree(tree)
    return out


def build_repo(path: Path, arch: str) -> Path:
    """Build every .deb of :data:`CATALOG` and publish them at ``path`` (``pool/<suite>/``,
    ``dists/<suite>/main/binary-<arch>/Packages`` and ``Release``, with apt-ftparchive).
    Returns ``path``; nodes use it as ``deb [trusted=yes] file:<path> <suite> main``."""
    work = path / "build"
    work.mkdir(parents=True)
    for deb in CATALOG:
        pool = path / "pool" / deb.suite / "main"
        pool.mkdir(parents=True, exist_ok=True)
        shutil.move(build_deb(deb, work), pool)
    shutil.rmtree(work)
    for suite, fields in SUITES.items():
        dist = path / "dists" / suite
        binary = dist / "main" / f"binary-{arch}"
        binary.mkdir(parents=True)
        packages = run(["apt-ftparchive", "packages", f"pool/{suite}/main"], cwd=path)
        (binary / "Packages").write_text(packages)
        (binary / "Packages.gz").write_bytes(gzip.compress(packages.encode(), mtime=0))
        options = {**fields, "Suite": suite, "Architectures": arch, "Components": "main"}
        argv = ["apt-ftparchive"]
        for key, value in options.items():
            argv += ["-o", f"APT::FTPArchive::Release::{key}={value}"]
        (dist / "Release").write_text(run([*argv, "release", str(dist)]))
    return path


def tracker_feed() -> dict[str, object]:
    """The demo packages' vulnerabilities as a Debian security tracker JSON document
    (``https://security-tracker.debian.org/tracker/data/json``'s format), which
    ``patchwarden db import`` reads like the real one."""
    feed: dict[str, dict[str, object]] = {}
    for deb in CATALOG:
        for cve in deb.fixes:
            first = oldest()[deb.name]
            feed.setdefault(deb.source, {})[cve.id] = {
                "description": f"{cve.summary} (a demo example, not a real CVE)",
                "scope": "remote",
                "releases": {
                    RELEASE: {
                        "status": "resolved",
                        "fixed_version": deb.version,
                        "urgency": cve.urgency,
                        "repositories": {RELEASE: first, SECURITY: deb.version},
                    }
                },
            }
    for name, cve in UNFIXED.items():
        source = next(d.source for d in CATALOG if d.name == name)
        feed.setdefault(source, {})[cve.id] = {
            "description": f"{cve.summary} (a demo example, not a real CVE)",
            "scope": "local",
            "releases": {
                RELEASE: {
                    "status": "open",
                    "urgency": cve.urgency,
                    "repositories": {RELEASE: newest()[name]},
                }
            },
        }
    return dict(feed)


def write_tracker_feed(path: Path) -> Path:
    """Write :func:`tracker_feed` to ``path`` (JSON)."""
    path.write_text(json.dumps(tracker_feed(), indent=1) + "\n")
    return path
