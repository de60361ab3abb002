"""The NVD feed (API 2.0 JSON and the yearly 2.0 feeds, plain or gzip): one advisory per CVE
with NVD's CVSS base score, streamed; and its use: the severity of findings nothing better
rated."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from patchwarden.adapters.feeds import FEEDS, classify, nvd
from patchwarden.adapters.feeds.jsonstream import iter_object
from patchwarden.core import exploit
from patchwarden.core.vuln import (
    AdvisoryStatus,
    Finding,
    FixAvailable,
    Severity,
)
from patchwarden.errors import AdapterError


def _metric(version: str, vector: str, score: float, kind: str = "Primary") -> dict[str, Any]:
    return {
        "source": "nvd@nist.gov" if kind == "Primary" else "cna@example.org",
        "type": kind,
        "cvssData": {"version": version, "vectorString": vector, "baseScore": score},
    }


V31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"
V40 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
DOCUMENT = {
    "resultsPerPage": 5,
    "startIndex": 0,
    "totalResults": 5,
    "format": "NVD_CVE",
    "version": "2.0",
    "timestamp": "2026-12-01T00:00:00.000",
    "vulnerabilities": [
        {
            "cve": {
                "id": "CVE-2026-3001",
                "published": "2026-11-02T15:15:10.170",
                "lastModified": "2026-11-20T10:00:00.000",
                "vulnStatus": "Analyzed",
                "descriptions": [
                    {"lang": "es", "value": "otro"},
                    {"lang": "en", "value": "A heap overflow in libfoo."},
                ],
                "metrics": {
                    "cvssMetricV40": [_metric("4.0", V40, 9.3)],
                    "cvssMetricV31": [
                        _metric("3.1", V31.replace("C:H", "C:L"), 5.3, "Secondary"),
                        _metric("3.1", V31, 7.5),
                    ],
                },
            }
        },
        {
            "cve": {
                "id": "CVE-2026-3002",
                "vulnStatus": "Received",
                "metrics": {"cvssMetricV40": [_metric("4.0", V40, 9.3, "Secondary")]},
            }
        },
        {"cve": {"id": "CVE-2026-3003", "vulnStatus": "Awaiting Analysis", "metrics": {}}},
        {"cve": {"id": "CVE-2026-3004", "vulnStatus": "Rejected", "metrics": {}}},
        {"cve": {"id": "not-a-cve", "metrics": {}}},
    ],
}


def _write(path: Path, document: object = DOCUMENT, gz: bool = False) -> Path:
    data = json.dumps(document).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_records_become_advisories_with_the_preferred_metric(tmp_path: Path, gz: bool) -> None:
    warnings: list[str] = []
    path = _write(tmp_path / ("nvdcve-2.0-2026.json" + (".gz" if gz else "")), gz=gz)
    found = {a.id: a for a in nvd.parse(path, warnings.append)}
    assert set(found) == {"CVE-2026-3001", "CVE-2026-3002", "CVE-2026-3003"}  # not REJECTED
    first = found["CVE-2026-3001"]
    assert (first.ecosystem, first.package, first.source) == ("NVD", "CVE-2026-3001", "nvd")
    assert (first.cvss_vector, first.cvss_score) == (V31, 7.5)  # v3.1 Primary before the rest
    assert first.summary == "A heap overflow in libfoo." and first.status is AdvisoryStatus.AFFECTED
    assert first.published is not None and first.published.tzinfo is not None
    assert (found["CVE-2026-3002"].cvss_vector, found["CVE-2026-3002"].cvss_score) == (V40, 9.3)
    assert found["CVE-2026-3003"].cvss_score is None
    assert warnings == [f"nvd: {path.name}: 1 record(s) without a usable CVE id skipped"]
    assert classify(path) == "nvd"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"format": "NVD_CVE", "vulnerabilities": [{"cve": {"id": "CVE-2026-1"', "truncated"),
        (b'{"format": "OTHER", "vulnerabilities": []}', "is not NVD_CVE"),
        (b'{"vulnerabilities": []}', 'no "format": "NVD_CVE"'),
        (b'{"format": "NVD_CVE", "vulnerabilities": [{"nope": 1}]}', 'no "cve" object'),
        (b"\x1f\x8b garbage", "not NVD 2.0 JSON"),
    ],
)
def test_corrupt_files_are_one_line_errors(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "nvd.json"
    path.write_bytes(content)
    with pytest.raises(AdapterError) as caught:
        list(nvd.parse(path, lambda _w: None))
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_the_array_is_streamed_one_record_at_a_time(tmp_path: Path) -> None:
    path = _write(tmp_path / "nvd.json")
    with path.open() as text:
        pairs = list(iter_object(text, arrays=("vulnerabilities",)))
    keys = [k for k, _ in pairs]
    assert keys.count("vulnerabilities") == 5 and keys[0] == "resultsPerPage"
    assert FEEDS["nvd"].default is False and FEEDS["nvd"].urls[-1].endswith("modified.json.gz")


def _finding(severity: Severity, source: str, sources: tuple[str, ...]) -> Finding:
    return Finding(
        vulnerability_id="CVE-2026-3001",
        aliases=(),
        package_name="libfoo1",
        package_version="1.0-1",
        package_arch="amd64",
        source_name="libfoo",
        fixed_version="1.0-2",
        fix_available=FixAvailable.YES,
        severity=severity,
        severity_source=source,
        advisory_status=AdvisoryStatus.FIXED,
        sources=sources,
    )


def test_nvd_rates_only_what_nothing_better_rated(tmp_path: Path) -> None:
    records = list(nvd.parse(_write(tmp_path / "nvd.json"), lambda _w: None))
    untriaged = _finding(Severity.UNTRIAGED, "none", ("changelog",))
    hinted = _finding(Severity.LOW, "vendor", ("changelog",))  # a changelog's urgency=low
    vendor = _finding(Severity.MEDIUM, "vendor", ("debian-tracker",))
    other = replace(untriaged, vulnerability_id="CVE-2026-9999")
    rated = exploit.with_nvd([untriaged, hinted, vendor, other], records)
    assert (rated[0].severity, rated[0].severity_source, rated[0].cvss_score) == (
        Severity.HIGH,
        "nvd",
        7.5,
    )
    assert rated[1].severity is Severity.HIGH and rated[1].cvss_vector == V31
    assert rated[2] == vendor and rated[3] == other
