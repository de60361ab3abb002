"""Operating systems a baseline can target and the filter keys each one approves with.

Reference §1.2 (the SSM OperatingSystem enum) and §1.5 (filter keys per OS).  Patchwarden
manages Linux nodes, so WINDOWS and MACOS baselines are refused with a clear message.
"""

from __future__ import annotations

APT_OPERATING_SYSTEMS = frozenset({"UBUNTU", "DEBIAN", "RASPBIAN"})
"""Operating systems patched with apt/dpkg (version scheme ``deb``)."""

RPM_OPERATING_SYSTEMS = frozenset(
    {
        "AMAZON_LINUX",
        "AMAZON_LINUX_2",
        "AMAZON_LINUX_2022",
        "AMAZON_LINUX_2023",
        "REDHAT_ENTERPRISE_LINUX",
        "CENTOS",
        "ORACLE_LINUX",
        "ROCKY_LINUX",
        "ALMA_LINUX",
        "SUSE",
    }
)
"""Operating systems patched with yum/dnf/zypper (version scheme ``rpm``)."""

APK_OPERATING_SYSTEMS = frozenset({"ALPINE"})
"""Operating systems patched with apk (version scheme ``apk``).  ``ALPINE`` is Patchwarden's
own value: the SSM OperatingSystem enum has no Alpine."""

UNSUPPORTED_OPERATING_SYSTEMS = frozenset({"WINDOWS", "MACOS"})
"""In the SSM enum, but not Linux: a baseline for them cannot be built here."""

SUPPORTED_OPERATING_SYSTEMS = APT_OPERATING_SYSTEMS | RPM_OPERATING_SYSTEMS | APK_OPERATING_SYSTEMS

ALL_FILTER_KEYS = frozenset(
    {
        "ARCH",
        "ADVISORY_ID",
        "BUGZILLA_ID",
        "PATCH_SET",
        "PRODUCT",
        "PRODUCT_FAMILY",
        "CLASSIFICATION",
        "CVE_ID",
        "EPOCH",
        "MSRC_SEVERITY",
        "NAME",
        "PATCH_ID",
        "SECTION",
        "PRIORITY",
        "REPOSITORY",
        "RELEASE",
        "SEVERITY",
        "SECURITY",
        "VERSION",
    }
)
"""The SSM PatchFilterKey enum (§1.3); most keys serve query APIs only."""

APPROVAL_FILTER_KEYS: dict[str, tuple[str, ...]] = {
    "apt": ("PRODUCT", "PRIORITY", "SECTION"),
    "rpm": ("PRODUCT", "CLASSIFICATION", "SEVERITY"),
    "apk": ("PRODUCT", "REPOSITORY"),
}
"""Keys a baseline's GlobalFilters and approval rules may use, per package family (§1.5).
apk (beyond AWS): ``REPOSITORY`` is the Alpine repository a version comes from (``main``,
``community``, ``testing``), the only fact an APKINDEX gives to tell updates apart."""

SCHEME_OF_FAMILY: dict[str, str] = {"apt": "deb", "rpm": "rpm", "apk": "apk"}
"""Version scheme (see :mod:`patchwarden.versions`) of each package family."""


def family_of(operating_system: str) -> str:
    """Package family (``apt``, ``rpm`` or ``apk``) of a supported OperatingSystem value.

    Raises :class:`KeyError` for anything else; callers validate first.
    """
    if operating_system in APT_OPERATING_SYSTEMS:
        return "apt"
    if operating_system in RPM_OPERATING_SYSTEMS:
        return "rpm"
    if operating_system in APK_OPERATING_SYSTEMS:
        return "apk"
    raise KeyError(operating_system)
