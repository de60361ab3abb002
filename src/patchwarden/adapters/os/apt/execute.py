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

from patchwarden.core.model import Package
from patchwarden.errors import AdapterError
from patchwarden.ports import InstallPlan, Runner

# Inst jq [1.6-2.1+deb12u1] (1.6-2.1+deb12u3 Debian-Security:12/oldstable-security [amd64])
_INST = re.compile(r"^Inst (\S+) (?:\[(\S+)\] )?\((\S+) (.*?)\s*\[(\S+)\]\)")
_REMV = re.compile(r"^Remv (\S+)")


def apt_config_text(root: str, arch: str) -> str:
    """The APT_CONFIG content that confines apt and dpkg to ``root``."""
    r = root.rstrip("/")
    return "\n".join(
        [
            f'Dir "{r}/";',
            f'Dir::State::status "{r}/var/lib/dpkg/status";',
            f'Dir::Etc::Parts "{r}/etc/apt/apt.conf.d";',
            f'Dir::Log "{r}/var/log/apt";',
            f'APT::Architecture "{arch}";',
            'APT::Sandbox::User "root";',
            'Acquire::Languages "none";',
            "DPkg::Options {",
            f'  "--root={r}";',
            f'  "--admindir={r}/var/lib/dpkg";',
            f'  "--log={r}/var/log/dpkg.log";',
            "};",
            "",
        ]
    )


@contextmanager
def apt_env(root: str, arch: str) -> Iterator[dict[str, str]]:
    """Environment for apt-get on ``root`` (an APT_CONFIG file lives as long as the block)."""
    env = {"DEBIAN_FRONTEND": "noninteractive", "NEEDRESTART_MODE": "l", "LC_ALL": "C.UTF-8"}
    if root == "/":
        yield env
        return
    fd, path = tempfile.mkstemp(prefix="patchwarden-apt-", suffix=".conf")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(apt_config_text(root, arch))
        yield {**env, "APT_CONFIG": path}
    finally:
        os.unlink(path)


def _spec(pkg: Package, arch: str) -> str:
    if pkg.arch in ("all", arch, ""):
        return f"{pkg.name}={pkg.version}"
    return f"{pkg.name}:{pkg.arch}={pkg.version}"


def update(runner: Runner, root: str, arch: str) -> None:
    """``apt-get update`` (refresh the lists)."""
    with apt_env(root, arch) as env:
        runner.run(["apt-get", "-q", "update"], env=env, timeout=900, check=True)


def plan(runner: Runner, root: str, arch: str, packages: Sequence[Package]) -> InstallPlan:
    """What ``apt-get install`` of exactly these versions would do (simulation, no lock)."""
    if not packages:
        return InstallPlan((), ())
    argv = [
        "apt-get",
        "-s",
        "-o",
        "Debug::NoLocking=1",
        "--no-install-recommends",
        "install",
        *(_spec(p, arch) for p in packages),
    ]
    with apt_env(root, arch) as env:
        result = runner.run(argv, env=env, timeout=300)
    if result.returncode != 0:
        raise AdapterError(_last_error(result.stderr or result.stdout, "apt-get -s install"))
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
    base = [
        "apt-get",
        "-y",
        "-q",
        "--no-install-recommends",
        "-o",
        f"DPkg::Lock::Timeout={lock_timeout}",
        "-o",
        "Dpkg::Options::=--force-confdef",
        "-o",
        "Dpkg::Options::=--force-confold",
        "install",
    ]
    with apt_env(root, arch) as env:
        result = runner.run([*base, *(_spec(p, arch) for p in packages)], env=env, timeout=3600)
        if result.returncode == 0:
            return {}
        if len(packages) == 1:
            return {packages[0].key: _last_error(result.stderr or result.stdout, "apt-get")}
        errors: dict[tuple[str, str], str] = {}
        for pkg in packages:
            single = runner.run([*base, _spec(pkg, arch)], env=env, timeout=3600)
            if single.returncode != 0:
                errors[pkg.key] = _last_error(single.stderr or single.stdout, "apt-get")
        return errors


def _last_error(text: str, what: str) -> str:
    """The most telling line: dpkg's own error, else apt's first ``E:`` line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    dpkg = [ln for ln in lines if ln.startswith("dpkg: error")]
    apt = [ln for ln in lines if ln.startswith("E:")]
    return f"{what}: {(dpkg or apt or lines[-1:] or ['failed'])[0]}"
