"""The pipeline's scan gate and the distribution's tag templates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from patchwarden.core.recipe import Gate, gate_failures, render_tag
from patchwarden.core.semver import ImageVersion
from patchwarden.core.vuln import (
    AdvisoryStatus,
    Finding,
    FindingStatus,
    FixAvailable,
    Severity,
)


def finding(
    cve: str,
    package: str,
    severity: Severity = Severity.HIGH,
    *,
    status: FindingStatus = FindingStatus.ACTIVE,
    fix: FixAvailable = FixAvailable.YES,
    kev: bool = False,
    epss: float | None = None,
) -> Finding:
    return Finding(
        vulnerability_id=cve,
        aliases=(),
        package_name=package,
        package_version="1.0-1",
        package_arch="amd64",
        source_name=package,
        fixed_version="1.0-2" if fix is not FixAvailable.NO else None,
        fix_available=fix,
        severity=severity,
        severity_source="cvss",
        advisory_status=AdvisoryStatus.FIXED,
        sources=("debian-tracker",),
        status=status,
        known_exploited=kev,
        epss=epss,
    )


NO_HIGH = Gate(max_findings=((Severity.CRITICAL, 0), (Severity.HIGH, 0)))


def test_an_empty_gate_passes_everything() -> None:
    assert Gate().empty
    assert gate_failures(Gate(), [finding("CVE-2099-0001", "openssl", Severity.CRITICAL)]) == []


def test_counts_per_severity_name_the_findings() -> None:
    findings = [
        finding("CVE-2099-0002", "zlib"),
        finding("CVE-2099-0001", "openssl"),
        finding("CVE-2099-0003", "curl", Severity.MEDIUM),
    ]
    assert gate_failures(NO_HIGH, findings) == [
        "2 HIGH findings (at most 0 allowed): CVE-2099-0001 in openssl, CVE-2099-0002 in zlib"
    ]
    assert gate_failures(Gate(max_findings=((Severity.HIGH, 2),)), findings) == []
    assert gate_failures(Gate(max_findings=((Severity.MEDIUM, 0),)), findings) == [
        "1 MEDIUM finding (at most 0 allowed): CVE-2099-0003 in curl"
    ]


def test_one_sentence_per_threshold_in_gate_order() -> None:
    findings = [
        finding("CVE-2099-0001", "openssl", Severity.CRITICAL),
        finding("CVE-2099-0002", "zlib", Severity.HIGH),
    ]
    assert gate_failures(NO_HIGH, findings) == [
        "1 CRITICAL finding (at most 0 allowed): CVE-2099-0001 in openssl",
        "1 HIGH finding (at most 0 allowed): CVE-2099-0002 in zlib",
    ]


def test_at_most_five_findings_are_named() -> None:
    findings = [finding(f"CVE-2099-000{i}", f"pkg{i}") for i in range(1, 8)]
    assert gate_failures(Gate(max_findings=((Severity.HIGH, 1),)), findings) == [
        "7 HIGH findings (at most 1 allowed): CVE-2099-0001 in pkg1, CVE-2099-0002 in pkg2, "
        "CVE-2099-0003 in pkg3, CVE-2099-0004 in pkg4, CVE-2099-0005 in pkg5 and 2 more"
    ]


def test_only_active_findings_count() -> None:
    findings = [
        finding("CVE-2099-0001", "openssl", status=FindingStatus.SUPPRESSED),
        finding("CVE-2099-0002", "zlib", status=FindingStatus.CLOSED),
        finding("CVE-2099-0003", "curl", status=FindingStatus.SUPPRESSED, kev=True, epss=0.9),
    ]
    strict = Gate(max_findings=((Severity.HIGH, 0),), fail_on_known_exploited=True, max_epss=0.1)
    assert gate_failures(strict, findings) == []


def test_ignore_unfixed_drops_findings_without_any_fix() -> None:
    findings = [
        finding("CVE-2099-0001", "openssl", fix=FixAvailable.NO),
        finding("CVE-2099-0002", "zlib", fix=FixAvailable.PARTIAL),
    ]
    assert gate_failures(NO_HIGH, findings) == [
        "2 HIGH findings (at most 0 allowed): CVE-2099-0001 in openssl, CVE-2099-0002 in zlib"
    ]
    ignoring = Gate(max_findings=NO_HIGH.max_findings, ignore_unfixed=True)
    assert gate_failures(ignoring, findings) == [
        "1 HIGH finding (at most 0 allowed): CVE-2099-0002 in zlib"
    ]


def test_known_exploited_and_epss() -> None:
    findings = [
        finding("CVE-2099-0001", "openssl", Severity.LOW, kev=True, epss=0.5),
        finding("CVE-2099-0002", "zlib", Severity.LOW, epss=0.49),
        finding("CVE-2099-0003", "curl", Severity.LOW),
    ]
    gate = Gate(fail_on_known_exploited=True, max_epss=0.5)
    assert gate_failures(gate, findings) == [
        "1 known exploited finding (CISA KEV): CVE-2099-0001 in openssl",
        "1 finding with EPSS >= 0.5: CVE-2099-0001 in openssl (EPSS 0.5)",
    ]
    assert gate_failures(Gate(max_epss=0.3), findings) == [
        "2 findings with EPSS >= 0.3: CVE-2099-0001 in openssl (EPSS 0.5), "
        "CVE-2099-0002 in zlib (EPSS 0.49)"
    ]


VERSION = ImageVersion.parse("1.2.3/4")
WHEN = datetime(2026, 10, 1, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("template", "tag"),
    [
        ("{{imagebuilder:buildVersion}}", "1.2.3-4"),
        ("{{ imagebuilder:buildVersion }}", "1.2.3-4"),
        ("{{imagebuilder:semanticVersion}}", "1.2.3"),
        ("{{imagebuilder:build}}", "4"),
        ("{{imagebuilder:buildDate}}", "2026-10-01T03-04-05Z"),
        ("v{{imagebuilder:semanticVersion}}_b{{  imagebuilder:build}}", "v1.2.3_b4"),
        ("latest", "latest"),
    ],
)
def test_render_tag(template: str, tag: str) -> None:
    assert render_tag(template, VERSION, WHEN) == tag


def test_the_build_date_is_in_utc() -> None:
    berlin_summer = timezone(timedelta(hours=2))
    local = datetime(2026, 10, 1, 5, 4, 5, tzinfo=berlin_summer)
    assert render_tag("{{imagebuilder:buildDate}}", VERSION, local) == "2026-10-01T03-04-05Z"
    naive = datetime(2026, 10, 1, 3, 4, 5)
    assert render_tag("{{imagebuilder:buildDate}}", VERSION, naive) == "2026-10-01T03-04-05Z"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "{{imagebuilder:buildNumber}}",
            "unknown token {{imagebuilder:buildNumber}} in '{{imagebuilder:buildNumber}}' "
            "(known: {{imagebuilder:buildDate}}, {{imagebuilder:buildVersion}}, "
            "{{imagebuilder:semanticVersion}}, {{imagebuilder:build}})",
        ),
        (
            "{{imagebuilder:buildVersion",
            "'{{imagebuilder:buildVersion' gives '{{imagebuilder:buildVersion', not a valid tag "
            "(1-128 characters of A-Z a-z 0-9 _ . -, not starting with . or -)",
        ),
        ("web/1", "'web/1' gives 'web/1', not a valid tag"),
        ("-{{imagebuilder:build}}", "'-{{imagebuilder:build}}' gives '-4', not a valid tag"),
        ("", "'' gives '', not a valid tag"),
        ("x" * 129, f"'{'x' * 129}' gives"),
    ],
)
def test_render_tag_problems(template: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        render_tag(template, VERSION, WHEN)
    assert str(exc.value).startswith(message)


def test_a_tag_may_be_128_characters() -> None:
    assert render_tag("x" * 128, VERSION, WHEN) == "x" * 128
