"""A root filesystem that ``chroot ROOT /bin/bash`` can run: the host's own binaries (bash,
coreutils) and the shared libraries ``ldd`` lists, copied into the root, plus the device
nodes a debootstrapped root has (``/dev/null``, ``/dev/zero``, ``/dev/urandom``).  Quicker and more
robust here than a debootstrap (no network, no apt cache needed); the copies are regular
files of the test's temporary directory, so nothing of the host changes."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterable
from pathlib import Path

TOOLS = ("bash", "cat", "sleep", "rm", "touch", "mkdir", "ls", "id", "echo", "test")
_LIB = re.compile(r"(/\S+)")


def _libraries(binary: str) -> list[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False).stdout
    found = []
    for line in out.splitlines():
        if "=>" in line:
            line = line.split("=>", 1)[1]
        match = _LIB.search(line)
        if match and os.path.exists(match.group(1)):
            found.append(match.group(1))
    return found


def add_shell(root: Path, tools: Iterable[str] = TOOLS) -> Path:
    """Copy ``tools`` (found on the host's PATH) and their libraries into ``root``: each
    binary lands in ``root/bin`` and ``root/usr/bin``, each library at its host path."""
    root = Path(root)
    for sub in ("bin", "usr/bin", "tmp", "etc"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    for tool in tools:
        host = shutil.which(tool)
        if host is None:
            continue
        real = os.path.realpath(host)
        for dest in (root / "bin" / tool, root / "usr/bin" / tool):
            if not dest.exists():
                shutil.copy2(real, dest)
        for lib in _libraries(real):
            target = root / lib.lstrip("/")
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(os.path.realpath(lib), target)
    dev = root / "dev"
    dev.mkdir(exist_ok=True)
    for name, minor in (("null", 3), ("zero", 5), ("urandom", 9)):
        if not (dev / name).exists():  # as a debootstrapped root has them
            os.mknod(dev / name, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    passwd = root / "etc/passwd"
    if not passwd.exists():
        passwd.write_text("root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/bin/false\n")
    group = root / "etc/group"
    if not group.exists():
        group.write_text("root:x:0:\nnogroup:x:65534:\n")
    return root
