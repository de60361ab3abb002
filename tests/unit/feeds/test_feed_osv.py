"""The OSV parser on real records (Debian, Ubuntu incl. Pro/ESM, AlmaLinux) and dumps."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from patchwarden.adapters.feeds import osv
from patchwarden.core.vuln import Advisory, AdvisoryStatus
from patchwarden.errors import AdapterError

from .data import DATA

S = AdvisoryStatus
RECORDS = sorted(p.stem for p in (DATA / "osv").glob("*.json"))


def parse(path: Path, feed: str = "osv-test") -> list[Advisory]:
    return list(osv.parse(path, print, feed))


def record(name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((DATA / "osv" / f"{name}.json").read_text())
    return loaded


def test_debian_dsa() -> None:
    (adv,) = parse(DATA / "osv" / "DSA-3029-1.json")
    assert (adv.id, adv.source, adv.ecosystem, adv.package) == (
        "DSA-3029-1",
        "osv",
        "Debian:7",
        "nginx",
    )
    assert (adv.status, adv.fixed_version) == (S.FIXED, "1.2.1-2.2+wheezy3")
    assert adv.events == (("introduced", "0"), ("fixed", "1.2.1-2.2+wheezy3"))
    assert adv.aliases == ("CVE-2014-3616",)
    assert adv.summary == "nginx - security update"
    assert adv.published is not None and adv.published.year == 2014


def test_record_without_affected_gives_nothing() -> None:
    assert parse(DATA / "osv" / "DLA-3623-1.json") == []


def test_ubuntu_cve_record_one_advisory_per_affected_entry() -> None:
    found = {a.ecosystem: a for a in parse(DATA / "osv" / "UBUNTU-CVE-2021-3782.json")}
    assert "Ubuntu:Pro:16.04:LTS" in found and "Ubuntu:22.04:LTS" in found
    jammy = found["Ubuntu:22.04:LTS"]
    assert (jammy.package, jammy.status, jammy.fixed_version) == (
        "wayland",
        S.FIXED,
        "1.20.0-1ubuntu0.1",
    )
    assert jammy.aliases == ("CVE-2021-3782",)  # from `upstream`
    assert jammy.cvss_vector == "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:H"
    assert jammy.cvss_score is None  # scores are computed by the matcher side
    assert jammy.vendor_severity == "medium"  # severity type "Ubuntu"


def test_ubuntu_unfixed_record_is_affected_with_its_events() -> None:
    (adv,) = parse(DATA / "osv" / "UBUNTU-CVE-2026-1403.json")
    assert (adv.ecosystem, adv.package, adv.status) == ("Ubuntu:16.04:LTS", "gitlab", S.AFFECTED)
    assert adv.fixed_version is None
    assert adv.events == (("introduced", "0"),)
    assert (adv.vendor_severity, adv.cvss_vector) == ("medium", "")


def test_usn_takes_priority_and_vector_from_its_cves_map() -> None:
    found = parse(DATA / "osv" / "USN-5614-1.json")
    assert {a.ecosystem for a in found} == {
        "Ubuntu:18.04:LTS",
        "Ubuntu:20.04:LTS",
        "Ubuntu:22.04:LTS",
    }
    for adv in found:
        assert adv.aliases == ("UBUNTU-CVE-2021-3782",)
        assert adv.vendor_severity == "medium"
        assert adv.cvss_vector.startswith("CVSS:3.1/")


def test_alma_advisory_vendor_severity_from_the_summary() -> None:
    found = parse(DATA / "osv" / "ALSA-2024_2433.json")
    assert len(found) == 10
    assert {a.ecosystem for a in found} == {"AlmaLinux:9"}
    assert {a.vendor_severity for a in found} == {"Moderate"}
    assert {a.fixed_version for a in found} == {"0.8-20.el9"}
    assert found[0].aliases == ()  # `related` CVEs are not aliases (OSV schema)


def test_last_affected_withdrawn_cvss4_and_non_ecosystem_ranges(tmp_path: Path) -> None:
    rec = record("DSA-3029-1")
    rec["severity"] = [
        {
            "type": "CVSS_V4",
            "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        }
    ]
    rec["affected"] = [
        {"package": {"ecosystem": "Debian:12", "name": "nginx"},
         "ranges": [{"type": "ECOSYSTEM",
                     "events": [{"introduced": "0"}, {"last_affected": "1.22.1-9"}]},
                    {"type": "GIT", "repo": "x", "events": [{"introduced": "abc"}]}]},
        {"package": {"ecosystem": "Debian:12", "name": "nginx"}, "versions": ["1.0"]},
        {"ranges": []},
    ]  # fmt: skip
    path = tmp_path / "crafted.json"
    path.write_text(json.dumps(rec))
    warnings: list[str] = []
    (adv,) = osv.parse(path, warnings.append, "osv-debian")
    assert (adv.status, adv.fixed_version) == (S.AFFECTED, None)
    assert adv.events == (("introduced", "0"), ("last_affected", "1.22.1-9"))
    assert adv.cvss_vector.startswith("CVSS:4.0/")
    assert len(warnings) == 2 and all(w.startswith("osv-debian: crafted.json: ") for w in warnings)
    rec["withdrawn"] = "2024-01-01T00:00:00Z"
    path.write_text(json.dumps(rec))
    assert parse(path) == []


def test_dump_zip_is_read_member_by_member(tmp_path: Path) -> None:
    dump = tmp_path / "all.zip"
    with zipfile.ZipFile(dump, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in RECORDS:
            archive.write(DATA / "osv" / f"{name}.json", f"{name}.json")
        archive.writestr("README.txt", "not a record")
    expected = [a for name in RECORDS for a in parse(DATA / "osv" / f"{name}.json")]
    assert parse(dump) == expected


def _zip(tmp_path: Path, **members: bytes) -> Path:
    dump = tmp_path / "all.zip"
    with zipfile.ZipFile(dump, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return dump


def test_truncated_zip_is_rejected(tmp_path: Path) -> None:
    good = (DATA / "osv" / "DSA-3029-1.json").read_bytes()
    dump = _zip(tmp_path, **{"DSA-3029-1.json": good, "B.json": good * 20})
    data = dump.read_bytes()
    dump.write_bytes(data[: len(data) // 2])
    with pytest.raises(AdapterError, match=r"^osv-debian: all\.zip: "):
        list(osv.parse(dump, print, "osv-debian"))


def test_corrupt_member_is_named(tmp_path: Path) -> None:
    dump = _zip(tmp_path, **{"A.json": b'{"id": "A", "affected": []}', "B.json": b'{"id": '})
    with pytest.raises(
        AdapterError, match=r"^osv-ubuntu: all\.zip: member B\.json: not valid JSON"
    ):
        list(osv.parse(dump, print, "osv-ubuntu"))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"[]", "not an OSV record"),
        (b'{"id": "X", "affected": {}}', "'affected' is not a list"),
        (b'{"id": "X", "affected": [{"package": {"ecosystem": "Debian:12", "name": "a"},'
         b' "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "1"}]}]}]}',
         "malformed range event"),
        (b"not json", "not an OSV JSON record"),
    ],
)  # fmt: skip
def test_wrong_shape_is_one_line(content: bytes, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "X.json"
    path.write_bytes(content)
    with pytest.raises(AdapterError) as info:
        list(osv.parse(path, print, "osv-debian"))
    assert str(info.value).startswith("osv-debian: X.json: ")
    assert problem in str(info.value) and "\n" not in str(info.value)


def test_each_range_is_its_own_advisory(tmp_path: Path) -> None:
    """Two ECOSYSTEM ranges (a regression re-introduced in 2.0) are evaluated apart."""
    record = {
        "id": "OSV-TWO-RANGES",
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": "pkg"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2-1"}]},
                    {"type": "ECOSYSTEM", "events": [{"introduced": "2.0-1"}, {"fixed": "2.3-1"}]},
                ],
            }
        ],
    }
    path = tmp_path / "OSV-TWO-RANGES.json"
    path.write_text(json.dumps(record))
    found = parse(path)
    assert [a.events for a in found] == [
        (("introduced", "0"), ("fixed", "1.2-1")),
        (("introduced", "2.0-1"), ("fixed", "2.3-1")),
    ]
    assert [a.fixed_version for a in found] == ["1.2-1", "2.3-1"]
