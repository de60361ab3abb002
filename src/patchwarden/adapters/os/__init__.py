"""OS package-manager adapters and the detection that picks one for a root."""

from __future__ import annotations

from patchwarden.adapters.os.osrelease import read_os_info
from patchwarden.errors import EnvironmentProblem
from patchwarden.ports import PackageManager, Runner


def detect(
    root: str = "/", *, runner: Runner | None = None, cache_dir: str | None = None
) -> PackageManager:
    """The package-manager adapter for ``root``, chosen from its os-release.

    Raises :class:`EnvironmentProblem` (exit 3) for OS families Patchwarden does not support.
    """
    info = read_os_info(root)
    if info.family == "debian":
        from patchwarden.adapters.os.apt.manager import AptPackageManager

        return AptPackageManager(root, runner=runner, cache_dir=cache_dir, os_info=info)
    if info.family == "rhel":
        from patchwarden.adapters.os.dnf.manager import DnfPackageManager

        return DnfPackageManager(root, runner=runner, cache_dir=cache_dir, os_info=info)
    if info.family == "suse":
        from patchwarden.adapters.os.zypper.manager import ZypperPackageManager

        return ZypperPackageManager(root, runner=runner, cache_dir=cache_dir, os_info=info)
    if info.family == "alpine":
        from patchwarden.adapters.os.apk.manager import ApkPackageManager

        return ApkPackageManager(root, runner=runner, cache_dir=cache_dir, os_info=info)
    raise EnvironmentProblem(
        f"unsupported operating system {info.pretty_name!r} in root {root!r}: "
        "Patchwarden supports Debian and Ubuntu (apt/dpkg), the RHEL family (dnf/rpm: "
        "Amazon Linux, RHEL, Rocky, Alma, Oracle, CentOS, Fedora), SUSE (zypper/rpm: SLES, "
        "openSUSE Leap) and Alpine (apk)"
    )
