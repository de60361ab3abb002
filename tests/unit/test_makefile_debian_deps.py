"""``make test``'s ``debian-deps`` says what it installs on the host, and why, before apt-get
changes anything (apt-get and sudo are stubs here: nothing is installed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

STUB = """#!/bin/sh
echo "apt-get $*" >> "{log}"
case "$*" in
  *" -s "*) echo "Inst lz4 (1.9.4-1 Debian:12/stable [amd64])";
           echo "Inst libc6 [2.36-9] (2.36-9+deb12u9 Debian:12/stable [amd64])" ;;
esac
"""


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_debian_deps_announces_packages_before_installing(tmp_path: Path) -> None:
    log = tmp_path / "apt.log"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("apt-get", "sudo"):
        stub = bindir / name
        body = STUB if name == "apt-get" else '#!/bin/sh\nexec "$@"\n'
        stub.write_text(body.format(log=log), encoding="utf-8")
        stub.chmod(0o755)
    result = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "debian-deps", "DEB_TOOLS=no-such-tool-pw sh"],
        env={**os.environ, "PATH": f"{bindir}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout
    assert "no-such-tool-pw" in out  # why: the missing tool
    assert "dpkg-dev apt-utils" in out  # what: the packages
    assert "upgrade" in out
    assert "libc6" in out  # what apt-get itself will install or upgrade
    calls = log.read_text(encoding="utf-8").splitlines()
    assert calls[-1].startswith("apt-get install -y")
