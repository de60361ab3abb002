"""Running apt-get against a root: configuration, update, simulation and install.

For a root other than ``/``, apt-get gets an ``APT_CONFIG`` file (outside the root) that
points ``Dir`` at the root and passes ``--root``/``--admindir`` to dpkg, so the host's
configuration and dpkg database are never touched.  Commands are argv lists; installs are
non-interactive, keep existing configuration files, and wait for the dpkg lock instead of
failing when unattended-upgrades holds it.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from patchwarden import aptcmd
from patchwarden.core.model import Package
from patchwarden.errors import AdapterError
from patchwarden.ports import InstallPlan, Runner

# Inst jq [1.6-2.1+deb12u1] (1.6-2.1+deb12u3 Debian-Security:12/oldstable-security [amd64])
_INST = re.compile(r"^Inst (\S+) (?:\[(\S+)\] )?\((\S+) (.*?)\s*\[(\S+)\]\)")
_REMV = re.compile(r"^Remv (\S+)")


@contextmanager
def apt_env(root: str, arch: str) -> Iterator[dict[str, str]]:
    """Environment for apt-get on ``root`` (an APT_CONFIG file lives as long as the block)."""
    if root == "/":
        yield aptcmd.environment()
        return
    fd, path = tempfile.mkstemp(prefix="patchwarden-apt-", suffix=".conf")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(aptcmd.apt_config_text(root, arch))
        yield aptcmd.environment(path)
    finally:
        os.unlink(path)


def _spec(pkg: Package, arch: str) -> str:
    return aptcmd.spec(pkg.name, pkg.arch, pkg.version, arch)


def update(runner: Runner, root: str, arch: str) -> None:
    """``apt-get update`` (refresh the lists)."""
    with apt_env(root, arch) as env:
        runner.run(aptcmd.UPDATE, env=env, timeout=900, check=True)


def plan(runner: Runner, root: str, arch: str, packages: Sequence[Package]) -> InstallPlan:
    """What ``apt-get install`` of exactly these versions would do (simulation, no lock)."""
    if not packages:
        return InstallPlan((), ())
    argv = aptcmd.simulate_argv([_spec(p, arch) for p in packages])
    with apt_env(root, arch) as env:
        result = runner.run(argv, env=env, timeout=300)
    if result.returncode != 0:
        raise AdapterError(aptcmd.last_error(result.stderr or result.stdout, "apt-get -s install"))
    actions: list[str] = []
    touched: list[tuple[str, str, str]] = []
    for line in result.stdout.splitlines():
        m = _INST.match(line)
        if m:
            name, old, new, _origins, pkg_arch = m.groups()
            base, _, qual = name.partition(":")
            touched.append((base, qual or pkg_arch, new))
            actions.append(f"{'upgrade' if old else 'install'} {name} {old or '-'} -> {new}")
        elif (rm := _REMV.match(line)) is not None:
            actions.append(f"remove {rm.group(1)}")
    return InstallPlan(tuple(packages), tuple(actions), tuple(touched))


def install(
    runner: Runner, root: str, arch: str, packages: Sequence[Package], lock_timeout: int
) -> dict[tuple[str, str], str]:
    """Install exactly these versions; returns apt's error per (name, arch) that failed.

    One transaction first; if apt refuses it, each package is tried on its own so one patch
    that cannot be applied does not hold back the others, and each failure keeps its own
    reason.
    """
    if not packages:
        return {}
    specs = [_spec(p, arch) for p in packages]
    with apt_env(root, arch) as env:
        result = runner.run(aptcmd.install_argv(specs, lock_timeout), env=env, timeout=3600)
        if result.returncode == 0:
            return {}
        if len(packages) == 1:
            return {packages[0].key: aptcmd.last_error(result.stderr or result.stdout, "apt-get")}
        errors: dict[tuple[str, str], str] = {}
        for pkg, one in zip(packages, specs, strict=True):
            single = runner.run(aptcmd.install_argv([one], lock_timeout), env=env, timeout=3600)
            if single.returncode != 0:
                errors[pkg.key] = aptcmd.last_error(single.stderr or single.stdout, "apt-get")
        return errors
