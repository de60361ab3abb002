"""Per-patch states (reference §3.1) and the node rollup (§3.2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from patchwarden.core.baseline import PatchBaseline, PatchFilter, PatchRule, RejectedPatchesAction
from patchwarden.core.compliance import evaluate, summarize
from patchwarden.core.model import (
    Compliance,
    ComplianceLevel,
    InstalledPackage,
    Inventory,
    Operation,
    OsInfo,
    Package,
    PatchItem,
    PatchState,
)

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
DEBIAN12 = OsInfo("debian", "12", "bookworm", "Debian GNU/Linux 12", "debian", "DEBIAN", "Debian12")
RHEL9 = OsInfo(
    "rhel", "9.4", "", "RHEL 9.4", "rhel", "REDHAT_ENTERPRISE_LINUX", "RedhatEnterpriseLinux9"
)
ANY = PatchFilter("PRODUCT", ("*",))
S = PatchState


def deb(name: str, version: str = "1.0-1", **kw: Any) -> Package:
    kw.setdefault("priority", "optional")
    return Package(name, kw.pop("arch", "amd64"), version, **kw)


def sec(name: str, version: str = "1.0-2", **kw: Any) -> Package:
    """A Debian security-pocket version."""
    kw.setdefault("update_notice", True)
    kw.setdefault("classification", "Security")
    kw.setdefault("repository", "bookworm-security")
    return deb(name, version, **kw)


def baseline(**kw: Any) -> PatchBaseline:
    level = kw.pop("level", ComplianceLevel.HIGH)
    kw.setdefault("approval_rules", (PatchRule((ANY,), level, approve_after_days=0),))
    return PatchBaseline("test-baseline", kw.pop("os", "DEBIAN"), **kw)


def inventory(
    installed: Sequence[Package | InstalledPackage], updates: Sequence[Package] = (), **kw: Any
) -> Inventory:
    records = tuple(
        p if isinstance(p, InstalledPackage) else InstalledPackage(p) for p in installed
    )
    os_info, scheme = kw.pop("os", DEBIAN12), kw.pop("scheme", "deb")
    return Inventory(os_info, "node-1", "/", scheme, records, tuple(updates))


def states(result: Any) -> dict[str, PatchState]:
    return {item.name: item.state for item in result.items}


def one(result: Any, name: str) -> PatchItem:
    (item,) = [i for i in result.items if i.name == name]
    return item


def test_installed_missing_and_other() -> None:
    inv = inventory(
        [sec("openssl", "3.0-1"), deb("vim"), deb("curl")],
        [sec("curl", "7.88-2", cve_ids=("CVE-2024-1",))],
    )
    result = evaluate(inv, baseline(), NOW)
    assert states(result) == {"openssl": S.INSTALLED, "vim": S.INSTALLED_OTHER, "curl": S.MISSING}
    curl = one(result, "curl")
    assert (curl.installed_version, curl.available_version) == ("1.0-1", "7.88-2")
    assert curl.severity is ComplianceLevel.HIGH
    assert (curl.classification, curl.repository, curl.cves) == (
        "Security",
        "bookworm-security",
        ("CVE-2024-1",),
    )
    assert one(result, "openssl").severity is ComplianceLevel.HIGH
    assert one(result, "vim").severity is ComplianceLevel.UNSPECIFIED


def test_unapproved_updates_are_not_missing_and_say_why() -> None:
    inv = inventory([deb("vim")], [deb("vim", "9.0-2")])
    result = evaluate(inv, baseline(), NOW)
    vim = one(result, "vim")
    assert vim.state is S.INSTALLED_OTHER and vim.available_version is None
    assert "update 9.0-2 not approved: not a security update" in vim.detail
    assert result.summary.compliance is Compliance.COMPLIANT


def test_install_reports_failed_instead_of_missing() -> None:
    inv = inventory([deb("curl")], [sec("curl", "7.88-2")])
    result = evaluate(inv, baseline(), NOW, operation=Operation.INSTALL)
    curl = one(result, "curl")
    assert curl.state is S.FAILED and "7.88-2" in curl.detail
    assert S.MISSING.value not in {i.state.value for i in result.items}


def test_failed_installs_carry_their_message() -> None:
    inv = inventory([deb("curl")], [sec("curl", "7.88-2")])
    failed = {("curl", "amd64"): "dpkg: error processing package curl"}
    result = evaluate(inv, baseline(), NOW, operation=Operation.INSTALL, failed=failed)
    assert one(result, "curl").state is S.FAILED
    assert one(result, "curl").detail == "dpkg: error processing package curl"


def test_half_installed_is_failed_and_config_files_are_skipped() -> None:
    inv = inventory(
        [
            InstalledPackage(deb("nginx"), "half-configured"),
            InstalledPackage(deb("apache2"), "config-files"),
        ]
    )
    result = evaluate(inv, baseline(), NOW)
    assert states(result) == {"nginx": S.FAILED}
    assert "half-configured" in one(result, "nginx").detail


def test_pending_reboot_is_non_compliant() -> None:
    inv = inventory([sec("linux-image-amd64", "6.1-2")])
    result = evaluate(
        inv, baseline(), NOW, pending_reboot=frozenset({("linux-image-amd64", "amd64")})
    )
    assert one(result, "linux-image-amd64").state is S.INSTALLED_PENDING_REBOOT
    assert result.summary.compliance is Compliance.NON_COMPLIANT
    assert result.summary.severity is ComplianceLevel.HIGH


@pytest.mark.parametrize(
    ("action", "state", "compliance"),
    [
        (RejectedPatchesAction.BLOCK, S.INSTALLED_REJECTED, Compliance.NON_COMPLIANT),
        (RejectedPatchesAction.ALLOW_AS_DEPENDENCY, S.INSTALLED_OTHER, Compliance.COMPLIANT),
    ],
)
def test_installed_rejected_package(
    action: RejectedPatchesAction, state: PatchState, compliance: Compliance
) -> None:
    inv = inventory([sec("telnetd", "0.17-1")])
    result = evaluate(
        inv, baseline(rejected_patches=("telnetd",), rejected_patches_action=action), NOW
    )
    assert one(result, "telnetd").state is state
    assert "RejectedPatches" in one(result, "telnetd").detail
    assert result.summary.compliance is compliance
    if state is S.INSTALLED_REJECTED:
        assert result.summary.severity is ComplianceLevel.INFORMATIONAL  # UNSPECIFIED, floored


def test_a_rejected_update_is_not_missing() -> None:
    inv = inventory([sec("openssl", "3.0-1")], [sec("openssl", "3.1-1")])
    block = baseline(
        rejected_patches=("openssl-3.1*",), rejected_patches_action=RejectedPatchesAction.BLOCK
    )
    result = evaluate(inv, block, NOW)
    assert one(result, "openssl").state is S.INSTALLED
    assert result.summary.compliance is Compliance.COMPLIANT


def test_approved_list_names_that_are_not_installed_are_not_applicable() -> None:
    approved = ("nginx", "openssl", "ngin*", "curl.amd64", "libfoo-2.0-1", "vim-9.0-2")
    inv = inventory(
        [sec("openssl", "3.0-1"), sec("curl", "7.88-1"), deb("vim")], [sec("vim", "9.0-2")]
    )
    result = evaluate(inv, baseline(approved_patches=approved, level=ComplianceLevel.LOW), NOW)
    na = {i.name for i in result.items if i.state is S.NOT_APPLICABLE}
    assert na == {"nginx", "libfoo-2.0-1"}
    assert result.summary.counts["NOT_APPLICABLE"] == 2


def test_rpm_ids_on_the_approved_list_are_never_not_applicable() -> None:
    inv = inventory([], os=RHEL9, scheme="rpm")
    rhel = baseline(
        os="REDHAT_ENTERPRISE_LINUX", approved_patches=("CVE-2024-1", "RHSA-2024:1", "1234")
    )
    assert evaluate(inv, rhel, NOW).items == ()


def test_rpm_highest_approved_candidate_with_cve_union() -> None:
    old = NOW - timedelta(days=30)
    installed = Package("bash", "x86_64", "5.1.8-6.el9", update_notice=True)
    candidates = [
        Package(
            "bash",
            "x86_64",
            "5.1.8-9.el9",
            update_notice=True,
            cve_ids=("CVE-1",),
            release_date=old,
        ),
        Package(
            "bash",
            "x86_64",
            "5.1.8-10.el9",
            update_notice=True,
            cve_ids=("CVE-2",),
            release_date=old,
        ),
        Package(
            "bash",
            "x86_64",
            "5.1.8-11.el9",
            update_notice=True,
            cve_ids=("CVE-3",),
            release_date=NOW,
        ),
    ]
    rhel = baseline(
        os="REDHAT_ENTERPRISE_LINUX",
        approval_rules=(PatchRule((ANY,), ComplianceLevel.CRITICAL, approve_after_days=7),),
    )
    result = evaluate(inventory([installed], candidates, os=RHEL9, scheme="rpm"), rhel, NOW)
    bash = one(result, "bash")
    assert (bash.state, bash.available_version, bash.cves) == (
        S.MISSING,
        "5.1.8-10.el9",
        ("CVE-1", "CVE-2"),
    )
    assert result.summary.critical_non_compliant == 1


def test_several_installed_versions_report_the_highest() -> None:
    kernels = [
        Package("kernel", "x86_64", "5.14.0-10.el9", update_notice=True),
        Package("kernel", "x86_64", "5.14.0-9.el9", update_notice=False),
    ]
    rhel = baseline(os="REDHAT_ENTERPRISE_LINUX")
    result = evaluate(inventory(kernels, os=RHEL9, scheme="rpm"), rhel, NOW)
    (kernel,) = result.items
    assert (kernel.installed_version, kernel.state) == ("5.14.0-10.el9", S.INSTALLED)


def test_items_are_sorted_non_compliant_first_then_name_and_arch() -> None:
    inv = inventory(
        [deb("b"), deb("a", arch="i386"), deb("a"), deb("z"), deb("c")],
        [sec("z", "2.0-1"), sec("c", "2.0-1")],
    )
    result = evaluate(inv, baseline(), NOW)
    assert [(i.name, i.arch) for i in result.items] == [
        ("c", "amd64"),
        ("z", "amd64"),
        ("a", "amd64"),
        ("a", "i386"),
        ("b", "amd64"),
    ]


def test_rollup_of_a_compliant_node() -> None:
    result = evaluate(inventory([sec("openssl", "3.0-1"), deb("vim")]), baseline(), NOW)
    summary = result.summary
    assert summary.compliance is Compliance.COMPLIANT and summary.severity is None
    assert summary.counts == {state.value: 0 for state in PatchState} | {
        "INSTALLED": 1,
        "INSTALLED_OTHER": 1,
    }
    assert (summary.critical_non_compliant, summary.security_non_compliant) == (0, 0)
    assert summary.other_non_compliant == 0


def _item(state: PatchState, severity: ComplianceLevel, classification: str = "") -> PatchItem:
    return PatchItem("p", "amd64", "1", None, state, classification, severity)


def test_rollup_severity_and_counters() -> None:
    summary = summarize(
        [
            _item(S.MISSING, ComplianceLevel.CRITICAL, "Security"),
            _item(S.MISSING, ComplianceLevel.CRITICAL),
            _item(S.FAILED, ComplianceLevel.LOW, "security"),
            _item(S.INSTALLED_REJECTED, ComplianceLevel.UNSPECIFIED),
            _item(S.INSTALLED, ComplianceLevel.CRITICAL, "Security"),
            _item(S.NOT_APPLICABLE, ComplianceLevel.HIGH),
        ]
    )
    assert summary.compliance is Compliance.NON_COMPLIANT
    assert summary.severity is ComplianceLevel.CRITICAL
    assert summary.critical_non_compliant == 2
    assert summary.security_non_compliant == 2
    assert summary.other_non_compliant == 1
    assert summary.counts["MISSING"] == 2 and summary.counts["AVAILABLE_SECURITY_UPDATE"] == 0


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        (ComplianceLevel.UNSPECIFIED, ComplianceLevel.INFORMATIONAL),
        (ComplianceLevel.INFORMATIONAL, ComplianceLevel.INFORMATIONAL),
        (ComplianceLevel.MEDIUM, ComplianceLevel.MEDIUM),
    ],
)
def test_non_compliant_severity_has_an_informational_floor(
    severity: ComplianceLevel, expected: ComplianceLevel
) -> None:
    assert summarize([_item(S.MISSING, severity)]).severity is expected


def test_compliant_states_never_make_a_node_non_compliant() -> None:
    compliant = [S.INSTALLED, S.INSTALLED_OTHER, S.NOT_APPLICABLE]
    summary = summarize([_item(state, ComplianceLevel.CRITICAL) for state in compliant])
    assert summary.compliance is Compliance.COMPLIANT and summary.severity is None


# -- several available versions (apt: security pocket, point release, phasing) --------------


def test_missing_carries_the_highest_approved_version_and_shows_the_candidate() -> None:
    security_only = baseline(
        approval_rules=(PatchRule((ANY,), ComplianceLevel.HIGH, approve_after_days=0),)
    )
    installed = deb("openssh-client", "1:9.2p1-2+deb12u6")
    updates = [
        deb("openssh-client", "1:9.2p1-2+deb12u10", repository="bookworm", pin_priority=500),
        sec("openssh-client", "1:9.2p1-2+deb12u9", pin_priority=500),
    ]
    item = one(evaluate(inventory([installed], updates), security_only, NOW), "openssh-client")
    assert item.state is S.MISSING
    assert item.available_version == "1:9.2p1-2+deb12u9"
    assert item.candidate_version == "1:9.2p1-2+deb12u10"
    assert "newer version 1:9.2p1-2+deb12u10 (bookworm) not approved" in item.detail
    approve_all = baseline(
        approval_rules=(
            PatchRule((ANY,), ComplianceLevel.HIGH, approve_after_days=0, enable_non_security=True),
        )
    )
    item = one(evaluate(inventory([installed], updates), approve_all, NOW), "openssh-client")
    assert (item.available_version, item.candidate_version) == ("1:9.2p1-2+deb12u10", None)


def test_a_phased_update_apt_keeps_back_is_deferred_not_missing() -> None:
    approve_all = baseline(
        approval_rules=(
            PatchRule((ANY,), ComplianceLevel.HIGH, approve_after_days=0, enable_non_security=True),
        )
    )
    installed = deb("p", "7.0-1ubuntu0")
    phased = deb("p", "7.0-1ubuntu0.2", pin_priority=500, phasing=0, kept_back=True)
    result = evaluate(inventory([installed], [phased]), approve_all, NOW)
    item = one(result, "p")
    assert item.state is S.INSTALLED
    assert item.available_version is None and item.deferred_version == "7.0-1ubuntu0.2"
    assert "phased update 7.0-1ubuntu0.2 deferred" in item.detail
    assert item.candidate_version is None
    assert result.summary.compliance is Compliance.COMPLIANT
    # a security-only baseline reports the -security version; the phased one stays visible
    security = sec("p", "7.0-1ubuntu0.1", pin_priority=500)
    security_only = baseline()
    item = one(evaluate(inventory([installed], [phased, security]), security_only, NOW), "p")
    assert (item.state, item.available_version) == (S.MISSING, "7.0-1ubuntu0.1")
    assert item.candidate_version == "7.0-1ubuntu0.2"
