"""The matcher on the tricky cases: source packages, version schemes, statuses, OSV ranges,
aliases, source precedence, PARTIAL fixes, severities."""

from __future__ import annotations

import pytest

from patchwarden.core.matching import (
    ecosystem_of,
    evaluate,
    match,
    osv_affected,
    patch_cves,
    query_names,
    scheme_of,
)
from patchwarden.core.model import InstalledPackage, Inventory, OsInfo, Package
from patchwarden.core.versions import COMPARATORS
from patchwarden.core.vuln import (
    Advisory,
    AdvisoryStatus,
    Finding,
    FixAvailable,
    Severity,
)

DEBIAN = OsInfo("debian", "12", "bookworm", "Debian 12", "debian", "DEBIAN", "Debian12")
ALMA = OsInfo("almalinux", "9.3", "", "AlmaLinux 9.3", "rhel", "ALMA_LINUX", "AlmaLinux9")
ECO = "Debian:12"
deb = COMPARATORS["deb"]
S = AdvisoryStatus


def inst(
    name: str, version: str, source: str = "", source_version: str = "", **kw: str
) -> InstalledPackage:
    pkg = Package(
        name,
        kw.get("arch", "amd64"),
        version,
        source_name=source or name,
        source_version=source_version or version,
    )
    return InstalledPackage(pkg, status=kw.get("status", "installed"))


def node(
    *packages: InstalledPackage,
    os: OsInfo = DEBIAN,
    scheme: str = "deb",
    updates: tuple[Package, ...] = (),
) -> Inventory:
    return Inventory(os, "web-1", "/", scheme, packages, updates)


def adv(
    vid: str,
    package: str,
    status: AdvisoryStatus = S.FIXED,
    fixed: str | None = None,
    source: str = "debian-tracker",
    ecosystem: str = ECO,
    **kw: object,
) -> Advisory:
    return Advisory(vid, source, ecosystem, package, status, fixed, **kw)  # type: ignore[arg-type]


def found(
    inv: Inventory, *advisories: Advisory, ecosystem: str = ECO
) -> dict[tuple[str, str], Finding]:
    return {
        (f.vulnerability_id, f.package_name): f for f in match(inv, advisories, ecosystem).findings
    }


# -- ecosystems ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("os_id", "version", "expected"),
    [
        ("debian", "12", "Debian:12"),
        ("debian", "11", "Debian:11"),
        ("debian", "", None),  # testing/sid: no VERSION_ID
        ("ubuntu", "22.04", "Ubuntu:22.04:LTS"),
        ("ubuntu", "24.04", "Ubuntu:24.04:LTS"),
        ("ubuntu", "22.10", "Ubuntu:22.10"),
        ("ubuntu", "23.04", "Ubuntu:23.04"),
        ("rocky", "9.3", "Rocky Linux:9"),
        ("almalinux", "8.10", "AlmaLinux:8"),
        ("alpine", "3.19.1", "Alpine:v3.19"),
        ("gentoo", "2.15", None),
    ],
)
def test_ecosystem_of_a_release(os_id: str, version: str, expected: str | None) -> None:
    os = OsInfo(os_id, version, "", "", "", "", "")
    assert ecosystem_of(os) == expected


def test_schemes_per_ecosystem() -> None:
    assert scheme_of("Debian:12") == "deb"
    assert scheme_of("Ubuntu:22.04:LTS") == "deb"
    assert scheme_of("Rocky Linux:9") == "rpm"
    assert scheme_of("Alpine:v3.19") == "apk"
    assert scheme_of("npm") is None


def test_alpine_packages_are_matched_with_apk_ordering() -> None:
    inv = node(inst("libssl3", "3.1.4-r1", "openssl"), scheme="apk")
    fixed_later = adv("CVE-2024-0001", "openssl", fixed="3.1.4-r3", ecosystem="Alpine:v3.19")
    fixed_before = adv("CVE-2023-0002", "openssl", fixed="3.1.4-r0", ecosystem="Alpine:v3.19")
    got = found(inv, fixed_later, fixed_before, ecosystem="Alpine:v3.19")
    assert set(got) == {("CVE-2024-0001", "libssl3")}
    assert got["CVE-2024-0001", "libssl3"].fixed_version == "3.1.4-r3"


# -- binary → source -------------------------------------------------------------------------


def test_binaries_are_judged_by_their_source_package() -> None:
    inv = node(inst("libssl3", "3.0.11-1~deb12u1", "openssl"), inst("openssl", "3.0.11-1~deb12u1"))
    got = found(inv, adv("CVE-2024-0001", "openssl", fixed="3.0.11-1~deb12u2"))
    assert set(got) == {("CVE-2024-0001", "libssl3"), ("CVE-2024-0001", "openssl")}
    assert got["CVE-2024-0001", "libssl3"].source_name == "openssl"
    assert got["CVE-2024-0001", "libssl3"].fixed_version == "3.0.11-1~deb12u2"
    assert query_names(inv, "deb") == ["openssl"]


def test_an_advisory_about_a_binary_name_does_not_match_on_deb() -> None:
    inv = node(inst("libssl3", "3.0.0-1", "openssl"))
    assert found(inv, adv("CVE-2024-0001", "libssl3", fixed="9.0-1")) == {}


def test_binnmu_is_compared_by_its_source_version() -> None:
    inv = node(inst("calm", "1.0-1+b1", "calm", "1.0-1"))
    assert found(inv, adv("CVE-2024-0002", "calm", fixed="1.0-1")) == {}
    hit = found(inv, adv("CVE-2024-0003", "calm", fixed="1.0-2"))
    assert hit["CVE-2024-0003", "calm"].package_version == "1.0-1+b1"


def test_source_version_differs_from_binary_version() -> None:
    # gcc 4:12.2.0-3 is built by gcc-defaults 1.203: the binary version would say "fixed".
    inv = node(inst("gcc", "4:12.2.0-3", "gcc-defaults", "1.203"))
    assert ("CVE-2024-0004", "gcc") in found(
        inv, adv("CVE-2024-0004", "gcc-defaults", fixed="1.204")
    )
    assert found(inv, adv("CVE-2024-0005", "gcc-defaults", fixed="1.203")) == {}


def test_rpm_advisories_may_name_the_binary_package() -> None:
    inv = node(
        inst("python3-requests", "2.20.0-2.el8", "python-requests"),
        os=ALMA,
        scheme="rpm",
    )
    eco = "AlmaLinux:9"
    by_binary = adv(
        "ALSA-2023:4520", "python3-requests", fixed="2.20.0-3.el8_8", source="osv", ecosystem=eco
    )
    assert set(found(inv, by_binary, ecosystem=eco)) == {("ALSA-2023:4520", "python3-requests")}
    assert query_names(inv, "rpm") == ["python-requests", "python3-requests"]


def test_config_files_only_packages_are_not_vulnerable() -> None:
    inv = node(inst("foo", "1.0-1", status="config-files"))
    assert found(inv, adv("CVE-2024-0006", "foo", fixed="1.0-2")) == {}


def test_other_releases_do_not_count() -> None:
    inv = node(inst("foo", "1.0-1"))
    assert found(inv, adv("CVE-2024-0007", "foo", fixed="1.0-2", ecosystem="Debian:11")) == {}


# -- versions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("installed", "fixed", "affected"),
    [
        ("1.0-1", "1:0.9-1", True),  # epoch bump: 1:0.9 is newer than 1.0
        ("1:0.9-1", "1:0.9-1", False),
        ("2:1.0-1", "1:9.9-1", False),
        ("1.0~rc1-1", "1.0-1", True),  # ~ sorts before everything
        ("1.0-1~bpo12+1", "1.0-1", True),
        ("1.0-1", "1.0-1~deb12u1", False),
        ("1.0-1", "1.0-1+deb12u1", True),
        ("1.0-1+deb12u1", "1.0-1+deb12u1", False),
        ("1.0-1+deb12u2", "1.0-1+deb12u1", False),
    ],
)
def test_fixed_status_compares_in_deb_order(installed: str, fixed: str, affected: bool) -> None:
    verdict = evaluate(adv("CVE-1", "foo", fixed=fixed), installed, deb)
    assert verdict.affected is affected
    assert verdict.fixed_version == (fixed if affected else None)


# -- statuses --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.AFFECTED, S.UNDETERMINED, S.WONT_FIX])
def test_unfixed_statuses_are_findings_without_a_fix(status: AdvisoryStatus) -> None:
    got = found(node(inst("foo", "1.0-1")), adv("CVE-2024-0010", "foo", status))
    f = got["CVE-2024-0010", "foo"]
    assert (f.fixed_version, f.fix_available, f.advisory_status) == (None, FixAvailable.NO, status)


def test_not_affected_is_never_a_finding() -> None:
    assert found(node(inst("foo", "1.0-1")), adv("CVE-2024-0011", "foo", S.NOT_AFFECTED)) == {}


def test_fixed_without_a_version_is_affected_with_no_known_fix() -> None:
    f = found(node(inst("foo", "1.0-1")), adv("CVE-2024-0012", "foo", S.FIXED))
    assert f["CVE-2024-0012", "foo"].fix_available is FixAvailable.NO


# -- OSV ranges ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "version", "expected"),
    [
        ((("introduced", "0"), ("fixed", "1.2-1")), "1.1-1", (True, "1.2-1")),
        ((("introduced", "0"), ("fixed", "1.2-1")), "1.2-1", (False, None)),
        ((("introduced", "1.5-1"), ("fixed", "1.6-1")), "1.4-1", (False, None)),
        ((("introduced", "0"),), "9.9-1", (True, None)),
        ((("introduced", "0"), ("last_affected", "1.2-1")), "1.2-1", (True, None)),
        ((("introduced", "0"), ("last_affected", "1.2-1")), "1.2-2", (False, None)),
        # events out of order, two ranges: the first fixed above the version is offered
        (
            (("fixed", "2.5-1"), ("introduced", "2.0-1"), ("fixed", "1.1-1"), ("introduced", "0")),
            "2.1-1",
            (True, "2.5-1"),
        ),
        (
            (("introduced", "0"), ("fixed", "1.1-1"), ("introduced", "2.0-1"), ("fixed", "2.5-1")),
            "1.5-1",
            (False, None),
        ),
        ((("introduced", "0"), ("fixed", "1:1.0-1")), "2.0-1", (True, "1:1.0-1")),  # epoch
        ((("introduced", "0"), ("limit", "2.0-1")), "2.1-1", (False, None)),
        ((("introduced", "0"), ("limit", "2.0-1")), "1.9-1", (True, None)),
        ((("introduced", "0"), ("limit", "*")), "1.9-1", (True, None)),
    ],
)
def test_osv_is_vulnerable(
    events: tuple[tuple[str, str], ...], version: str, expected: tuple[bool, str | None]
) -> None:
    assert osv_affected(version, events, deb) == expected


def test_osv_events_decide_over_the_status_field() -> None:
    a = adv(
        "DSA-1",
        "foo",
        S.FIXED,
        "1.2-1",
        source="osv",
        events=(("introduced", "0"), ("fixed", "1.2-1"), ("introduced", "1.4-1")),
    )
    assert evaluate(a, "1.5-1", deb).affected
    assert evaluate(a, "1.5-1", deb).status is S.AFFECTED
    assert not evaluate(a, "1.3-1", deb).affected


# -- aliases ---------------------------------------------------------------------------------


def test_dsa_and_cve_are_one_finding_named_by_the_cve() -> None:
    inv = node(inst("nginx", "1.2.1-2.2+wheezy2"))
    got = found(
        inv,
        adv("CVE-2014-3616", "nginx", fixed="1.2.1-2.2+wheezy3"),
        adv(
            "DSA-3029-1",
            "nginx",
            fixed="1.2.1-2.2+wheezy3",
            source="osv",
            events=(("introduced", "0"), ("fixed", "1.2.1-2.2+wheezy3")),
            aliases=("CVE-2014-3616",),
        ),
    )
    assert list(got) == [("CVE-2014-3616", "nginx")]
    f = got["CVE-2014-3616", "nginx"]
    assert f.aliases == ("DSA-3029-1",)
    assert f.sources == ("debian-tracker", "osv")


def test_an_advisory_naming_several_cves_does_not_merge_them() -> None:
    inv = node(inst("foo", "1.0-1"))
    got = found(
        inv,
        adv(
            "DSA-9-1",
            "foo",
            fixed="1.0-2",
            source="osv",
            aliases=("CVE-2024-0002", "CVE-2024-0001"),
        ),
    )
    assert set(got) == {("CVE-2024-0001", "foo"), ("CVE-2024-0002", "foo")}
    assert got["CVE-2024-0001", "foo"].aliases == ("DSA-9-1",)


def test_lowest_cve_names_a_chain_of_aliases() -> None:
    inv = node(inst("foo", "1.0-1"))
    got = found(
        inv,
        adv("GHSA-aaaa", "foo", fixed="1.0-2", source="osv", aliases=("CVE-2024-10000",)),
        adv("OSV-1", "foo", fixed="1.0-2", source="osv", aliases=("GHSA-aaaa", "CVE-2024-999")),
    )
    # CVE-2024-999 < CVE-2024-10000 numerically although not as text
    assert list(got) == [("CVE-2024-999", "foo")]
    assert got["CVE-2024-999", "foo"].aliases == ("CVE-2024-10000", "GHSA-aaaa", "OSV-1")


def test_without_a_cve_the_most_specific_source_names_it() -> None:
    got = found(
        node(inst("foo", "1.0-1")),
        adv("TEMP-0000001-ABCDEF", "foo", S.AFFECTED),
        adv("OSV-2024-7", "foo", S.AFFECTED, source="osv", aliases=("TEMP-0000001-ABCDEF",)),
    )
    assert list(got) == [("TEMP-0000001-ABCDEF", "foo")]


# -- precedence ------------------------------------------------------------------------------


def test_the_tracker_beats_osv_both_ways() -> None:
    inv = node(inst("foo", "1.0-3"))
    osv = adv(
        "DEBIAN-CVE-2024-1",
        "foo",
        S.FIXED,
        "1.0-5",
        source="osv",
        events=(("introduced", "0"), ("fixed", "1.0-5")),
        aliases=("CVE-2024-0001",),
    )
    # backport: the tracker knows 1.0-2 fixed it; OSV's generic range would flag 1.0-3
    assert found(inv, osv, adv("CVE-2024-0001", "foo", fixed="1.0-2")) == {}
    assert found(inv, osv, adv("CVE-2024-0001", "foo", S.NOT_AFFECTED)) == {}
    # and an open tracker entry wins over OSV's fixed range
    got = found(inv, osv, adv("CVE-2024-0001", "foo", S.AFFECTED))
    assert got["CVE-2024-0001", "foo"].fixed_version is None


def test_changelog_beats_osv_and_loses_to_the_tracker() -> None:
    inv = node(inst("foo", "1.0-1"))
    osv = adv("CVE-2024-0001", "foo", S.AFFECTED, source="osv", events=(("introduced", "0"),))
    changelog = adv("CVE-2024-0001", "foo", fixed="1.0-1+deb12u1", source="changelog")
    got = found(inv, osv, changelog)
    assert got["CVE-2024-0001", "foo"].fixed_version == "1.0-1+deb12u1"
    tracker = adv("CVE-2024-0001", "foo", fixed="1.0-1+deb12u2")
    got = found(inv, osv, changelog, tracker)
    assert got["CVE-2024-0001", "foo"].fixed_version == "1.0-1+deb12u2"
    assert got["CVE-2024-0001", "foo"].sources == ("debian-tracker", "changelog", "osv")


def test_equal_sources_take_the_highest_fix() -> None:
    got = found(
        node(inst("foo", "1.0-1")),
        adv("DSA-1-1", "foo", fixed="1.0-2", source="osv", aliases=("CVE-2024-0001",)),
        adv("DEBIAN-CVE-2024-0001", "foo", fixed="1.0-3", source="osv", aliases=("CVE-2024-0001",)),
    )
    assert got["CVE-2024-0001", "foo"].fixed_version == "1.0-3"


# -- PARTIAL and severity --------------------------------------------------------------------


def test_partial_when_only_some_packages_have_a_fix() -> None:
    inv = node(inst("libfoo1", "1.0-1", "foo"), inst("bar", "2.0-1"), inst("baz", "1.0-1"))
    got = found(
        inv,
        adv("CVE-2024-0001", "foo", fixed="1.0-2"),
        adv("CVE-2024-0001", "bar", S.AFFECTED),
        adv("CVE-2024-0002", "baz", fixed="1.0-2"),
    )
    assert got["CVE-2024-0001", "libfoo1"].fix_available is FixAvailable.PARTIAL
    assert got["CVE-2024-0001", "bar"].fix_available is FixAvailable.PARTIAL
    assert got["CVE-2024-0001", "bar"].fixed_version is None
    assert got["CVE-2024-0002", "baz"].fix_available is FixAvailable.YES


@pytest.mark.parametrize(
    ("fields", "severity", "how"),
    [
        (
            {"cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
            Severity.CRITICAL,
            "cvss",
        ),
        (
            {
                "cvss_vector": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
                "vendor_severity": "high",
            },
            Severity.MEDIUM,
            "cvss",
        ),
        ({"cvss_score": 7.0}, Severity.HIGH, "cvss"),
        (
            {
                "cvss_vector": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                "vendor_severity": "low",
            },
            Severity.CRITICAL,  # v4.0 base score 9.3 (core/cvss4.py) before the vendor rating
            "cvss",
        ),
        ({"cvss_vector": "AV:N/AC:L/Au:N/C:N/I:N/A:C"}, Severity.HIGH, "cvss"),  # v2: 7.8
        ({"vendor_severity": "unimportant"}, Severity.INFORMATIONAL, "vendor"),
        ({"vendor_severity": "high**"}, Severity.HIGH, "vendor"),
        ({"vendor_severity": "Important"}, Severity.HIGH, "vendor"),
        ({"vendor_severity": "Moderate"}, Severity.MEDIUM, "vendor"),
        ({"vendor_severity": "negligible"}, Severity.INFORMATIONAL, "vendor"),
        ({"vendor_severity": "not yet assigned"}, Severity.UNTRIAGED, "none"),
        ({}, Severity.UNTRIAGED, "none"),
    ],
)
def test_severity(fields: dict[str, object], severity: Severity, how: str) -> None:
    got = found(node(inst("foo", "1.0-1")), adv("CVE-2024-0001", "foo", S.AFFECTED, **fields))
    f = got["CVE-2024-0001", "foo"]
    assert (f.severity, f.severity_source) == (severity, how)


def test_cvss_of_a_generic_source_with_the_vendor_rating_of_the_specific_one() -> None:
    got = found(
        node(inst("foo", "1.0-1")),
        adv("CVE-2024-0001", "foo", fixed="1.0-2", vendor_severity="low", summary="tracker text"),
        adv(
            "OSV-1",
            "foo",
            fixed="1.0-2",
            source="osv",
            aliases=("CVE-2024-0001",),
            cvss_vector="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
        ),
    )
    f = got["CVE-2024-0001", "foo"]
    assert (f.severity, f.cvss_score, f.vendor_severity, f.title) == (
        Severity.LOW,
        3.1,
        "low",
        "tracker text",
    )


# -- robustness and patches ------------------------------------------------------------------


def test_unparsable_versions_are_skipped_with_a_note() -> None:
    result = match(
        node(inst("foo", "1.0-1")),
        [
            adv("CVE-2024-0001", "foo", fixed="not a version!"),
            adv("CVE-2024-0002", "foo", fixed="2"),
        ],
        ECO,
    )
    assert [f.vulnerability_id for f in result.findings] == ["CVE-2024-0002"]
    assert len(result.notes) == 1 and "CVE-2024-0001" in result.notes[0]


def test_patch_cves_lists_what_an_update_fixes() -> None:
    update = Package(
        "libfoo1", "amd64", "1.0-1+deb12u1", source_name="foo", source_version="1.0-1+deb12u1"
    )
    inv = node(inst("libfoo1", "1.0-1", "foo"), updates=(update,))
    result = match(
        inv,
        [
            adv("CVE-2024-0002", "foo", fixed="1.0-1+deb12u1"),
            adv(
                "DSA-5-1",
                "foo",
                fixed="1.0-1+deb12u1",
                source="osv",
                aliases=("CVE-2024-0002", "CVE-2024-0010"),
            ),
            adv("CVE-2024-0003", "foo", fixed="1.0-1+deb12u2"),  # needs a later update
            adv("CVE-2024-0004", "foo", S.AFFECTED),  # no fix at all
        ],
        ECO,
    )
    cves = patch_cves(result.findings, inv.updates, "deb")
    assert cves == {("libfoo1", "amd64", "1.0-1+deb12u1"): ("CVE-2024-0002", "CVE-2024-0010")}


def test_signed_kernel_images_are_matched_under_the_linux_source() -> None:
    from patchwarden.core.ecosystems import lookups
    from patchwarden.core.model import Package

    image = Package(
        name="linux-image-6.1.0-41-amd64",
        arch="amd64",
        version="6.1.158-1",
        source_name="linux-signed-amd64",
        source_version="6.1.158+1",
    )
    assert lookups(image, "deb") == (
        ("linux-signed-amd64", "6.1.158+1"),
        ("linux", "6.1.158-1"),
    )
    hwe = Package(
        "linux-image-6.5.0-1-generic", "amd64", "6.5.0-1.1", "linux-signed-hwe-6.5", "6.5.0-1.1"
    )
    assert lookups(hwe, "deb")[1] == ("linux-hwe-6.5", "6.5.0-1.1")
    plain = Package("bash", "amd64", "5.2-1", "bash", "5.2-1")
    assert lookups(plain, "deb") == (("bash", "5.2-1"),)


def test_suse_releases_read_every_module_of_their_service_pack() -> None:
    from patchwarden.core.ecosystems import release_ecosystems

    def os(os_id: str, version: str) -> OsInfo:
        return OsInfo(os_id, version, "", "", "suse", "SUSE", "Suse" + version)

    assert ecosystem_of(os("sles", "15.5")) == "SUSE:Linux Enterprise Server 15 SP5"
    assert ecosystem_of(os("sles", "15")) == "SUSE:Linux Enterprise Server 15"
    assert ecosystem_of(os("opensuse-leap", "15.5")) == "openSUSE:Leap 15.5"
    held = [
        "SUSE:Linux Enterprise Module for Basesystem 15 SP5",
        "SUSE:Linux Enterprise Server 15 SP5-LTSS",
        "SUSE:Linux Enterprise Module for Basesystem 15 SP4",
        "SUSE:Linux Enterprise Server 15",
        "openSUSE:Leap 15.5",
        "Debian:12",
    ]
    assert release_ecosystems("SUSE:Linux Enterprise Server 15 SP5", held) == [
        "SUSE:Linux Enterprise Module for Basesystem 15 SP5",
        "SUSE:Linux Enterprise Server 15 SP5",
        "SUSE:Linux Enterprise Server 15 SP5-LTSS",
    ]
    assert release_ecosystems("SUSE:Linux Enterprise Server 15", held) == [
        "SUSE:Linux Enterprise Server 15"
    ]
    assert release_ecosystems("openSUSE:Leap 15.5", held) == ["openSUSE:Leap 15.5"]
    assert release_ecosystems("Debian:12", held) == ["Debian:12"]
