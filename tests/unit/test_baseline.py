"""The SSM approval algorithm (reference §1.4-§1.9), validation (§1.1/§1.3) and defaults."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from patchwarden.core.baseline import (
    DEFAULT_BASELINE_NAMES,
    BaselineFieldError,
    PatchBaseline,
    PatchFilter,
    PatchRule,
    PatchSource,
    RejectedPatchesAction,
    SecurityUpdates,
    approve,
    bind,
    default_baseline,
    preferred,
    select_update,
)
from patchwarden.core.baseline.selection import release_pockets
from patchwarden.core.model import ComplianceLevel, Origin, Package
from patchwarden.errors import EnvironmentProblem, InputError

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
ANY = PatchFilter("PRODUCT", ("*",))
LOW, HIGH, CRITICAL = ComplianceLevel.LOW, ComplianceLevel.HIGH, ComplianceLevel.CRITICAL


def deb(name: str = "openssl", version: str = "3.0.11-1~deb12u2", **kw: Any) -> Package:
    kw.setdefault("priority", "optional")
    kw.setdefault("section", "libs")
    kw.setdefault("update_notice", True)
    return Package(name, kw.pop("arch", "amd64"), version, **kw)


def rpm(name: str = "bash", version: str = "5.1.8-6.el9", **kw: Any) -> Package:
    kw.setdefault("classification", "Security")
    kw.setdefault("severity", "Important")
    kw.setdefault("update_notice", True)
    return Package(name, kw.pop("arch", "x86_64"), version, **kw)


def rule(*filters: PatchFilter, level: ComplianceLevel = LOW, **kw: Any) -> PatchRule:
    if "approve_until_date" not in kw:
        kw.setdefault("approve_after_days", 0)
    return PatchRule(filters or (ANY,), level, **kw)


def debian(**kw: Any) -> PatchBaseline:
    kw.setdefault("approval_rules", (rule(),))
    return PatchBaseline("debian-test", "DEBIAN", **kw)


def rhel(**kw: Any) -> PatchBaseline:
    kw.setdefault("approval_rules", (rule(),))
    return PatchBaseline("rhel-test", kw.pop("os", "REDHAT_ENTERPRISE_LINUX"), **kw)


def ok_deb(baseline: PatchBaseline, pkg: Package, product: str = "Debian12") -> bool:
    return approve(baseline, pkg, product, NOW, "deb").approved


def ok_rpm(baseline: PatchBaseline, pkg: Package, product: str = "RedhatEnterpriseLinux9") -> bool:
    return approve(baseline, pkg, product, NOW, "rpm").approved


# --- §1.4 structure -------------------------------------------------------------------


def test_rejected_list_beats_approved_list_and_rules() -> None:
    baseline = debian(approved_patches=("openssl",), rejected_patches=("openssl",))
    verdict = approve(baseline, deb(), "Debian12", NOW, "deb")
    assert (verdict.approved, verdict.rejected) == (False, True)
    assert verdict.level is ComplianceLevel.UNSPECIFIED


def test_approved_list_bypasses_global_filters() -> None:
    baseline = debian(
        global_filters=(PatchFilter("PRIORITY", ("Required",)),),
        approved_patches=("openssl",),
        approved_patches_compliance_level=HIGH,
    )
    verdict = approve(baseline, deb(), "Debian12", NOW, "deb")
    assert verdict.approved and verdict.level is HIGH and verdict.reason == "ApprovedPatches"
    other = approve(baseline, deb("curl"), "Debian12", NOW, "deb")
    assert not other.approved and other.reason == "excluded by GlobalFilters"


def test_global_filters_are_anded() -> None:
    group = (PatchFilter("PRIORITY", ("Optional",)), PatchFilter("SECTION", ("net",)))
    assert not ok_deb(debian(global_filters=group), deb(section="libs"))
    assert ok_deb(debian(global_filters=group), deb(section="net"))


def test_rules_are_ored_and_the_highest_level_wins() -> None:
    rules = (
        rule(PatchFilter("SECTION", ("net",)), level=CRITICAL),
        rule(PatchFilter("SECTION", ("libs",)), level=LOW),
        rule(PatchFilter("PRIORITY", ("Optional",)), level=HIGH),
    )
    verdict = approve(debian(approval_rules=rules), deb(), "Debian12", NOW, "deb")
    assert verdict.approved and verdict.level is HIGH
    assert verdict.reason == "ApprovalRules.PatchRules[1], ApprovalRules.PatchRules[2]"


def test_filters_in_a_rule_are_anded_and_values_ored() -> None:
    both = rule(
        PatchFilter("PRIORITY", ("Important", "Optional")), PatchFilter("SECTION", ("net",))
    )
    assert not ok_deb(debian(approval_rules=(both,)), deb(section="libs"))
    assert ok_deb(debian(approval_rules=(both,)), deb(section="net"))


def test_star_and_glob_values() -> None:
    assert ok_deb(debian(approval_rules=(rule(PatchFilter("SECTION", ("*",))),)), deb(section=""))
    globbed = debian(approval_rules=(rule(PatchFilter("SECTION", ("li*",))),))
    assert ok_deb(globbed, deb(section="libs")) and not ok_deb(globbed, deb(section="net"))


def test_no_rules_and_no_list_approves_nothing() -> None:
    verdict = approve(debian(approval_rules=()), deb(), "Debian12", NOW, "deb")
    assert not verdict.approved and verdict.reason == "matches no approval rule"


# --- §1.5 filter keys and case ----------------------------------------------------------


def test_apt_product_is_compared_lower_cased() -> None:
    baseline = debian(approval_rules=(rule(PatchFilter("PRODUCT", ("DEBIAN12",))),))
    assert ok_deb(baseline, deb(), "Debian12")
    assert not ok_deb(baseline, deb(), "Debian11")


def test_rpm_product_is_compared_exactly() -> None:
    exact = rhel(approval_rules=(rule(PatchFilter("PRODUCT", ("RedhatEnterpriseLinux9",))),))
    other_case = rhel(approval_rules=(rule(PatchFilter("PRODUCT", ("redhatenterpriselinux9",))),))
    assert ok_rpm(exact, rpm()) and not ok_rpm(other_case, rpm())


def test_apt_priority_values_are_lowered_but_the_package_value_is_not() -> None:
    capitalised = debian(approval_rules=(rule(PatchFilter("PRIORITY", ("Optional",))),))
    lower = debian(approval_rules=(rule(PatchFilter("PRIORITY", ("optional",))),))
    assert ok_deb(capitalised, deb(priority="optional"))
    assert ok_deb(lower, deb(priority="optional"))
    assert not ok_deb(capitalised, deb(priority="Optional"))  # the AWS apt code, exactly
    assert not ok_deb(capitalised, deb(priority=""))


def test_rpm_classification_and_severity_ignore_case() -> None:
    group = (PatchFilter("CLASSIFICATION", ("SECURITY",)), PatchFilter("SEVERITY", ("important",)))
    baseline = rhel(approval_rules=(rule(*group),))
    assert ok_rpm(baseline, rpm(classification="Security", severity="Important"))
    assert not ok_rpm(baseline, rpm(classification="Bugfix", severity="Important"))
    assert not ok_rpm(baseline, rpm(severity=""))


# --- §1.6 release dates -------------------------------------------------------------------


def test_approve_after_days_counts_from_now() -> None:
    baseline = rhel(approval_rules=(rule(approve_after_days=7),))
    assert ok_rpm(baseline, rpm(release_date=NOW - timedelta(days=7)))
    verdict = approve(
        baseline, rpm(release_date=NOW - timedelta(days=7) + timedelta(seconds=1)), "P", NOW, "rpm"
    )
    assert not verdict.approved and "too recent for ApprovalRules.PatchRules[0]" in verdict.reason


def test_approve_after_days_zero_approves_what_was_first_seen_now() -> None:
    assert ok_deb(debian(), deb(release_date=NOW))
    assert not ok_deb(debian(), deb(release_date=NOW + timedelta(seconds=1)))


def test_approve_until_date_includes_the_whole_day() -> None:
    baseline = rhel(approval_rules=(rule(approve_until_date=date(2024, 6, 10)),))
    assert ok_rpm(baseline, rpm(release_date=datetime(2024, 6, 10, 23, 59, 59, tzinfo=UTC)))
    assert not ok_rpm(baseline, rpm(release_date=datetime(2024, 6, 11, tzinfo=UTC)))


def test_naive_datetimes_are_utc() -> None:
    baseline = rhel(approval_rules=(rule(approve_until_date=date(2024, 6, 10)),))
    assert ok_rpm(baseline, rpm(release_date=datetime(2024, 6, 10, 23, 0)))
    naive_now = approve(rhel(), rpm(release_date=NOW), "P", NOW.replace(tzinfo=None), "rpm")
    assert naive_now.approved


def test_missing_release_date_counts_as_1970() -> None:
    long_delay = (rule(approve_after_days=360),)
    assert ok_rpm(rhel(approval_rules=long_delay), rpm(release_date=None))
    assert ok_deb(debian(approval_rules=long_delay), deb(release_date=None))


# --- §1.9 security --------------------------------------------------------------------------


def test_rule_without_enable_non_security_needs_a_security_update() -> None:
    verdict = approve(debian(), deb(update_notice=False), "Debian12", NOW, "deb")
    assert not verdict.approved and "EnableNonSecurity false" in verdict.reason
    assert not ok_rpm(rhel(), rpm(update_notice=False))
    assert ok_deb(
        debian(approval_rules=(rule(enable_non_security=True),)), deb(update_notice=False)
    )
    assert ok_rpm(rhel(approval_rules=(rule(enable_non_security=True),)), rpm(update_notice=False))


def test_suse_skips_the_security_test() -> None:
    assert ok_rpm(rhel(os="SUSE"), rpm(update_notice=False), "SUSE15.5")


@pytest.mark.parametrize(("flag", "expected"), [(False, False), (True, True)])
def test_approved_patches_enable_non_security(flag: bool, expected: bool) -> None:
    kw: dict[str, Any] = {
        "approval_rules": (),
        "approved_patches": ("openssl", "bash"),
        "approved_patches_enable_non_security": flag,
    }
    assert ok_deb(debian(**kw), deb(update_notice=False)) is expected
    assert ok_rpm(rhel(**kw), rpm(update_notice=False)) is expected
    assert ok_deb(debian(**kw), deb(update_notice=True))


# --- §1.7 list formats ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        "nginx",
        "NGINX",
        "1.24.0-1~deb12u1",
        "nginx.amd64",
        "nginx-1.24.0-1~deb12u1",
        "amd64:1.24.0-1~deb12u1",
        "nginx.amd64:1.24.0-1~deb12u1",
        "ngin*",
        "nginx.[ab]md64",
        "ngin?",
    ],
)
def test_apt_list_renderings(entry: str) -> None:
    pkg = deb("nginx", "1.24.0-1~deb12u1")
    assert ok_deb(debian(approval_rules=(), approved_patches=(entry,)), pkg)
    assert approve(debian(rejected_patches=(entry,)), pkg, "Debian12", NOW, "deb").rejected


@pytest.mark.parametrize("entry", ["nginx:amd64", "nginx-1.24.0", "nginx_1.24.0-1~deb12u1", "ngin"])
def test_apt_list_non_matches(entry: str) -> None:
    pkg = deb("nginx", "1.24.0-1~deb12u1")
    assert not ok_deb(debian(approval_rules=(), approved_patches=(entry,)), pkg)


@pytest.mark.parametrize(
    ("version", "entry"),
    [
        ("1:5.1.8-6.el9", "bash"),
        ("1:5.1.8-6.el9", "bash.x86_64"),
        ("1:5.1.8-6.el9", "bash-5.1.8"),
        ("1:5.1.8-6.el9", "bash-5.1.8-6.el9"),
        ("1:5.1.8-6.el9", "bash-5.1.8-6.el9.x86_64"),
        ("1:5.1.8-6.el9", "bash-1:5.1.8-6.el9"),
        ("1:5.1.8-6.el9", "bash-1:5.1.8-6.el9.x86_64"),
        ("1:5.1.8-6.el9", "1:bash-5.1.8-6.el9.x86_64"),
        ("1:5.1.8-6.el9", "5.1.8"),
        ("1:5.1.8-6.el9", "5.1.8-6.el9"),
        ("1:5.1.8-6.el9", "1:5.1.8-6.el9"),
        ("1:5.1.8-6.el9", "bash.x86_64:1:5.1.8-6.el9"),
        ("5.1.8-6.el9", "bash-0:5.1.8-6.el9.x86_64"),
        ("5.1.8-6.el9", "0:bash-5.1.8-6.el9.x86_64"),
        ("5.1.8-6.el9", "BASH-5.1.8-6.EL9.X86_64"),
        ("5.1.8-6.el9", "bash-5.1.*"),
    ],
)
def test_rpm_list_renderings(version: str, entry: str) -> None:
    pkg = rpm("bash", version)
    assert ok_rpm(rhel(approval_rules=(), approved_patches=(entry,)), pkg)
    assert approve(rhel(rejected_patches=(entry,)), pkg, "P", NOW, "rpm").rejected


@pytest.mark.parametrize("entry", ["RHSA-2024:1234", "CVE-2024-0001", "2250843", "cve-2024-0001"])
def test_rpm_approved_list_accepts_update_ids(entry: str) -> None:
    pkg = rpm(
        advisory_ids=("RHSA-2024:1234",), cve_ids=("CVE-2024-0001",), bugzilla_ids=("2250843",)
    )
    baseline = rhel(approval_rules=(), approved_patches=(entry,))
    assert ok_rpm(baseline, pkg)
    assert not ok_rpm(baseline, rpm())


@pytest.mark.parametrize("entry", ["RHSA-2024:1234", "CVE-2024-0001", "2250843", "ALAS2-2023-1234"])
def test_rpm_rejected_list_refuses_update_ids(entry: str) -> None:
    with pytest.raises(BaselineFieldError, match=r"^RejectedPatches\[0\]: .*package names only"):
        rhel(rejected_patches=(entry,))


def test_apt_approved_list_does_not_match_cve_ids() -> None:
    baseline = debian(approval_rules=(), approved_patches=("CVE-2024-0001",))
    assert not ok_deb(baseline, deb(cve_ids=("CVE-2024-0001",)))


# --- select_update ----------------------------------------------------------------------------


def test_select_update_takes_the_highest_approved_version_and_unions_cves() -> None:
    baseline = rhel(approval_rules=(rule(approve_after_days=7),))
    old = NOW - timedelta(days=30)
    candidates = [
        rpm(version="5.1.9-1.el9", release_date=old, cve_ids=("CVE-1",)),
        rpm(version="5.1.10-1.el9", release_date=old, cve_ids=("CVE-2",), update_notice=False),
        rpm(version="5.1.12-1.el9", release_date=old, cve_ids=("CVE-3", "CVE-1")),
        rpm(version="5.1.13-1.el9", release_date=NOW, cve_ids=("CVE-4",)),
    ]
    choice = select_update(baseline, candidates, product="P", now=NOW, scheme="rpm")
    assert choice is not None
    assert choice.package.version == "5.1.12-1.el9"
    assert choice.cves == ("CVE-1", "CVE-2", "CVE-3")


def test_select_update_prefers_the_highest_level_for_one_version() -> None:
    baseline = rhel(
        approval_rules=(
            rule(PatchFilter("CLASSIFICATION", ("Bugfix",)), level=LOW),
            rule(PatchFilter("CLASSIFICATION", ("Security",)), level=CRITICAL),
        )
    )
    candidates = [rpm(classification="Bugfix"), rpm(classification="Security")]
    choice = select_update(baseline, candidates, product="P", now=NOW, scheme="rpm")
    assert choice is not None and choice.approval.level is CRITICAL


def test_select_update_ignores_versions_not_newer_than_installed_and_unapproved() -> None:
    baseline = rhel()
    candidates = [rpm(version="5.1.8-6.el9"), rpm(version="5.2-1.el9", update_notice=False)]
    kw: dict[str, Any] = {"product": "P", "now": NOW, "scheme": "rpm"}
    assert select_update(baseline, candidates, installed_version="5.1.8-6.el9", **kw) is None
    assert select_update(baseline, [], **kw) is None


SECURITY_ORIGIN = Origin(archive="bookworm-security", codename="bookworm-security")
RELEASE_ORIGIN = Origin(archive="bookworm", codename="bookworm")
BACKPORTS_ORIGIN = Origin(archive="bookworm-backports", codename="bookworm-backports")


def apt_version(version: str, origin: Origin, prio: int = 500, **kw: Any) -> Package:
    security = origin.archive.endswith("-security")
    return deb(
        version=version,
        origins=(origin,),
        repository=origin.archive,
        update_notice=security,
        pin_priority=prio,
        **kw,
    )


DEB12 = {"product": "Debian12", "now": NOW, "scheme": "deb"}
SECURITY_ONLY = debian(approval_rules=(rule(PatchFilter("PRIORITY", ("optional",))),))
APPROVE_ALL = debian(approval_rules=(rule(enable_non_security=True),))


def test_a_security_version_older_than_the_point_release_is_the_one_reported() -> None:
    """The defect of the openssh-client report: u9 in -security, u10 in the point release."""
    candidates = [
        apt_version("1:9.2p1-2+deb12u10", RELEASE_ORIGIN, cve_ids=("CVE-B",)),
        apt_version("1:9.2p1-2+deb12u9", SECURITY_ORIGIN, cve_ids=("CVE-A",)),
        apt_version("1:9.2p1-2+deb12u7", RELEASE_ORIGIN),
    ]
    choice = select_update(SECURITY_ONLY, candidates, **DEB12)
    assert choice is not None and choice.package.version == "1:9.2p1-2+deb12u9"
    assert choice.cves == ("CVE-A",)
    assert choice.security_fix is None
    everything = select_update(APPROVE_ALL, candidates, **DEB12)
    assert everything is not None and everything.package.version == "1:9.2p1-2+deb12u10"
    assert everything.cves == ("CVE-A", "CVE-B")


def test_apt_prefers_pin_priority_over_version_among_approved_versions() -> None:
    # backports (100) is newer than the point release (500): apt installs the point release
    candidates = [
        apt_version("3.0-1~bpo12+1", BACKPORTS_ORIGIN, prio=100),
        apt_version("2.1-1", RELEASE_ORIGIN, prio=500),
    ]
    choice = select_update(APPROVE_ALL, candidates, **DEB12)
    assert choice is not None and choice.package.version == "2.1-1"
    # when only the backport is approved, it is what apt would install in its place
    only_bpo = debian(approved_patches=("bar-3.0*",), approved_patches_enable_non_security=True)
    choice = select_update(only_bpo, [replace(c, name="bar") for c in candidates], **DEB12)
    assert choice is not None and choice.package.version == "3.0-1~bpo12+1"
    assert preferred(candidates, "deb") is candidates[1]
    assert preferred([], "deb") is None


def test_newest_in_release_installs_the_point_release_that_contains_the_fix() -> None:
    newest = debian(
        approval_rules=(rule(PatchFilter("PRIORITY", ("optional",))),),
        security_updates=SecurityUpdates.NEWEST_IN_RELEASE,
    )
    candidates = [
        apt_version("1.0-1+deb12u3~bpo", BACKPORTS_ORIGIN, prio=100),
        apt_version("1.0-1+deb12u2", RELEASE_ORIGIN, cve_ids=("CVE-B",)),
        apt_version("1.0-1+deb12u1", SECURITY_ORIGIN, cve_ids=("CVE-A",)),
    ]
    choice = select_update(newest, candidates, **DEB12)
    assert choice is not None and choice.package.version == "1.0-1+deb12u2"
    assert choice.security_fix is not None and choice.security_fix.version == "1.0-1+deb12u1"
    assert choice.cves == ("CVE-A", "CVE-B")
    assert choice.approval.approved
    # no security version approved: nothing to stand in for
    assert select_update(newest, candidates[:2], **DEB12) is None
    # a rejected point release is never taken instead
    rejecting = replace(newest, rejected_patches=("openssl-1.0-1+deb12u2",))
    choice = select_update(rejecting, candidates, **DEB12)
    assert choice is not None and choice.package.version == "1.0-1+deb12u1"


def test_release_pockets_of_debian_and_ubuntu_security_archives() -> None:
    assert release_pockets(apt_version("1", SECURITY_ORIGIN)) == {"bookworm", "bookworm-updates"}
    ubuntu = Origin(archive="jammy-security", codename="jammy")
    assert release_pockets(apt_version("1", ubuntu)) == {"jammy", "jammy-updates"}
    debian_suite = Origin(archive="oldstable-security", codename="bookworm-security")
    assert release_pockets(apt_version("1", debian_suite)) == {"oldstable", "oldstable-updates"}


def test_newest_in_release_is_refused_on_rpm_baselines() -> None:
    with pytest.raises(BaselineFieldError, match=r"Patchwarden\.SecurityUpdates"):
        rhel(security_updates=SecurityUpdates.NEWEST_IN_RELEASE)


def test_a_baseline_judges_only_its_own_package_family() -> None:
    with pytest.raises(InputError, match="DEBIAN"):
        bind(debian(), product="RedhatEnterpriseLinux9", now=NOW, scheme="rpm")


# --- validation ----------------------------------------------------------------------------


INVALID: list[tuple[dict[str, Any], str]] = [
    ({"name": "ab"}, "Name: must be 3-128"),
    ({"name": "has space"}, "Name: must be 3-128"),
    ({"description": ""}, "Description: must be 1-1024 characters, got 0"),
    ({"operating_system": "WINDOWS"}, "OperatingSystem: WINDOWS is not supported"),
    ({"operating_system": "PLAN9"}, "OperatingSystem: must be one of"),
    (
        {"global_filters": (ANY,) * 5},
        "GlobalFilters.PatchFilters: must have at most 4 filters, got 5",
    ),
    (
        {"global_filters": (ANY, PatchFilter("PRODUCT", ("x",)))},
        "GlobalFilters.PatchFilters[1].Key: PRODUCT is given twice",
    ),
    (
        {"global_filters": (PatchFilter("CLASSIFICATION", ("Security",)),)},
        "GlobalFilters.PatchFilters[0].Key: 'CLASSIFICATION' cannot approve for DEBIAN "
        "baselines (use PRODUCT, PRIORITY, SECTION)",
    ),
    (
        {"global_filters": (PatchFilter("COLOUR", ("red",)),)},
        "GlobalFilters.PatchFilters[0].Key: 'COLOUR' is not a filter key",
    ),
    (
        {"global_filters": (PatchFilter("PRODUCT", ()),)},
        "GlobalFilters.PatchFilters[0].Values: must have 1-20 values, got 0",
    ),
    (
        {"global_filters": (PatchFilter("PRODUCT", tuple("abcdefghijklmnopqrstu")),)},
        "GlobalFilters.PatchFilters[0].Values: must have 1-20 values, got 21",
    ),
    (
        {"global_filters": (PatchFilter("PRODUCT", ("x", "y" * 65)),)},
        "GlobalFilters.PatchFilters[0].Values[1]: must be 1-64 characters, got 65",
    ),
    (
        {"approval_rules": (rule(),) * 11},
        "ApprovalRules.PatchRules: must have at most 10 rules, got 11",
    ),
    (
        {"approval_rules": (rule(), rule(approve_after_days=400))},
        "ApprovalRules.PatchRules[1].ApproveAfterDays: must be between 0 and 360, got 400",
    ),
    (
        {"approval_rules": (rule(approve_after_days=-1),)},
        "ApprovalRules.PatchRules[0].ApproveAfterDays: must be between 0 and 360, got -1",
    ),
    (
        {"approval_rules": (PatchRule((ANY,)),)},
        "ApprovalRules.PatchRules[0]: exactly one of ApproveAfterDays and ApproveUntilDate",
    ),
    (
        {
            "approval_rules": (
                PatchRule((ANY,), approve_after_days=1, approve_until_date=NOW.date()),
            )
        },
        "ApprovalRules.PatchRules[0]: exactly one of ApproveAfterDays and ApproveUntilDate",
    ),
    (
        {"approval_rules": (rule(PatchFilter("SEVERITY", ("Critical",))),)},
        "ApprovalRules.PatchRules[0].PatchFilterGroup.PatchFilters[0].Key: 'SEVERITY'",
    ),
    ({"approved_patches": ("p",) * 51}, "ApprovedPatches: must have at most 50 entries, got 51"),
    ({"rejected_patches": ("a" * 101,)}, "RejectedPatches[0]: must be 1-100 characters, got 101"),
    ({"approved_patches": ("",)}, "ApprovedPatches[0]: must be 1-100 characters, got 0"),
    ({"sources": (PatchSource("my", ("*",), "deb x"),)}, "Sources[0].Name: must be 3-50"),
    ({"sources": (PatchSource("mine", (), "deb x"),)}, "Sources[0].Products: must have 1-20"),
    ({"sources": (PatchSource("mine", ("*",), ""),)}, "Sources[0].Configuration: must be 1-1024"),
]


@pytest.mark.parametrize(("changes", "message"), INVALID)
def test_invalid_baselines_name_the_field(changes: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {"name": "valid-name", "operating_system": "DEBIAN"} | changes
    with pytest.raises(InputError) as caught:
        PatchBaseline(**fields)
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, BaselineFieldError)
    assert str(caught.value).startswith(caught.value.path + ": ")


def test_rpm_keys_are_accepted_on_rpm_baselines() -> None:
    group = (ANY, PatchFilter("CLASSIFICATION", ("Security",)), PatchFilter("SEVERITY", ("Low",)))
    baseline = rhel(global_filters=group, rejected_patches=("kernel*",))
    assert baseline.rejected_patches_action is RejectedPatchesAction.ALLOW_AS_DEPENDENCY


# --- defaults ------------------------------------------------------------------------------


@pytest.mark.parametrize("operating_system", sorted(DEFAULT_BASELINE_NAMES))
def test_default_baselines_exist_for_every_linux(operating_system: str) -> None:
    baseline = default_baseline(operating_system)
    assert baseline.name == DEFAULT_BASELINE_NAMES[operating_system]
    assert baseline.name.startswith("AWS-" if operating_system != "ALPINE" else "Patchwarden-")
    assert all(r.compliance_level is ComplianceLevel.UNSPECIFIED for r in baseline.approval_rules)


def test_default_baseline_names() -> None:
    assert default_baseline("DEBIAN").name == "AWS-DebianDefaultPatchBaseline"
    assert default_baseline("UBUNTU").name == "AWS-UbuntuDefaultPatchBaseline"
    assert default_baseline("AMAZON_LINUX_2023").name == "AWS-AmazonLinux2023DefaultPatchBaseline"
    assert default_baseline("ROCKY_LINUX").name == "AWS-RockyLinuxDefaultPatchBaseline"


def test_default_baseline_refuses_other_systems() -> None:
    with pytest.raises(EnvironmentProblem):
        default_baseline("WINDOWS")
    with pytest.raises(InputError, match="unknown operating system"):
        default_baseline("debian")


def test_debian_default_approves_security_pocket_updates_of_any_priority_at_once() -> None:
    baseline = default_baseline("DEBIAN")
    for priority in ("required", "important", "standard", "optional", "extra"):
        assert ok_deb(baseline, deb(priority=priority, release_date=NOW))
    assert not ok_deb(baseline, deb(update_notice=False, release_date=NOW - timedelta(days=99)))


def test_redhat_default_approves_critical_important_security_and_bugfix_after_7_days() -> None:
    baseline = default_baseline("REDHAT_ENTERPRISE_LINUX")
    week_old, fresh = NOW - timedelta(days=7), NOW - timedelta(days=6)
    assert ok_rpm(baseline, rpm(severity="Critical", release_date=week_old))
    assert not ok_rpm(baseline, rpm(severity="Critical", release_date=fresh))
    assert not ok_rpm(baseline, rpm(severity="Moderate", release_date=week_old))
    assert ok_rpm(baseline, rpm(classification="Bugfix", severity="", release_date=week_old))
    assert not ok_rpm(baseline, rpm(classification="Enhancement", release_date=week_old))


def test_oracle_and_centos_defaults() -> None:
    week_old = NOW - timedelta(days=8)
    assert ok_rpm(default_baseline("ORACLE_LINUX"), rpm(severity="Moderate", release_date=week_old))
    assert not ok_rpm(
        default_baseline("ORACLE_LINUX"), rpm(severity="Critical", release_date=week_old)
    )
    centos = default_baseline("CENTOS")
    assert ok_rpm(
        centos, rpm(classification="", severity="", update_notice=False, release_date=week_old)
    )


def test_fedora_advisory_ids_are_update_ids() -> None:
    from patchwarden.core.baseline.patterns import is_update_id

    assert is_update_id("FEDORA-2024-0a1b2c3d4e")
    assert is_update_id("FEDORA-EPEL-2024-0a1b2c3d4e")
    assert is_update_id("RHSA-2024:1234") and is_update_id("ALAS2023-2024-123")
    assert not is_update_id("fedora-release")
