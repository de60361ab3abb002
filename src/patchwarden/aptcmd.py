"""apt-get's command lines and root confinement, shared by the apt adapter and the node.

Written for Python 3.6 and the standard library only (like :mod:`patchwarden.wire`): the
node component on a distribution's own Python runs exactly the commands the apt adapter
runs, built here once.  Commands are argv lists, never shell strings.
"""

from typing import Dict, List, Sequence

ENV = {"DEBIAN_FRONTEND": "noninteractive", "NEEDRESTART_MODE": "l", "LC_ALL": "C.UTF-8"}
"""The environment of every apt-get run (non-interactive; needrestart only lists)."""


def apt_config_text(root: str, arch: str) -> str:
    """The ``APT_CONFIG`` content that confines apt and dpkg to ``root`` (not ``/``): the
    host's configuration and dpkg database are never touched."""
    r = root.rstrip("/")
    return "\n".join(
        [
            'Dir "{}/";'.format(r),
            'Dir::State::status "{}/var/lib/dpkg/status";'.format(r),
            'Dir::Etc::Parts "{}/etc/apt/apt.conf.d";'.format(r),
            'Dir::Log "{}/var/log/apt";'.format(r),
            'APT::Architecture "{}";'.format(arch),
            'APT::Sandbox::User "root";',
            'Acquire::Languages "none";',
            "DPkg::Options {",
            '  "--root={}";'.format(r),
            '  "--admindir={}/var/lib/dpkg";'.format(r),
            '  "--log={}/var/log/dpkg.log";'.format(r),
            "};",
            "",
        ]
    )


def spec(name: str, arch: str, version: str, native: str) -> str:
    """``name=version``, or ``name:arch=version`` for a foreign architecture."""
    if arch in ("all", native, ""):
        return "{}={}".format(name, version)
    return "{}:{}={}".format(name, arch, version)


UPDATE = ["apt-get", "-q", "update"]
"""Refresh the package lists."""


def simulate_argv(specs: Sequence[str]) -> List[str]:
    """What installing exactly these versions would do (no lock taken)."""
    return [
        "apt-get",
        "-s",
        "-o",
        "Debug::NoLocking=1",
        "--no-install-recommends",
        "install",
        *specs,
    ]


def install_argv(specs: Sequence[str], lock_timeout: int) -> List[str]:
    """Install exactly these versions: non-interactive, existing configuration files kept,
    waiting up to ``lock_timeout`` seconds for the dpkg lock (unattended-upgrades)."""
    return [
        "apt-get",
        "-y",
        "-q",
        "--no-install-recommends",
        "-o",
        "DPkg::Lock::Timeout={}".format(lock_timeout),
        "-o",
        "Dpkg::Options::=--force-confdef",
        "-o",
        "Dpkg::Options::=--force-confold",
        "install",
        *specs,
    ]


def last_error(text: str, what: str) -> str:
    """The most telling line of apt's output: dpkg's own error, else apt's first ``E:``."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    dpkg = [ln for ln in lines if ln.startswith("dpkg: error")]
    apt = [ln for ln in lines if ln.startswith("E:")]
    return "{}: {}".format(what, (dpkg or apt or lines[-1:] or ["failed"])[0])


def environment(config_path: str = "") -> Dict[str, str]:
    """:data:`ENV`, with ``APT_CONFIG`` when a confining file is given."""
    env = dict(ENV)
    if config_path:
        env["APT_CONFIG"] = config_path
    return env
