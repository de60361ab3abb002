"""The Red Hat CSAF VEX parser on real documents, their archives and broken input."""

from __future__ import annotations

import copy
import io
import json
import tarfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import zstandard

from patchwarden.adapters.feeds import FEEDS, classify, redhat_csaf
from patchwarden.core.vuln import Advisory, AdvisoryStatus
from patchwarden.errors import AdapterError

from .data import DATA

S = AdvisoryStatus
VEX = DATA / "redhat-csaf"
DOCS = sorted(VEX.glob("*.json"))
ZENBLEED = VEX / "cve-2023-20593.json"
SQLITE = VEX / "cve-2025-29087.json"
WIRESHARK = VEX / "cve-2024-0208.json"


def parse(path: Path, warnings: list[str] | None = None) -> list[Advisory]:
    return list(redhat_csaf.parse(path, (warnings if warnings is not None else []).append))


def by_key(advs: list[Advisory]) -> dict[tuple[str, str, str], list[Advisory]]:
    found: dict[tuple[str, str, str], list[Advisory]] = {}
    for adv in advs:
        found.setdefault((adv.id, adv.ecosystem, adv.package), []).append(adv)
    return found


def document(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def write(path: Path, record: object) -> Path:
    path.write_text(json.dumps(record))
    return path


def tar_bytes(members: Mapping[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def archive(dest: Path, members: Mapping[str, bytes]) -> Path:
    """A tar archive at ``dest``, compressed after its suffix (``.zst``: zstd)."""
    if dest.name.endswith(".tar.zst"):
        dest.write_bytes(zstandard.ZstdCompressor().compress(tar_bytes(members)))
        return dest
    mode = {".gz": "w:gz", ".xz": "w:xz", ".tar": "w"}[dest.suffix]
    with tarfile.open(dest, mode) as out:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return dest


def fixtures() -> dict[str, bytes]:
    return {f"{p.stem[4:8]}/{p.name}": p.read_bytes() for p in DOCS}


# -- real documents ---------------------------------------------------------------------------


def test_fixed_in_the_main_stream_with_the_rhsa_severity_and_cvss() -> None:
    found = by_key(parse(ZENBLEED))
    (kernel,) = found["CVE-2023-20593", "Red Hat:9", "kernel"]
    assert (kernel.source, kernel.status, kernel.fixed_version) == (
        "redhat-csaf",
        S.FIXED,
        "5.14.0-284.30.1.el9_2",  # BaseOS-9.2.0.Z.MAIN.EUS, CPE enterprise_linux:9::baseos
    )
    # every main-stream RHEL erratum of the CVE (RHEL 7 and 9 kernel and firmware fixes)
    assert kernel.aliases == (
        "RHSA-2023:4819",
        "RHSA-2023:5068",
        "RHSA-2023:5069",
        "RHSA-2023:7513",
    )
    assert kernel.vendor_severity == "Moderate"
    assert kernel.cvss_vector == "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:C/C:H/I:N/A:N"
    assert kernel.cvss_score == 6.5
    assert kernel.summary == "hw: amd: Cross-Process Information Leak"
    assert kernel.published is not None and kernel.published.isoformat() == (
        "2023-07-25T06:30:00+00:00"
    )
    assert kernel.modified is not None and kernel.modified.year == 2025
    (rhel7,) = found["CVE-2023-20593", "Red Hat:7", "kernel"]
    assert (rhel7.fixed_version, rhel7.aliases) == ("3.10.0-1160.99.1.el7", kernel.aliases)


def test_extended_support_streams_are_left_out() -> None:
    advs = parse(ZENBLEED)
    versions = {a.fixed_version for a in advs}
    # BaseOS-9.0.0.Z.EUS (rhel_eus:9.0) and 7Server-7.4.AUS (rhel_aus:7.4) fixes
    assert "5.14.0-70.80.1.el9_0" not in versions
    assert "3.10.0-693.112.1.el7" not in versions
    assert not {"RHSA-2023:7382", "RHSA-2023:4699", "RHSA-2023:5607"} & {
        alias for a in advs for alias in a.aliases
    }
    assert {a.ecosystem for a in advs} == {"Red Hat:6", "Red Hat:7", "Red Hat:9"}


def test_epoch_is_kept_and_a_zero_epoch_dropped() -> None:
    found = by_key(parse(ZENBLEED))
    (firmware,) = found["CVE-2023-20593", "Red Hat:9", "iwl1000-firmware"]
    assert (firmware.status, firmware.fixed_version) == (S.FIXED, "1:39.31.5.1-135.el9_2")
    (linux_firmware,) = found["CVE-2023-20593", "Red Hat:9", "linux-firmware"]
    assert linux_firmware.fixed_version == "20230310-135.el9_2"


def test_not_affected_major_level_and_versioned() -> None:
    found = by_key(parse(ZENBLEED))
    for package in ("kernel", "kernel-headers", "microcode_ctl"):
        (adv,) = found["CVE-2023-20593", "Red Hat:6", package]
        assert (adv.status, adv.fixed_version) == (S.NOT_AFFECTED, None)
    (headers,) = found["CVE-2023-20593", "Red Hat:9", "kernel-headers"]
    assert headers.status is S.NOT_AFFECTED
    wireshark = {a.ecosystem: a for a in parse(WIRESHARK)}
    assert set(wireshark) == {"Red Hat:6", "Red Hat:7", "Red Hat:8", "Red Hat:9"}
    assert {a.status for a in wireshark.values()} == {S.NOT_AFFECTED}
    assert wireshark["Red Hat:8"].vendor_severity == "moderate"  # aggregate_severity
    assert wireshark["Red Hat:8"].cvss_vector == "" and wireshark["Red Hat:8"].cvss_score is None
    assert wireshark["Red Hat:8"].aliases == ()  # no fix, no erratum


def test_affected_deferred_wont_fix_and_modules() -> None:
    found = by_key(parse(SQLITE))
    (rhel10,) = found["CVE-2025-29087", "Red Hat:10", "sqlite"]  # none_available: Fix deferred
    assert (rhel10.status, rhel10.fixed_version) == (S.AFFECTED, None)
    assert rhel10.vendor_severity == "Moderate" and rhel10.cvss_score == 5.5
    (rhel7,) = found["CVE-2025-29087", "Red Hat:7", "sqlite"]  # no_fix_planned
    assert rhel7.status is S.WONT_FIX
    (rhel9,) = found["CVE-2025-29087", "Red Hat:9", "sqlite"]
    assert rhel9.status is S.NOT_AFFECTED
    (nodejs,) = found["CVE-2025-29087", "Red Hat:9", "nodejs"]  # nodejs-nodejs:22 (module)
    assert nodejs.status is S.AFFECTED
    (cargo,) = found["CVE-2025-29087", "Red Hat:9", "cargo"]
    assert cargo.status is S.AFFECTED  # deferred, not "will not fix"
    assert not any(a.package in ("rhcos", "sqlite.src") for a in parse(SQLITE))
    assert all(len(v) == 1 for v in found.values())


def test_a_main_stream_fix_bounds_the_major_level_affected(tmp_path: Path) -> None:
    record = document(ZENBLEED)
    vendor = record["product_tree"]["branches"][0]["branches"]
    vendor.append(
        {
            "category": "product_name",
            "name": "Red Hat Enterprise Linux 9",
            "product": {
                "name": "Red Hat Enterprise Linux 9",
                "product_id": "red_hat_enterprise_linux_9",
                "product_identification_helper": {"cpe": "cpe:/o:redhat:enterprise_linux:9"},
            },
        }
    )
    record["product_tree"]["relationships"].append(
        {
            "category": "default_component_of",
            "full_product_name": {"product_id": "red_hat_enterprise_linux_9:kernel"},
            "product_reference": "kernel",
            "relates_to_product_reference": "red_hat_enterprise_linux_9",
        }
    )
    vendor.append(
        {
            "category": "product_version",
            "name": "kernel",
            "product": {
                "product_id": "kernel",
                "product_identification_helper": {"purl": "pkg:rpm/redhat/kernel?arch=src"},
            },
        }
    )
    status = record["vulnerabilities"][0]["product_status"]
    status["known_affected"] = ["red_hat_enterprise_linux_9:kernel"]
    found = by_key(parse(write(tmp_path / "doc.json", record)))
    assert [a.status for a in found["CVE-2023-20593", "Red Hat:9", "kernel"]] == [S.FIXED]
    status["fixed"] = [i for i in status["fixed"] if ":kernel-0:" not in i]
    found = by_key(parse(write(tmp_path / "doc.json", record)))
    assert [a.status for a in found["CVE-2023-20593", "Red Hat:9", "kernel"]] == [S.AFFECTED]


def test_severity_and_cvss_per_product(tmp_path: Path) -> None:
    record = document(ZENBLEED)
    vuln = record["vulnerabilities"][0]
    firmware = "BaseOS-9.2.0.Z.MAIN.EUS:iwl1000-firmware-1:39.31.5.1-135.el9_2.noarch"
    for threat in vuln["threats"]:
        threat["product_ids"].remove(firmware)
    vuln["threats"].append({"category": "impact", "details": "Low", "product_ids": [firmware]})
    vuln["scores"].insert(
        0,
        {
            "cvss_v3": {"vectorString": "CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N",
                        "baseScore": 1.6, "version": "3.1"},
            "products": [firmware],
        },
    )  # fmt: skip
    found = by_key(parse(write(tmp_path / "doc.json", record)))
    (adv,) = found["CVE-2023-20593", "Red Hat:9", "iwl1000-firmware"]
    assert (adv.vendor_severity, adv.cvss_score) == ("Low", 1.6)
    (kernel,) = found["CVE-2023-20593", "Red Hat:9", "kernel"]
    assert (kernel.vendor_severity, kernel.cvss_score) == ("Moderate", 6.5)


# -- archives and directories -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["csaf_vex.tar", "csaf_vex.tar.gz", "csaf_vex.tar.xz",
                                  "csaf_vex_2026-11-27.tar.zst"])  # fmt: skip
def test_archives_are_read_member_by_member(tmp_path: Path, name: str) -> None:
    members = {"index.txt": b"2023/cve-2023-20593.json\n", **fixtures()}
    warnings: list[str] = []
    advs = parse(archive(tmp_path / name, members), warnings)
    expected = [a for doc in DOCS for a in parse(doc)]
    assert sorted(map(repr, advs)) == sorted(map(repr, expected))
    assert warnings == []


def test_a_multi_frame_zstd_archive(tmp_path: Path) -> None:
    data = tar_bytes(fixtures())
    half = len(data) // 2
    compress = zstandard.ZstdCompressor().compress
    path = tmp_path / "frames.tar.zst"
    path.write_bytes(compress(data[:half]) + compress(data[half:]))
    assert len(parse(path)) == sum(len(parse(doc)) for doc in DOCS)


def test_a_directory_of_documents(tmp_path: Path) -> None:
    for name, data in fixtures().items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    (tmp_path / "2025" / "broken.json").write_text("{")
    warnings: list[str] = []
    assert len(parse(tmp_path, warnings)) == sum(len(parse(doc)) for doc in DOCS)
    assert len(warnings) == 1 and "malformed documents skipped: 1" in warnings[0]


def test_a_bad_member_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    members = {
        **fixtures(),
        "2024/cve-2024-0001.json": b'{"document": {"category": "csaf_vex"',
        "2024/cve-2024-0002.json": json.dumps({"document": {"category": "csaf_base"}}).encode(),
    }
    warnings: list[str] = []
    advs = parse(archive(tmp_path / "csaf_vex.tar.zst", members), warnings)
    assert len(advs) == sum(len(parse(doc)) for doc in DOCS)
    (warning,) = warnings
    assert warning.startswith("redhat-csaf: csaf_vex.tar.zst: malformed documents skipped: 2")
    assert "cve-2024-0001.json" in warning and "\n" not in warning


# -- broken input -----------------------------------------------------------------------------


def fails(path: Path, match: str) -> str:
    with pytest.raises(AdapterError, match=match) as info:
        parse(path)
    message = str(info.value)
    assert message.startswith(f"redhat-csaf: {path.name}: ") and "\n" not in message
    return message


def test_not_json_and_json_but_not_csaf(tmp_path: Path) -> None:
    (tmp_path / "page.json").write_text("<html>maintenance</html>")
    fails(tmp_path / "page.json", "not a CSAF VEX JSON document")
    fails(DATA / "osv" / "DSA-3029-1.json", "not a CSAF VEX document: not an object with")
    advisory = {"document": {"category": "csaf_security_advisory"}, "product_tree": {}}
    fails(write(tmp_path / "rhsa.json", advisory), "category 'csaf_security_advisory'")
    no_vulns = {"document": {"category": "csaf_vex"}, "product_tree": {}}
    fails(write(tmp_path / "empty.json", no_vulns), "'vulnerabilities' list")


@pytest.mark.parametrize(
    ("name", "cut"),
    [("csaf_vex.tar.zst", lambda n: n // 2), ("csaf_vex.tar.zst", lambda n: n - 4),
     ("csaf_vex.tar.gz", lambda n: n // 2), ("csaf_vex.tar", lambda n: n // 3),
     ("csaf_vex.tar.xz", lambda n: n - 30)],
    ids=["zst-half", "zst-end", "gz", "tar", "xz"],
)  # fmt: skip
def test_truncated_archives_are_one_line_errors(
    tmp_path: Path, name: str, cut: Callable[[int], int]
) -> None:
    path = archive(tmp_path / name, fixtures())
    data = path.read_bytes()
    path.write_bytes(data[: cut(len(data))])
    fails(path, "corrupt or truncated archive")


def test_an_archive_without_documents_is_an_error(tmp_path: Path) -> None:
    path = archive(tmp_path / "csaf_vex.tar.zst", {"index.txt": b"nothing\n"})
    fails(path, "no CSAF VEX document in the archive")
    path = archive(tmp_path / "other.tar.zst", {"a.json": b"[]", "b.json": b"{}"})
    fails(path, "no CSAF VEX document in the archive")


def test_odd_shapes_inside_a_document_are_skipped(tmp_path: Path) -> None:
    record = copy.deepcopy(document(ZENBLEED))
    record["product_tree"]["relationships"].append({"category": "default_component_of"})
    record["product_tree"]["branches"].append("junk")
    record["vulnerabilities"][0]["product_status"]["fixed"].append(42)
    assert len(parse(write(tmp_path / "odd.json", record))) == len(parse(ZENBLEED))


# -- the download step and the registry --------------------------------------------------------


def test_locate_reads_archive_latest() -> None:
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        return b"csaf_vex_2026-11-27.tar.zst\n"

    url = redhat_csaf.ARCHIVE_LATEST
    assert url == "https://security.access.redhat.com/data/csaf/v2/vex/archive_latest.txt"
    located = FEEDS["redhat-csaf"].locate(url, fetch)
    assert (
        located == "https://security.access.redhat.com/data/csaf/v2/vex/csaf_vex_2026-11-27.tar.zst"
    )
    assert asked == [url]
    direct = "https://mirror.example/vex/csaf_vex_2026-11-01.tar.zst"
    assert redhat_csaf.locate(direct, fetch) == direct and asked == [url]
    doc = "https://security.access.redhat.com/data/csaf/v2/vex/2023/cve-2023-20593.json"
    assert redhat_csaf.locate(doc, fetch) == doc


@pytest.mark.parametrize(
    "body", [b"", b"<html>moved</html>", b"https://evil.example/x.tar.zst", b"../../x.tar.zst"]
)
def test_locate_rejects_what_is_not_an_archive_name(body: bytes) -> None:
    with pytest.raises(AdapterError, match=r"expected the name of a \.tar\.zst archive"):
        redhat_csaf.locate("https://h.example/vex/archive_latest.txt", lambda _: body)


def test_registered_opt_in_and_classified(tmp_path: Path) -> None:
    spec = FEEDS["redhat-csaf"]
    assert spec.urls == (redhat_csaf.ARCHIVE_LATEST,) and not spec.default
    for doc in DOCS:
        assert classify(doc) == "redhat-csaf"
    assert classify(archive(tmp_path / "csaf_vex.tar.zst", fixtures())) == "redhat-csaf"
    assert classify(archive(tmp_path / "csaf_vex.tar.gz", fixtures())) == "redhat-csaf"
    assert classify(archive(tmp_path / "other.tar.zst", {"a.txt": b"x"})) is None
    assert classify(DATA / "debian-tracker" / "tracker-vunnel.json") == "debian-tracker"
    assert classify(DATA / "osv" / "DSA-3029-1.json") == "osv-debian"
