"""Read ``etc/os-release`` of a root and derive the SSM OperatingSystem and product string."""

from __future__ import annotations

import re
import shlex
from dataclasses import replace
from pathlib import Path

from patchwarden.core.model import OsInfo
from patchwarden.errors import EnvironmentProblem

# os-release ID -> (family, SSM OperatingSystem, product prefix)
_KNOWN: dict[str, tuple[str, str, str]] = {
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
}


def parse_os_release(text: str) -> dict[str, str]:
    """Parse os-release ``KEY=value`` lines (shell-quoted values, comments, blank lines)."""
    fields: dict[str, str] = {}
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


def read_os_info(root: str | Path) -> OsInfo:
    """The :class:`OsInfo` of ``root``; :class:`EnvironmentProblem` when it cannot be told."""
    base = Path(root)
    if not base.is_dir():
        raise EnvironmentProblem(f"root {str(root)!r} does not exist or is not a directory")
    for candidate in (base / "etc/os-release", base / "usr/lib/os-release"):
        try:
            text = candidate.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        return _with_point_release(base, os_info_from_fields(parse_os_release(text)))
    raise EnvironmentProblem(f"no etc/os-release in root {str(root)!r}: cannot tell the OS")


def os_info_from_fields(fields: dict[str, str]) -> OsInfo:
    """Map os-release fields to :class:`OsInfo` (family, SSM names)."""
    os_id = fields.get("ID", "").lower()
    version_id = fields.get("VERSION_ID", "")
    likes = fields.get("ID_LIKE", "").lower().split()
    known = _KNOWN.get(os_id)
    if known is None:
        if "debian" in likes or "ubuntu" in likes:
            known = ("debian", os_id.upper() or "DEBIAN", os_id.capitalize())
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
        version_id_product = version_id.split(".")[0]
        product = prefix + (version_id_product if version_id_product != "2018" else "")
    else:
        product = prefix + version_id
    codename = fields.get("VERSION_CODENAME", "") or fields.get("UBUNTU_CODENAME", "")
    if not codename and os_id == "debian":
        codename = _debian_codename_from_pretty(fields.get("PRETTY_NAME", ""))
    return OsInfo(
        id=os_id,
        version_id=version_id,
        codename=codename,
        pretty_name=fields.get("PRETTY_NAME", os_id),
        family=family,
        operating_system=operating_system,
        product=product,
    )


_RELEASE_FILES = ("etc/centos-release", "etc/redhat-release", "etc/system-release")
_POINT_RELEASE = re.compile(r"\brelease (\d+\.\d+)")


def _with_point_release(base: Path, info: OsInfo) -> OsInfo:
    """CentOS 7's os-release says ``VERSION_ID="7"``; SSM's product is ``CentOS7.9``, the
    point release of ``etc/centos-release`` ("CentOS Linux release 7.9.2009 (Core)")."""
    if info.id != "centos" or "." in info.version_id or info.product.startswith("CentOSStream"):
        return info
    for name in _RELEASE_FILES:
        try:
            text = (base / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found = _POINT_RELEASE.search(text)
        if found and found.group(1).split(".")[0] == info.version_id.split(".")[0]:
            return replace(info, product=f"CentOS{found.group(1)}")
    return info


def _debian_codename_from_pretty(pretty: str) -> str:
    # "Debian GNU/Linux trixie/sid" or "Debian GNU/Linux 12 (bookworm)"
    if "(" in pretty and pretty.endswith(")"):
        return pretty[pretty.rindex("(") + 1 : -1]
    return ""
