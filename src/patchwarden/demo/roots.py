"""Sandbox roots: Debian 12 directory trees that real apt and dpkg manage (``dpkg --root``).

apt runs through the product's own ``APT_CONFIG`` recipe
(:func:`patchwarden.adapters.os.apt.execute.apt_env`), exactly as the agent runs it, so the
host's dpkg database and apt configuration are never read or written.  The demo packages
have no maintainer scripts: nothing runs inside (or outside) a root, and no root privilege
is needed (:data:`NOT_ROOT`).
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from patchwarden.adapters.os.apt.execute import apt_env
from patchwarden.demo.packages import RELEASE, SECURITY, run

OS_RELEASE = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"""

NOT_ROOT = """\
// patchwarden demo: dpkg may install into this sandbox root as an ordinary user too (the
// files are then owned by that user; as root this changes nothing).  The agent's installs
// read it as well: apt reads the root's apt.conf.d.
DPkg::Options:: "--force-not-root";
"""

DIRECTORIES = (
    "etc/apt/apt.conf.d",
    "etc/apt/preferences.d",
    "etc/apt/sources.list.d",
    "var/lib/dpkg/info",
    "var/lib/dpkg/updates",
    "var/lib/dpkg/triggers",
    "var/lib/dpkg/alternatives",
    "var/lib/apt/lists/partial",
    "var/cache/apt/archives/partial",
    "var/log/apt",
    "run",
)


@cache
def host_arch() -> str:
    """The host's dpkg architecture (apt in a sandbox root uses it as the native one)."""
    out = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() or "amd64"


def make_root(root: Path, hostname: str, repo: Path, installed: Mapping[str, str]) -> Path:
    """A Debian 12 root named ``hostname`` whose sources are the demo repository, with
    exactly ``installed`` ({package: version}) installed by apt-get."""
    for directory in DIRECTORIES:
        (root / directory).mkdir(parents=True, exist_ok=True)
    for empty in ("var/lib/dpkg/status", "var/lib/dpkg/available"):
        (root / empty).touch()
    (root / "etc/os-release").write_text(OS_RELEASE)
    (root / "etc/hostname").write_text(f"{hostname}\n")
    (root / "etc/machine-id").write_text(hashlib.md5(str(root).encode()).hexdigest() + "\n")
    (root / "etc/apt/apt.conf.d/99patchwarden-demo").write_text(NOT_ROOT)
    (root / "etc/apt/sources.list").write_text(
        "".join(f"deb [trusted=yes] file:{repo} {suite} main\n" for suite in (RELEASE, SECURITY))
    )
    specs = [f"{name}={version}" for name, version in sorted(installed.items())]
    with apt_env(str(root), host_arch()) as env:
        run(["apt-get", "-q", "update"], env=env)
        run(["apt-get", "-y", "-q", "--no-install-recommends", "install", *specs], env=env)
    return root
