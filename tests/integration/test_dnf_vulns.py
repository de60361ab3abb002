"""rpm update notices give vulnerability findings with fixed versions — no feed needed."""

from __future__ import annotations

import pytest
from rpm_sandbox import (
    RPM_NOW_ISO,
    RpmNode,
    host_rpm_untouched_fixture,  # noqa: F401  (pytest fixtures)
    make_rpm_node_fixture,  # noqa: F401
    rpm_node_fixture,  # noqa: F401
    rpm_ready_fixture,  # noqa: F401
    rpm_repo_fixture,  # noqa: F401
)
from sandbox import Cli

pytestmark = pytest.mark.integration

EXPECTED = {
    # CVE id: (package, installed, fixed in, severity from the notice's vendor rating)
    "CVE-2025-0001": ("foo", "1.0-1.amzn2023", "1.1-1.amzn2023", "CRITICAL"),
    "CVE-2025-0002": ("foo", "1.0-1.amzn2023", "1.1-1.amzn2023", "CRITICAL"),
    "CVE-2025-0003": ("qux", "3.0-1", "3.1-1", "HIGH"),
    "CVE-2025-0004": ("low", "1.0-1", "1.0-2", "LOW"),
    "CVE-2025-0006": ("kernel", None, None, "HIGH"),
    "CVE-2025-0007": ("app", "1.0-1", "1.1-1", "CRITICAL"),
}


def test_scan_vulns_without_a_database_uses_update_notices(rpm_node: RpmNode, pw: Cli) -> None:
    result = pw("scan", "--root", rpm_node.root, "--vulns", "--format", "json", now=RPM_NOW_ISO)
    assert result.returncode == 0, str(result)
    report = result.json()
    found = {f["vulnerability_id"]: f for f in report["vulnerabilities"]}
    assert set(found) == set(EXPECTED), sorted(found)
    for cve, (package, installed, fixed, severity) in EXPECTED.items():
        finding = found[cve]
        assert finding["package_name"] == package
        assert finding["status"] == "ACTIVE"
        assert finding["fix_available"] == "YES"
        assert finding["severity"] == severity, finding
        assert "updateinfo" in finding["sources"]
        if installed is not None:
            assert finding["package_version"] == installed
            assert finding["fixed_version"] == fixed
    # the advisory id travels as an alias of the CVE
    assert "ALAS2023-2025-001" in found["CVE-2025-0001"]["aliases"]
    # each missing patch lists the CVEs it fixes
    patches = {p["name"]: p for p in report["patches"]}
    assert patches["foo"]["cves"] == ["CVE-2025-0001", "CVE-2025-0002"]


def test_fail_on_gates_on_notice_severity(rpm_node: RpmNode, pw: Cli) -> None:
    result = pw("scan", "--root", rpm_node.root, "--fail-on", "critical", now=RPM_NOW_ISO)
    assert result.returncode == 1, str(result)
    assert "at or above CRITICAL" in result.stderr
