"""The predefined default baselines, one per operating system, mirroring AWS (§1.10).

Like AWS's, they use compliance level UNSPECIFIED everywhere.  One deliberate difference:
the Debian/Ubuntu/Raspbian ones say ``ApproveAfterDays: 0`` explicitly (AWS's Ubuntu
snapshot carries 7, which SSM ignores on apt; Patchwarden honours delays on apt because it
records first-seen dates, so 0 keeps "approved immediately").

``ALPINE`` is Patchwarden's own (AWS has no Alpine baseline): it approves every update at
once.  An APKINDEX says nothing about what is a security fix (Alpine's secdb does, and
``scan --vulns`` reports it as findings), so a security-only rule would approve nothing;
each branch's repositories carry only fixes and packaging updates of that branch anyway.
"""

from __future__ import annotations

from patchwarden.core.baseline.model import PatchBaseline, PatchFilter, PatchRule
from patchwarden.core.baseline.oses import (
    APK_OPERATING_SYSTEMS,
    APT_OPERATING_SYSTEMS,
    RPM_OPERATING_SYSTEMS,
    UNSUPPORTED_OPERATING_SYSTEMS,
)
from patchwarden.errors import EnvironmentProblem, InputError

DEFAULT_BASELINE_NAMES: dict[str, str] = {
    "AMAZON_LINUX": "AWS-AmazonLinuxDefaultPatchBaseline",
    "AMAZON_LINUX_2": "AWS-AmazonLinux2DefaultPatchBaseline",
    "AMAZON_LINUX_2022": "AWS-AmazonLinux2022DefaultPatchBaseline",
    "AMAZON_LINUX_2023": "AWS-AmazonLinux2023DefaultPatchBaseline",
    "REDHAT_ENTERPRISE_LINUX": "AWS-RedHatDefaultPatchBaseline",
    "ROCKY_LINUX": "AWS-RockyLinuxDefaultPatchBaseline",
    "ALMA_LINUX": "AWS-AlmaLinuxDefaultPatchBaseline",
    "ORACLE_LINUX": "AWS-OracleLinuxDefaultPatchBaseline",
    "CENTOS": "AWS-CentOSDefaultPatchBaseline",
    "SUSE": "AWS-SuseDefaultPatchBaseline",
    "UBUNTU": "AWS-UbuntuDefaultPatchBaseline",
    "DEBIAN": "AWS-DebianDefaultPatchBaseline",
    "RASPBIAN": "AWS-DefaultRaspbianPatchBaseline",
    "ALPINE": "Patchwarden-AlpineDefaultPatchBaseline",
}
"""AWS's names for its predefined Linux baselines, per OperatingSystem (and Patchwarden's
name for its own ALPINE one)."""

_ANY_PRODUCT = PatchFilter("PRODUCT", ("*",))
_APT_PRIORITIES = PatchFilter(
    "PRIORITY", ("Required", "Important", "Standard", "Optional", "Extra")
)


def _security_and_bugfix(severities: tuple[str, ...]) -> tuple[PatchRule, ...]:
    """Security notices of the given severities plus every Bugfix notice, after 7 days."""
    security = PatchRule(
        (
            _ANY_PRODUCT,
            PatchFilter("CLASSIFICATION", ("Security",)),
            PatchFilter("SEVERITY", severities),
        ),
        approve_after_days=7,
    )
    bugfix = PatchRule(
        (_ANY_PRODUCT, PatchFilter("CLASSIFICATION", ("Bugfix",))), approve_after_days=7
    )
    return (security, bugfix)


def _rules(operating_system: str) -> tuple[tuple[PatchRule, ...], str]:
    if operating_system in APT_OPERATING_SYSTEMS:
        rule = PatchRule((_ANY_PRODUCT, _APT_PRIORITIES), approve_after_days=0)
        return (rule,), "Security-pocket updates of any priority, approved immediately"
    if operating_system in APK_OPERATING_SYSTEMS:
        rule = PatchRule((_ANY_PRODUCT,), approve_after_days=0, enable_non_security=True)
        return (rule,), (
            "All updates, approved immediately (Patchwarden's own: an APKINDEX does not mark "
            "security fixes; scan --vulns reports them from Alpine's secdb)"
        )
    if operating_system == "CENTOS":
        rule = PatchRule((_ANY_PRODUCT,), approve_after_days=7, enable_non_security=True)
        return (rule,), "All updates, including non-security ones, 7 days after release"
    if operating_system == "SUSE":
        rule = PatchRule(
            (
                _ANY_PRODUCT,
                PatchFilter("CLASSIFICATION", ("Security",)),
                PatchFilter("SEVERITY", ("Critical", "Important")),
            ),
            approve_after_days=7,
        )
        return (rule,), "Security updates of severity Critical or Important, after 7 days"
    if operating_system == "ORACLE_LINUX":
        return _security_and_bugfix(("Important", "Moderate")), (
            "Security updates of severity Important or Moderate, plus all bug fixes, "
            "7 days after release"
        )
    return _security_and_bugfix(("Critical", "Important")), (
        "Security updates of severity Critical or Important, plus all bug fixes, "
        "7 days after release"
    )


def default_baseline(operating_system: str) -> PatchBaseline:
    """The predefined baseline AWS uses for ``operating_system`` (an SSM OperatingSystem
    value such as ``DEBIAN``, or Patchwarden's ``ALPINE``) when no other baseline applies
    (reference §2).

    Raises :class:`EnvironmentProblem` for WINDOWS/MACOS and :class:`InputError` for a
    value that is not an SSM OperatingSystem.
    """
    if operating_system in UNSUPPORTED_OPERATING_SYSTEMS:
        raise EnvironmentProblem(
            f"no default patch baseline for {operating_system}: Patchwarden manages Linux nodes"
        )
    if (
        operating_system
        not in APT_OPERATING_SYSTEMS | RPM_OPERATING_SYSTEMS | APK_OPERATING_SYSTEMS
    ):
        known = ", ".join(sorted(DEFAULT_BASELINE_NAMES))
        raise InputError(f"unknown operating system {operating_system!r} (known: {known})")
    rules, description = _rules(operating_system)
    return PatchBaseline(
        name=DEFAULT_BASELINE_NAMES[operating_system],
        operating_system=operating_system,
        description=f"Default patch baseline for {operating_system}: {description}",
        approval_rules=rules,
    )
