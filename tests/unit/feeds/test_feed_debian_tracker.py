"""The Debian security tracker JSON parser on real excerpts (and a few crafted quirks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from patchwarden.adapters.feeds import debian_tracker
from patchwarden.core.vuln import Advisory, AdvisoryStatus
from patchwarden.errors import AdapterError

from .data import DATA

S = AdvisoryStatus


def parse(path: Path) -> tuple[dict[tuple[str, str, str], Advisory], list[str]]:
    warnings: list[str] = []
    found = {(a.package, a.id, a.ecosystem): a for a in debian_tracker.parse(path, warnings.append)}
    return found, warnings


def test_real_excerpt_statuses_and_releases() -> None:
    found, warnings = parse(DATA / "debian-tracker" / "tracker-vunnel.json")
    assert warnings == []
    assert len(found) == 25  # chromium-browser has `releases: []`: nothing
    assert not any(pkg == "chromium-browser" for pkg, _, _ in found)
    fixed = found[("prototypejs", "CVE-2008-7220", "Debian:9")]
    assert (fixed.status, fixed.fixed_version) == (S.FIXED, "1.6.0.2-1")
    assert fixed.vendor_severity == "high"  # "high**" without the mark
    assert fixed.source == "debian-tracker"
    assert fixed.summary.startswith("Unspecified vulnerability in Prototype")
    never = found[("prototypejs", "CVE-2007-2383", "Debian:sid")]
    assert (never.status, never.fixed_version) == (S.NOT_AFFECTED, None)
    eol = found[("chromium", "CVE-2022-0456", "Debian:10")]  # open + end-of-life
    assert (eol.status, eol.vendor_severity) == (S.WONT_FIX, "end-of-life")
    assert found[("chromium", "CVE-2022-0456", "Debian:11")].fixed_version == (
        "98.0.4758.80-1~deb11u1"
    )
    assert found[("sope", "CVE-2025-53603", "Debian:13")].status is S.FIXED  # trixie
    assert {eco for _, _, eco in found} == {
        f"Debian:{r}" for r in ("8", "9", "10", "11", "12", "13", "sid")
    }


def test_second_real_excerpt_open_and_not_affected() -> None:
    found, _ = parse(DATA / "debian-tracker" / "tracker-osvdev.json")
    assert found[("apparmor", "CVE-2016-1585", "Debian:12")].status is S.AFFECTED
    assert found[("apparmor", "CVE-2016-1585", "Debian:13")].fixed_version == "3.0.12-1"
    assert found[("apparmor", "CVE-2014-1424", "Debian:12")].status is S.NOT_AFFECTED


# Crafted in the documented format: the excerpts above have no nodsa/undetermined entries.
QUIRKS = {
    "openssl": {
        "CVE-2099-0001": {
            "description": "crafted",
            "releases": {
                "bookworm": {"status": "undetermined", "urgency": "not yet assigned"},
                "bullseye": {"status": "open", "urgency": "low", "nodsa": "Minor issue",
                             "nodsa_reason": "ignored"},
                "buster": {"status": "open", "urgency": "low", "nodsa": "x",
                           "nodsa_reason": "postponed"},
                "trixie": {"status": "open", "urgency": "medium**", "nodsa": "Minor issue"},
                "sid": {"status": "resolved", "urgency": "low"},
                "hamm2": {"status": "open", "urgency": "low"},
                "forky": {"status": "undetermined", "urgency": "end-of-life"},
            },
        },
        "TEMP-0000000-ABCDEF": {"releases": {"bookworm": {"status": "open", "urgency": "low"}}},
    }
}  # fmt: skip


def test_nodsa_undetermined_and_odd_entries(tmp_path: Path) -> None:
    path = tmp_path / "json"
    path.write_text(json.dumps(QUIRKS))
    found, warnings = parse(path)
    status = {eco: a.status for (_, vid, eco), a in found.items() if vid == "CVE-2099-0001"}
    assert status == {
        "Debian:12": S.UNDETERMINED,
        "Debian:11": S.WONT_FIX,  # ignored
        "Debian:10": S.WONT_FIX,  # postponed
        "Debian:13": S.AFFECTED,  # no-dsa without a reason: fixed in a point release
        "Debian:sid": S.UNDETERMINED,  # resolved without a fixed version: counted
        "Debian:14": S.WONT_FIX,  # end-of-life
    }
    assert found[("openssl", "CVE-2099-0001", "Debian:13")].vendor_severity == "medium"
    assert ("openssl", "TEMP-0000000-ABCDEF", "Debian:12") in found
    assert len(warnings) == 2
    assert any("unknown release codenames skipped: 1 (e.g. hamm2)" in w for w in warnings)
    assert any("no fixed version" in w and "openssl/CVE-2099-0001/sid" in w for w in warnings)


def test_codename_mapping_is_data() -> None:
    assert debian_tracker.ecosystem("bookworm") == "Debian:12"
    assert debian_tracker.ecosystem("sid") == "Debian:sid"
    assert debian_tracker.ecosystem("nosuch") is None
    assert debian_tracker.DEBIAN_RELEASES["bullseye"] == "11"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"openssl": {"CVE-1": {"releases": {"bookworm": {"status": "open"}}}', "truncated"),
        (b"[]", "not a security tracker JSON object"),
        (b'{"openssl": [1, 2]}', "package 'openssl': expected an object"),
        (b'{"openssl": {"CVE-1": {"releases": "x"}}}', "'releases' is not an object"),
        (b'{"openssl": {"CVE-1": {"releases": {"sid": 3}}}}', "openssl/CVE-1/sid"),
        (b'{"openssl": \xff}', "not UTF-8"),
    ],
)
def test_corrupt_input_is_one_line_naming_the_feed(
    content: bytes, problem: str, tmp_path: Path
) -> None:
    path = tmp_path / "json"
    path.write_bytes(content)
    with pytest.raises(AdapterError) as info:
        list(debian_tracker.parse(path, print))
    message = str(info.value)
    assert message.startswith("debian-tracker: json: ")
    assert problem in message
    assert "\n" not in message
