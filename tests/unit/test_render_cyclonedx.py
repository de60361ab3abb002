"""CycloneDX 1.6 JSON SBOM output: golden files, validated with the library's strict validator.

The sample report is the one of test_render_sarif (regenerate the golden files with
``PATCHWARDEN_UPDATE_GOLDEN=1``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from test_render_sarif import DEBIAN, FINDINGS, assert_golden, sample_report

from patchwarden.core.model import OsInfo
from patchwarden.render import RENDERERS
from patchwarden.render.cyclonedx import render
from patchwarden.render.refs import package_url


def validate(text: str) -> dict[str, Any]:
    """Strictly valid CycloneDX 1.6 (offline: the library's bundled schemas)."""
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, str(error)
    document: dict[str, Any] = json.loads(text)
    return document


def _vulns(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(v["id"], v["affects"][0]["ref"].split("@")[0]): v for v in document["vulnerabilities"]}


def test_golden_assessed_report() -> None:
    text = render(sample_report())
    validate(text)
    assert_golden("report.cdx.json", text)


def test_golden_report_without_assessment_is_a_plain_sbom() -> None:
    text = render(sample_report(None))
    document = validate(text)
    assert_golden("report-not-assessed.cdx.json", text)
    assert "vulnerabilities" not in document
    assert len(document["components"]) == 1 + 7  # the OS and the installed packages


def test_metadata_node_os_and_packages() -> None:
    document = validate(render(sample_report()))
    meta = document["metadata"]
    assert meta["timestamp"] == "2026-11-27T04:30:00+00:00"
    assert meta["component"]["name"] == "web-1" and meta["component"]["type"] == "device"
    assert [t["name"] for t in meta["tools"]["components"]] == ["patchwarden"]
    system = next(c for c in document["components"] if c["type"] == "operating-system")
    assert (system["name"], system["version"]) == ("debian", "12")
    purls = {c["name"]: c["purl"] for c in document["components"] if c["type"] == "library"}
    assert purls["openssl"] == "pkg:deb/debian/openssl@3.0.19-1~deb12u2?arch=amd64&distro=debian-12"
    assert purls["tzdata"] == "pkg:deb/debian/tzdata@2026a-0%2Bdeb12u1?arch=all&distro=debian-12"
    graph = {d["ref"]: d.get("dependsOn", []) for d in document["dependencies"]}
    assert graph["node:web-1"] == ["os:debian-12"]
    assert len(graph["os:debian-12"]) == 7


def test_vulnerabilities_ratings_affects_and_analysis() -> None:
    vulns = _vulns(validate(render(sample_report())))
    assert len(vulns) == len(FINDINGS)
    ssl = vulns[("CVE-2026-1001", "pkg:deb/debian/openssl")]
    assert ssl["ratings"] == [
        {
            "score": 7.5,
            "severity": "high",
            "method": "CVSSv31",
            "vector": "AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
        }
    ]
    assert ssl["affects"][0]["versions"] == [{"version": "3.0.19-1~deb12u2", "status": "affected"}]
    assert ssl["recommendation"] == "Upgrade openssl to 3.0.22-1~deb12u2 or later."
    assert ssl["references"][0]["id"] == "DSA-6001-1"
    assert "analysis" not in ssl  # ACTIVE: a detection, not an analysis
    bash = vulns[("CVE-2024-3003", "pkg:deb/debian/bash")]
    assert bash["analysis"] == {
        "state": "in_triage",
        "detail": "Suppressed by accept-bash-local: local-only; no untrusted users on web-1",
    }
    closed = vulns[("CVE-2023-4004", "pkg:deb/debian/libnss3")]
    assert closed["analysis"] == {"state": "resolved"}
    assert "versions" not in closed["affects"][0]
    zlib = vulns[("CVE-2025-2002", "pkg:deb/debian/zlib1g")]
    assert zlib["ratings"] == [
        {"severity": "medium", "justification": "the distribution's rating: medium"}
    ]
    assert zlib["recommendation"].startswith("No fixed version of zlib1g")


def test_closed_finding_of_a_removed_package_is_left_out() -> None:
    gone = replace(FINDINGS[4], package_name="libgone1")
    document = validate(render(sample_report((*FINDINGS[:4], gone))))
    assert all("libgone1" not in c["name"] for c in document["components"])
    assert len(document["vulnerabilities"]) == 4


def test_deterministic_and_serial_follows_content() -> None:
    first, second = render(sample_report()), render(sample_report())
    assert first == second
    other = render(
        replace(sample_report(), generated_at=sample_report().generated_at.replace(hour=5))
    )
    serial = json.loads(first)["serialNumber"]
    assert serial.startswith("urn:uuid:") and serial != json.loads(other)["serialNumber"]


@pytest.mark.parametrize(
    ("os_info", "expected"),
    [
        (DEBIAN, "pkg:deb/debian/openssl@1:3.0-1?arch=amd64&distro=debian-12"),
        (
            OsInfo("ubuntu", "22.04", "jammy", "Ubuntu 22.04", "debian", "UBUNTU", "Ubuntu22.04"),
            "pkg:deb/ubuntu/openssl@1:3.0-1?arch=amd64&distro=ubuntu-22.04",
        ),
        (
            OsInfo("rocky", "9.4", "", "Rocky Linux 9.4", "rhel", "ROCKY_LINUX", "RockyLinux9.4"),
            "pkg:rpm/rocky/openssl@1:3.0-1?arch=amd64&distro=rocky-9.4",
        ),
    ],
)
def test_package_urls(os_info: OsInfo, expected: str) -> None:
    assert package_url(os_info, "openssl", "1:3.0-1", "amd64") == expected


def test_registered_renderer() -> None:
    assert RENDERERS["cyclonedx"](sample_report()) == render(sample_report())
