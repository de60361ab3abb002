"""Which vulnerability data describes a node: its release's ecosystem, the version scheme of
that ecosystem, and the package names advisories are filed under.

Kept as data (:data:`OS_ECOSYSTEMS`, :data:`ECOSYSTEM_SCHEMES`) so a distribution is added
in one place.  Ecosystem names are OSV's (``Debian:12``, ``Ubuntu:22.04:LTS``,
``Rocky Linux:9``, ``AlmaLinux:9``, ``Alpine:v3.19``), which the feeds use too.
"""

from __future__ import annotations

from collections.abc import Iterable

from patchwarden.core.model import Inventory, OsInfo, Package

OS_ECOSYSTEMS: dict[str, tuple[str, str]] = {
    "debian": ("Debian", "major"),
    "ubuntu": ("Ubuntu", "ubuntu"),
    "rocky": ("Rocky Linux", "major"),
    "almalinux": ("AlmaLinux", "major"),
    "rhel": ("Red Hat", "major"),
    "amzn": ("Amazon Linux", "major"),
    "ol": ("Oracle Linux", "major"),
    "centos": ("CentOS", "major"),
    "fedora": ("Fedora", "major"),
    "alpine": ("Alpine", "alpine"),
    "sles": ("SUSE:Linux Enterprise Server", "suse"),
    "sles_sap": ("SUSE:Linux Enterprise Server for SAP Applications", "suse"),
    "sle_hpc": ("SUSE:Linux Enterprise High Performance Computing", "suse"),
    "opensuse-leap": ("openSUSE:Leap", "leap"),
}
"""os-release ``ID`` → (OSV ecosystem name, how ``VERSION_ID`` becomes the release):
``major`` ``9.3`` → ``9``; ``ubuntu`` ``22.04`` → ``22.04:LTS`` (April of even years) or
``22.10``; ``alpine`` ``3.19.1`` → ``v3.19``; ``suse`` ``15.5`` → ``SUSE:Linux Enterprise
Server 15 SP5`` (``15`` → ``15``); ``leap`` ``15.5`` → ``openSUSE:Leap 15.5``."""

ECOSYSTEM_SCHEMES: dict[str, str] = {
    "Debian": "deb",
    "Ubuntu": "deb",
    "Rocky Linux": "rpm",
    "AlmaLinux": "rpm",
    "Red Hat": "rpm",
    "Amazon Linux": "rpm",
    "Oracle Linux": "rpm",
    "CentOS": "rpm",
    "Fedora": "rpm",
    "Alpine": "apk",
    "SUSE": "rpm",
    "openSUSE": "rpm",
}
"""Ecosystem name (before the first ``:``) → version scheme of its packages."""

_BOTH_NAMES = frozenset({"rpm"})
"""Schemes whose data may name binary packages as well as source packages."""


def ecosystem_of(os: OsInfo) -> str | None:
    """The OSV-style ecosystem of a node's release, ``None`` when there is no mapping."""
    entry = OS_ECOSYSTEMS.get(os.id)
    if entry is None or not os.version_id:
        return None
    name, style = entry
    parts = os.version_id.split(".")
    if style == "ubuntu" and len(parts) >= 2:
        lts = parts[1] == "04" and parts[0].isdigit() and int(parts[0]) % 2 == 0
        return f"{name}:{parts[0]}.{parts[1]}" + (":LTS" if lts else "")
    if style == "alpine" and len(parts) >= 2:
        return f"{name}:v{parts[0]}.{parts[1]}"
    if style == "suse":
        service_pack = f" SP{parts[1]}" if len(parts) >= 2 and parts[1] not in ("", "0") else ""
        return f"{name} {parts[0]}{service_pack}"
    if style == "leap":
        return f"{name} {os.version_id}"
    return f"{name}:{parts[0]}"


def spans_ecosystems(ecosystem: str) -> bool:
    """Whether a node of ``ecosystem`` reads several ecosystems (:func:`release_ecosystems`)."""
    return ecosystem.startswith("SUSE:")


def release_ecosystems(ecosystem: str, held: Iterable[str]) -> list[str]:
    """The ecosystems whose advisories describe a node of ``ecosystem``, among ``held``.

    One, except on SUSE Linux Enterprise: SUSE files its advisories per *module* and support
    phase of a service pack (``SUSE:Linux Enterprise Module for Basesystem 15 SP5``,
    ``SUSE:Linux Enterprise Server 15 SP5-LTSS``…), and os-release names neither; so every
    held ``SUSE:`` ecosystem of the same service pack counts (its advisories name the
    package versions they fix, so a module the node lacks matches nothing it has).
    """
    if not spans_ecosystems(ecosystem):
        return [ecosystem]
    release = ecosystem.rsplit(" ", 2)
    suffix = (
        " ".join(release[-2:])
        if len(release) >= 3 and release[-1].startswith("SP")
        else release[-1]
    )
    found = {ecosystem}
    for other in held:
        if not other.startswith("SUSE:"):
            continue
        base = other[: -len("-LTSS")] if other.endswith("-LTSS") else other
        if base.endswith(f" {suffix}"):
            found.add(other)
    return sorted(found)


def scheme_of(ecosystem: str) -> str | None:
    """The version scheme of an ecosystem (``deb``, ``rpm``, ``apk``), ``None`` if unknown."""
    return ECOSYSTEM_SCHEMES.get(ecosystem.split(":", 1)[0])


def lookups(pkg: Package, scheme: str) -> tuple[tuple[str, str], ...]:
    """(package name, version) pairs under which advisories about ``pkg`` are filed."""
    source = (pkg.source_name or pkg.name, pkg.source_version or pkg.version)
    unsigned = _unsigned_kernel(source[0])
    if unsigned is not None:
        # signed kernel images are built from the `linux` source at the binary's version;
        # trackers file kernel CVEs under that source, not under linux-signed-*
        return (source, (unsigned, pkg.version))
    if scheme in _BOTH_NAMES and source != (pkg.name, pkg.version):
        return (source, (pkg.name, pkg.version))
    return (source,)


_SIGNED_ARCH_SUFFIXES = frozenset({"", "-amd64", "-arm64", "-i386", "-armhf", "-ppc64el", "-s390x"})


def _unsigned_kernel(source: str) -> str | None:
    """``linux-signed-amd64`` → ``linux`` (Debian); ``linux-signed-hwe-6.5`` →
    ``linux-hwe-6.5`` (Ubuntu); ``None`` for every other source."""
    if not source.startswith("linux-signed"):
        return None
    rest = source[len("linux-signed") :]
    return "linux" if rest in _SIGNED_ARCH_SUFFIXES else "linux" + rest


def query_names(inventory: Inventory, scheme: str) -> list[str]:
    """The package names to ask an :class:`~patchwarden.ports.AdvisoryStore` about."""
    names = {n for ip in inventory.installed for n, _ in lookups(ip.package, scheme)}
    return sorted(names)
