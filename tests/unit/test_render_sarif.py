"""SARIF 2.1.0 output: golden files, validated against the vendored OASIS schema.

The sample report (also used by test_render_cyclonedx) is built by hand: missing, failed and
installed patches, and findings that are ACTIVE (fixed and unfixed), SUPPRESSED and CLOSED.
Regenerate the golden files with ``PATCHWARDEN_UPDATE_GOLDEN=1 pytest tests/unit/test_render_*``.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from patchwarden.core.compliance import summarize
from patchwarden.core.model import ComplianceLevel, Operation, OsInfo, PatchItem, PatchState
from patchwarden.core.report import NodeFacts, Report
from patchwarden.core.vuln import (
    AdvisoryStatus,
    Finding,
    FindingStatus,
    FixAvailable,
    Severity,
)
from patchwarden.render import RENDERERS
from patchwarden.render.sarif import MISSING_PATCH_RULE, SCHEMA_PATH, render, sarif_dict

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
DEBIAN = OsInfo(
    "debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)", "debian", "DEBIAN", "Debian12"
)
GENERATED = datetime(2026, 11, 27, 4, 30, tzinfo=UTC)
SEEN = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def assert_golden(name: str, text: str) -> None:
    """``text`` equals ``tests/golden/<name>``; PATCHWARDEN_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    if os.environ.get("PATCHWARDEN_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing {path}: run with PATCHWARDEN_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs from the golden file (PATCHWARDEN_UPDATE_GOLDEN=1 to accept the change)"
    )


def _item(name: str, installed: str | None, state: PatchState, **kw: Any) -> PatchItem:
    return PatchItem(
        name, kw.pop("arch", "amd64"), installed, kw.pop("available", None), state, **kw
    )


def _finding(vid: str, package: str, version: str, **kw: Any) -> Finding:
    fields: dict[str, Any] = {
        "aliases": (),
        "package_arch": "amd64",
        "source_name": package,
        "fixed_version": None,
        "fix_available": FixAvailable.NO,
        "severity": Severity.UNTRIAGED,
        "severity_source": "none",
        "advisory_status": AdvisoryStatus.AFFECTED,
        "sources": ("debian-tracker",),
        "first_observed": SEEN,
        "last_observed": GENERATED,
    }
    fields.update(kw)
    return Finding(vulnerability_id=vid, package_name=package, package_version=version, **fields)


ITEMS = (
    _item(
        "openssl",
        "3.0.19-1~deb12u2",
        PatchState.MISSING,
        available="3.0.22-1~deb12u2",
        classification="Security",
        repository="bookworm-security",
        cves=("CVE-2026-1001", "CVE-2026-1002"),
    ),
    _item(
        "libssl3",
        "3.0.19-1~deb12u2",
        PatchState.MISSING,
        available="3.0.22-1~deb12u2",
        classification="Security",
        severity=ComplianceLevel.HIGH,
        repository="bookworm-security",
    ),
    _item(
        "jq",
        "1.6-2.1+deb12u1",
        PatchState.FAILED,
        available="1.6-2.1+deb12u3",
        classification="Security",
        detail="apt-get: E: Sub-process /usr/bin/dpkg returned an error code (1)",
    ),
    _item("bash", "5.2.15-2+b7", PatchState.INSTALLED),
    _item("zlib1g", "1:1.2.13.dfsg-1", PatchState.INSTALLED_OTHER),
    _item("libnss3", "2:3.87.1-1+deb12u4", PatchState.INSTALLED),
    _item("tzdata", "2026a-0+deb12u1", PatchState.INSTALLED, arch="all"),
)

FINDINGS = (
    _finding(
        "CVE-2026-1001",
        "openssl",
        "3.0.19-1~deb12u2",
        aliases=("DSA-6001-1",),
        fixed_version="3.0.22-1~deb12u2",
        fix_available=FixAvailable.YES,
        severity=Severity.HIGH,
        severity_source="cvss",
        advisory_status=AdvisoryStatus.FIXED,
        cvss_score=7.5,
        cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
        title="OpenSSL: denial of service in the ASN.1 parser",
        sources=("debian-tracker", "osv"),
    ),
    _finding(
        "CVE-2026-1001",
        "libssl3",
        "3.0.19-1~deb12u2",
        source_name="openssl",
        aliases=("DSA-6001-1",),
        fixed_version="3.0.22-1~deb12u2",
        fix_available=FixAvailable.YES,
        severity=Severity.HIGH,
        severity_source="cvss",
        advisory_status=AdvisoryStatus.FIXED,
        cvss_score=7.5,
        cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
        title="OpenSSL: denial of service in the ASN.1 parser",
    ),
    _finding(
        "CVE-2025-2002",
        "zlib1g",
        "1:1.2.13.dfsg-1",
        source_name="zlib",
        severity=Severity.MEDIUM,
        severity_source="vendor",
        vendor_severity="medium",
    ),
    _finding(
        "CVE-2024-3003",
        "bash",
        "5.2.15-2+b7",
        fixed_version="5.2.15-2+deb12u1",
        fix_available=FixAvailable.YES,
        severity=Severity.LOW,
        severity_source="cvss",
        cvss_score=3.3,
        cvss_vector="CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:L/A:N",
        advisory_status=AdvisoryStatus.FIXED,
        status=FindingStatus.SUPPRESSED,
        suppressed_by="accept-bash-local",
        suppression_reason="local-only; no untrusted users on web-1",
    ),
    _finding(
        "CVE-2023-4004",
        "libnss3",
        "2:3.87.1-1+deb12u2",
        source_name="nss",
        fixed_version="2:3.87.1-1+deb12u4",
        fix_available=FixAvailable.YES,
        severity=Severity.CRITICAL,
        severity_source="cvss",
        cvss_score=9.8,
        cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        advisory_status=AdvisoryStatus.FIXED,
        status=FindingStatus.CLOSED,
    ),
    _finding(
        "CVE-2020-5005",
        "zlib1g",
        "1:1.2.13.dfsg-1",
        source_name="zlib",
        advisory_status=AdvisoryStatus.WONT_FIX,
        vendor_severity="unimportant",
    ),
)


def sample_report(vulnerabilities: tuple[Finding, ...] | None = FINDINGS) -> Report:
    """The hand-built report both golden tests render."""
    return Report(
        node=NodeFacts("web-1", "/", DEBIAN),
        baseline="AWS-DebianDefaultPatchBaseline",
        operation=Operation.SCAN,
        generated_at=GENERATED,
        items=ITEMS,
        summary=summarize(ITEMS),
        vulnerabilities=vulnerabilities,
    )


def validate(document: dict[str, Any]) -> None:
    """Validate against the vendored OASIS SARIF 2.1.0 schema (draft-04)."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def _results(report: Report) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = sarif_dict(report)["runs"][0]["results"]
    return results


def test_schema_is_the_official_one() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    assert schema["id"].endswith("/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    assert len(schema["definitions"]) == 52


def test_golden_assessed_report() -> None:
    text = render(sample_report())
    validate(json.loads(text))
    assert_golden("report.sarif.json", text)


def test_golden_report_without_assessment() -> None:
    text = render(sample_report(None))
    document = json.loads(text)
    validate(document)
    assert_golden("report-not-assessed.sarif.json", text)
    rules = document["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [MISSING_PATCH_RULE]


def test_a_compliant_node_without_findings_has_no_results() -> None:
    report = sample_report(())
    report = replace(report, items=tuple(i for i in ITEMS if i.state.compliant))
    document = sarif_dict(report)
    validate(document)
    run = document["runs"][0]
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []


def test_rules_one_per_vulnerability_with_cvss_security_severity() -> None:
    driver = sarif_dict(sample_report())["runs"][0]["tool"]["driver"]
    assert driver["name"] == "patchwarden" and driver["version"] and driver["informationUri"]
    rules = {r["id"]: r for r in driver["rules"]}
    assert sorted(rules) == [
        "CVE-2020-5005",
        "CVE-2024-3003",
        "CVE-2025-2002",
        "CVE-2026-1001",
        MISSING_PATCH_RULE,
    ]  # the CLOSED CVE-2023-4004 has no result, hence no rule
    assert rules["CVE-2026-1001"]["properties"]["security-severity"] == "7.5"
    assert "security-severity" not in rules["CVE-2025-2002"]["properties"]  # vendor-rated
    assert rules["CVE-2026-1001"]["helpUri"] == (
        "https://security-tracker.debian.org/tracker/CVE-2026-1001"
    )


def test_levels_suppressions_and_closed_findings() -> None:
    results = _results(sample_report())
    by = {(r["ruleId"], r["properties"]["package"]): r for r in results}
    assert by[("CVE-2026-1001", "openssl")]["level"] == "error"
    assert by[("CVE-2025-2002", "zlib1g")]["level"] == "warning"
    assert by[("CVE-2024-3003", "bash")]["level"] == "note"
    assert by[("CVE-2020-5005", "zlib1g")]["level"] == "note"
    assert by[("CVE-2024-3003", "bash")]["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "local-only; no untrusted users on web-1",
            "properties": {"suppressedBy": "accept-bash-local"},
        }
    ]
    assert all("suppressions" not in r for k, r in by.items() if k[1] != "bash")
    assert not any(r["ruleId"] == "CVE-2023-4004" for r in results)
    assert by[(MISSING_PATCH_RULE, "jq")]["level"] == "error"  # FAILED
    assert by[(MISSING_PATCH_RULE, "libssl3")]["level"] == "error"  # approved at HIGH
    assert by[(MISSING_PATCH_RULE, "openssl")]["level"] == "warning"  # security update
    message = by[(MISSING_PATCH_RULE, "openssl")]["message"]["text"]
    assert "3.0.22-1~deb12u2 is MISSING" in message and "CVE-2026-1002" in message
    for r in results:
        assert r["ruleIndex"] == [x["id"] for x in _rules()].index(r["ruleId"])


def _rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = sarif_dict(sample_report())["runs"][0]["tool"]["driver"]["rules"]
    return rules


def test_fingerprints_are_stable_across_versions_and_distinct_per_package() -> None:
    before = _results(sample_report())
    upgraded = tuple(
        replace(f, package_version="3.0.20-1~deb12u1") if f.package_name == "openssl" else f
        for f in FINDINGS
    )
    after = _results(sample_report(upgraded))
    prints = [r["partialFingerprints"] for r in before]
    assert prints == [r["partialFingerprints"] for r in after]
    assert len({json.dumps(p) for p in prints}) == len(prints)


def test_locations_name_the_package_by_purl_in_the_package_database() -> None:
    result = next(r for r in _results(sample_report()) if r["ruleId"] == "CVE-2025-2002")
    (location,) = result["locations"]
    assert location["physicalLocation"]["artifactLocation"] == {
        "uri": "var/lib/dpkg/status",
        "uriBaseId": "ROOTPATH",
    }
    assert location["logicalLocations"][0]["fullyQualifiedName"] == (
        "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12"
    )


@pytest.mark.parametrize("fmt", ["sarif"])
def test_registered_renderer(fmt: str) -> None:
    assert RENDERERS[fmt](sample_report()) == render(sample_report())
