"""The Alpine secdb parser on real excerpts (2020 YAML repository and the v3.15 fixture)."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchwarden.adapters.feeds import alpine_secdb
from patchwarden.core.vuln import Advisory, AdvisoryStatus
from patchwarden.errors import AdapterError

from .data import DATA

S = AdvisoryStatus
SECDB = DATA / "alpine-secdb"


def parse(name: str) -> tuple[list[Advisory], list[str]]:
    warnings: list[str] = []
    return list(alpine_secdb.parse(SECDB / name, warnings.append)), warnings


def by_id(advisories: list[Advisory]) -> dict[tuple[str, str], Advisory]:
    return {(a.package, a.id): a for a in advisories}


def test_v315_yaml_and_json_are_the_same_data() -> None:
    from_yaml, warnings = parse("v3.15-main.yaml")
    from_json, _ = parse("v3.15-main.json")
    assert warnings == [] and from_yaml == from_json
    assert len(from_yaml) == 13
    zlib = by_id(from_yaml)[("zlib", "CVE-2022-37434")]
    assert (zlib.ecosystem, zlib.status, zlib.fixed_version) == (
        "Alpine:v3.15",
        S.FIXED,
        "1.2.12-r2",
    )
    assert zlib.source == "alpine-secdb"
    community, _ = parse("v3.15-community.yaml")
    assert by_id(community)[("alpine", "CVE-2021-38370")].fixed_version == "2.25-r0"


def test_version_zero_is_not_affected() -> None:
    found, _ = parse("v3.8-main-excerpt.yaml")
    db = [a for a in found if a.package == "db"]
    assert len(db) == 5
    assert {(a.status, a.fixed_version) for a in db} == {(S.NOT_AFFECTED, None)}


def test_ids_are_normalised_and_other_ids_kept() -> None:
    found, warnings = parse("v3.5-main-excerpt.yaml")
    ids = by_id(found)
    assert ids[("xen", "CVE-2016-6258")].aliases == ("XSA-182",)
    assert ids[("xen", "XSA-207")].aliases == ()
    assert ids[("xen", "XSA-207")].fixed_version == "4.7.1-r5"
    assert ("wireshark", "wnpa-sec-2017-18") in ids
    assert ("weechat", "CVE-2017-8073") in ids  # "CVE-2017-8073.patch"
    rsync = [a for a in found if a.package == "rsync" and a.id == "CVE-2017-17434"]
    assert len(rsync) == 1  # "CVE-2017-17434-1" and "-2" are the same CVE
    assert not any(a.id.endswith(".patch") or a.id == "CVE-2017-17434-1" for a in found)
    # "1.18.-r2" is not an apk version: dropped, counted in one warning
    assert ("wget", "CVE-2017-6508") not in ids
    assert warnings == [
        "alpine-secdb: v3.5-main-excerpt.yaml: malformed versions dropped: 1 (e.g. wget 1.18.-r2)"
    ]


def test_more_real_quirks() -> None:
    ansible, _ = parse("v3.9-main-excerpt.yaml")
    assert ("ansible", "CVE-2018-16859") in by_id(ansible)  # "CVE 2018-16859"
    openjdk, _ = parse("v3.9-community-excerpt.yaml")
    assert ("openjdk7", "CVE-2019-2426") in by_id(openjdk)  # "CVE_2019-2426"
    python2, warnings = parse("v3.11-main-excerpt.yaml")
    assert {a.fixed_version for a in python2} == {
        "2.7.16-r1",
        "2.7.16-r0",
        "2.7.15-r3",
        "2.7.15-r0",
    }
    assert "python2 2.7.16-33" in warnings[0]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("CVE-2019-5060 TALOS-2019-0844", [("CVE-2019-5060", ("TALOS-2019-0844",))]),
        ("CVE_2019-2426", [("CVE-2019-2426", ())]),
        ("CVE 2018-16859", [("CVE-2018-16859", ())]),
        ("CVE-2017-17434-1", [("CVE-2017-17434", ())]),
        ("XSA-207", [("XSA-207", ())]),
        ("CVE-2020-1 CVE-2020-12345", [("CVE-2020-12345", ())]),
    ],
)
def test_normalise_ids(entry: str, expected: list[tuple[str, tuple[str, ...]]]) -> None:
    assert alpine_secdb.normalise_ids(entry) == expected


def test_branch_ecosystem() -> None:
    assert alpine_secdb.ecosystem("v3.20") == "Alpine:v3.20"
    assert alpine_secdb.ecosystem("3.19") == "Alpine:v3.19"
    assert alpine_secdb.ecosystem("edge") == "Alpine:edge"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("distroversion: v3.20\npackages: [\n", "not valid YAML"),
        ('{"distroversion": "v3.20", "packages": [', "not valid JSON"),
        ("- just\n- a list\n", "not an Alpine secdb"),
        ("distroversion: v3.20\npackages:\n  - pkg: {secfixes: {}}\n", "malformed package"),
        ("distroversion: v3.20\npackages:\n  - pkg: {name: a, secfixes: [1]}\n", "'secfixes'"),
    ],
)
def test_corrupt_input_is_one_line(content: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "main.yaml"
    path.write_text(content)
    with pytest.raises(AdapterError) as info:
        list(alpine_secdb.parse(path, print))
    assert str(info.value).startswith("alpine-secdb: main.yaml: ")
    assert problem in str(info.value) and "\n" not in str(info.value)


def test_empty_repository_is_no_advisory(tmp_path: Path) -> None:
    path = tmp_path / "community.yaml"
    path.write_text("---\ndistroversion: v3.3\nreponame: community\npackages:\n")
    assert list(alpine_secdb.parse(path, print)) == []
