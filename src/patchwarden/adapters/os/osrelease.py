"""Read ``etc/os-release`` of a root and derive the SSM OperatingSystem and product string."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from patchwarden.core.model import OsInfo
from patchwarden.errors import EnvironmentProblem
from patchwarden.osnames import os_names, parse_os_release


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
    names = os_names(fields)
    codename = fields.get("VERSION_CODENAME", "") or fields.get("UBUNTU_CODENAME", "")
    if not codename and names.os_id == "debian":
        codename = _debian_codename_from_pretty(fields.get("PRETTY_NAME", ""))
    return OsInfo(
        id=names.os_id,
        version_id=names.version_id,
        codename=codename,
        pretty_name=fields.get("PRETTY_NAME", names.os_id),
        family=names.family,
        operating_system=names.operating_system,
        product=names.product,
    )


RELEASE_FILES = ("etc/centos-release", "etc/redhat-release", "etc/system-release")
_POINT_RELEASE = re.compile(r"\brelease (\d+\.\d+)")


def _with_point_release(base: Path, info: OsInfo) -> OsInfo:
    def read(name: str) -> str | None:
        try:
            return (base / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    return with_point_release(info, read)


def with_point_release(info: OsInfo, read: Callable[[str], str | None]) -> OsInfo:
    """CentOS 7's os-release says ``VERSION_ID="7"``; SSM's product is ``CentOS7.9``, the
    point release of ``etc/centos-release`` ("CentOS Linux release 7.9.2009 (Core)").
    ``read``: the text of a file of the root by relative path (``None`` when absent)."""
    if info.id != "centos" or "." in info.version_id or info.product.startswith("CentOSStream"):
        return info
    for name in RELEASE_FILES:
        text = read(name)
        if text is None:
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
