"""The zypper adapter's readers of ``--xmlout`` output, patch facts, and SUSE os-release names
(zypper 1.14's output as captured from real runs; no zypper needed here)."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree

from patchwarden.adapters.os.osrelease import os_info_from_fields
from patchwarden.adapters.os.zypper import execute as zx
from patchwarden.adapters.os.zypper import patches as zp
from patchwarden.ports import RunResult

LIST_PATCHES = """<?xml version='1.0'?>
<stream>
<message type="info">Loading repository data...</message>
<update-status version="0.6">
<update-list>
<update kind="patch" name="SUSE-SLE-Module-Basesystem-15-SP5-2025-101" edition="1" arch="noarch"
 status="needed" category="security" severity="critical" pkgmanager="false" restart="false"
 interactive="false"><status-since time_t="1796509238" text="2026-12-05T22:20:38Z"/>
<summary>Security update for foo</summary><description>fix</description><license/>
<source url="file:/tmp/zx/repo" alias="r1"/>
<issue-date time_t="1736510400" text="2025-01-10T12:00:00Z"/>
<issue-list><issue type="cve" id="CVE-2025-1111"><title>CVE-2025-1111</title></issue>
<issue type="bugzilla" id="1230001"><title>bug</title></issue></issue-list></update>
<update kind="patch" name="openSUSE-2025-7" edition="1" arch="noarch" status="optional"
 category="optional" severity="unspecified"><source url="file:/r" alias="r2"/>
<issue-list/></update>
</update-list>
</update-status>
</stream>
"""

INSTALL_SUMMARY = """<?xml version='1.0'?>
<stream>
<message type="info">Resolving package dependencies...</message>
<install-summary download-size="12142" space-usage-diff="0" packages-to-change="2">
<to-upgrade>
<solvable type="package" name="bar" edition="2.1-1" arch="noarch" edition-old="2.0-1"
 arch-old="noarch" summary="bar"><description>d</description></solvable>
</to-upgrade>
<to-install>
<solvable type="package" name="newdep" edition="1.0-1" arch="noarch" summary="n"/>
</to-install>
<to-remove>
<solvable type="package" name="gone" edition="3-1" arch="x86_64" summary="g"/>
</to-remove>
</install-summary>
<prompt id="0"><text>Continue?</text></prompt>
</stream>
"""


def _patches() -> list[zp.Patch]:
    doc = ElementTree.fromstring(LIST_PATCHES[LIST_PATCHES.index("<stream") :])
    return [zp.parse_patch(u) for u in doc.iter("update")]


def test_parse_patch_reads_category_severity_created_and_references() -> None:
    sec, opt = _patches()
    assert sec.id == "SUSE-SLE-Module-Basesystem-15-SP5-2025-101"
    assert (sec.repository, sec.category, sec.severity) == ("r1", "security", "critical")
    assert (sec.classification, sec.ssm_severity) == ("Security", "Critical")
    assert sec.created == datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
    assert sec.cve_ids == ("CVE-2025-1111",) and sec.bugzilla_ids == ("1230001",)
    assert (opt.classification, opt.ssm_severity, opt.created) == ("Optional", "", None)


def test_patch_facts_prefer_security_and_merge_ids() -> None:
    sec, opt = _patches()
    assert zp.patch_facts([]) is None
    facts = zp.patch_facts([opt, sec])
    assert facts is not None
    assert (facts.classification, facts.severity) == ("Security", "Critical")
    assert facts.advisory_ids == ("openSUSE-2025-7", sec.id)
    assert facts.cve_ids == ("CVE-2025-1111",)


def test_index_patches_by_the_nevras_of_their_pkglist() -> None:
    sec, opt = _patches()
    nevra = ("foo", 0, "1.1", "1", "noarch")
    index = zp.index_patches([sec, opt], {("r1", sec.id): {nevra}, ("r1", opt.id): {nevra}})
    assert index == {nevra: [sec]}  # opt comes from r2, whose updateinfo says nothing


def test_install_summary_rows() -> None:
    rows = zx.parse_summary(INSTALL_SUMMARY)
    assert [(r.action, r.name, r.version, r.old_version) for r in rows] == [
        ("upgrade", "bar", "2.1-1", "2.0-1"),
        ("install", "newdep", "1.0-1", ""),
        ("remove", "gone", "3-1", ""),
    ]


def test_zypper_error_prefers_xml_error_messages() -> None:
    out = (
        '<?xml version="1.0"?><stream>'
        "<message type=\"error\">No provider of 'x' found.</message></stream>"
    )
    result = RunResult(("zypper",), 104, out, "")
    assert zx.zypper_error(result, "zypper install") == "zypper install: No provider of 'x' found."
    plain = RunResult(("zypper",), 8, "", "System management is locked\n")
    assert zx.zypper_error(plain, "zypper install") == "zypper install: System management is locked"


def test_suse_os_release_names() -> None:
    sles = os_info_from_fields({"ID": "sles", "VERSION_ID": "15.5", "ID_LIKE": "suse"})
    assert (sles.family, sles.operating_system, sles.product) == ("suse", "SUSE", "Suse15.5")
    leap = os_info_from_fields({"ID": "opensuse-leap", "VERSION_ID": "15.6"})
    assert (leap.family, leap.operating_system, leap.product) == ("suse", "SUSE", "Suse15.6")
    other = os_info_from_fields({"ID": "sle-micro", "VERSION_ID": "5.5", "ID_LIKE": "suse"})
    assert (other.family, other.operating_system) == ("suse", "SUSE")
