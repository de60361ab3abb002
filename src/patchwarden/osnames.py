"""os-release and the SSM names of an operating system, shared by the adapters and the node.

Written for Python 3.6 and the standard library only (like :mod:`patchwarden.wire`): the
node component registers with the same ``OperatingSystem`` and product strings the full
agent derives, from one table.
"""

import shlex
from typing import Dict, NamedTuple

# os-release ID -> (family, SSM OperatingSystem, product prefix)
KNOWN = {
    "debian": ("debian", "DEBIAN", "Debian"),
    "ubuntu": ("debian", "UBUNTU", "Ubuntu"),
    "raspbian": ("debian", "RASPBIAN", "Raspbian"),
    "rhel": ("rhel", "REDHAT_ENTERPRISE_LINUX", "RedhatEnterpriseLinux"),
    "centos": ("rhel", "CENTOS", "CentOS"),
    "rocky": ("rhel", "ROCKY_LINUX", "RockyLinux"),
    "almalinux": ("rhel", "ALMA_LINUX", "AlmaLinux"),
    "ol": ("rhel", "ORACLE_LINUX", "OracleLinux"),
    "amzn": ("rhel", "AMAZON_LINUX_2023", "AmazonLinux"),
    "fedora": ("rhel", "FEDORA", "Fedora"),
    # SSM's SUSE products are "Suse<VERSION_ID>" (Suse15.5); openSUSE Leap shares them
    "sles": ("suse", "SUSE", "Suse"),
    "sles_sap": ("suse", "SUSE", "Suse"),
    "sle_hpc": ("suse", "SUSE", "Suse"),
    "opensuse-leap": ("suse", "SUSE", "Suse"),
    # SSM has no Alpine OperatingSystem: ALPINE is Patchwarden's own value
    "alpine": ("alpine", "ALPINE", "Alpine"),
}


def parse_os_release(text: str) -> Dict[str, str]:
    """Parse os-release ``KEY=value`` lines (shell-quoted values, comments, blank lines)."""
    fields = {}  # type: Dict[str, str]
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        try:
            parts = shlex.split(value)
        except ValueError:
            parts = [value.strip("\"'")]
        fields[key.strip()] = parts[0] if parts else ""
    return fields


class OsNames(NamedTuple):
    """What os-release fields say in AWS's vocabulary."""

    os_id: str
    version_id: str
    family: str
    """``debian``, ``rhel``, ``suse``, ``alpine`` or "" (unknown)."""
    operating_system: str
    """SSM's OperatingSystem (``DEBIAN``, ``AMAZON_LINUX_2`` …)."""
    product: str
    """SSM's product string (``Debian12``, ``AmazonLinux2023`` …)."""


def os_names(fields: Dict[str, str]) -> OsNames:
    """Map os-release fields to the family and SSM names."""
    os_id = fields.get("ID", "").lower()
    version_id = fields.get("VERSION_ID", "")
    likes = fields.get("ID_LIKE", "").lower().split()
    known = KNOWN.get(os_id)
    if known is None:
        if "debian" in likes or "ubuntu" in likes:
            known = ("debian", os_id.upper() or "DEBIAN", os_id.capitalize())
        elif "suse" in likes:
            known = ("suse", "SUSE", "Suse")
        elif {"rhel", "fedora", "centos"} & set(likes):
            known = ("rhel", os_id.upper(), os_id.capitalize())
        else:
            known = ("", os_id.upper(), os_id.capitalize())
    family, operating_system, prefix = known
    if os_id == "centos" and "stream" in fields.get("NAME", "").lower():
        prefix = "CentOSStream"  # no SSM product string exists for Stream: our choice
    if os_id == "amzn":
        operating_system = {"2": "AMAZON_LINUX_2", "2022": "AMAZON_LINUX_2022"}.get(
            version_id, "AMAZON_LINUX_2023" if version_id.startswith("2023") else "AMAZON_LINUX"
        )
        major = version_id.split(".")[0]
        product = prefix + (major if major != "2018" else "")
    elif os_id == "alpine":
        # the branch (3.19), not the snapshot (3.19.1): one release stream, like v3.19
        product = prefix + ".".join(version_id.split(".")[:2])
    else:
        product = prefix + version_id
    return OsNames(os_id, version_id, family, operating_system, product)
