"""CVSS base scores against FIRST's published examples, and (when the LGPL ``cvss`` package
happens to be importable: a test oracle only) a random differential test against it."""

from __future__ import annotations

import itertools
import random

import pytest

from patchwarden.core.cvss import (
    base_score,
    roundup,
    severity_of,
    try_base_score,
    vendor_severity,
    version_of,
)
from patchwarden.core.vuln import Advisory, AdvisoryStatus, Severity
from patchwarden.errors import InputError

FIRST_V3_EXAMPLES = {
    # CVSS v3.1 "Examples" document (first.org/cvss/v3.1/examples)
    "AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N": 6.1,  # CVE-2013-1937 phpMyAdmin XSS
    "AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N": 6.4,  # CVE-2013-0375 MySQL
    "AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N": 3.1,  # CVE-2014-3566 POODLE
    "AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H": 9.9,  # CVE-2012-1516 VMware
    "AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L": 4.2,  # CVE-2009-0783 Tomcat
    "AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H": 8.8,  # CVE-2012-0384 Cisco IOS
    "AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H": 7.8,  # CVE-2015-1098 Apple iWork
    "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N": 7.5,  # CVE-2014-0160 Heartbleed
    "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H": 9.8,  # CVE-2014-6271 Shellshock
    "AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N": 6.8,  # CVE-2008-1447 DNS cache poisoning
    "AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H": 6.8,  # CVE-2014-2005 Sophos
    "AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N": 5.8,  # CVE-2010-0467 Joomla
    "AV:A/AC:L/PR:N/UI:N/S:C/C:N/I:H/A:H": 9.3,  # CVE-2013-6014 Juniper
    "AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H": 10.0,
    "AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N": 5.5,
    "AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N": 0.0,
}

FIRST_V2_EXAMPLES = {
    # CVSS v2 guide §3.3 and NVD
    "AV:N/AC:L/Au:N/C:N/I:N/A:C": 7.8,  # CVE-2002-0392 Apache chunked encoding
    "AV:N/AC:L/Au:N/C:C/I:C/A:C": 10.0,  # CVE-2003-0818 Windows ASN.1
    "AV:L/AC:H/Au:N/C:C/I:C/A:C": 6.2,  # CVE-2003-0062 NOD32
    "AV:N/AC:L/Au:N/C:P/I:P/A:P": 7.5,
    "AV:N/AC:M/Au:N/C:P/I:P/A:P": 6.8,
    "AV:N/AC:L/Au:N/C:N/I:N/A:P": 5.0,
}


@pytest.mark.parametrize(("vector", "score"), FIRST_V3_EXAMPLES.items())
@pytest.mark.parametrize("version", ["3.0", "3.1"])
def test_first_v3_examples(version: str, vector: str, score: float) -> None:
    assert base_score(f"CVSS:{version}/{vector}") == score


@pytest.mark.parametrize(("vector", "score"), FIRST_V2_EXAMPLES.items())
def test_first_v2_examples(vector: str, score: float) -> None:
    assert base_score(vector) == score
    assert base_score(f"({vector})") == score


def test_roundup_is_immune_to_float_noise() -> None:
    assert roundup(4.000000000000001) == 4.0  # v3.0's plain ceiling said 4.1
    assert roundup(4.02) == 4.1
    assert roundup(4.0) == 4.0


def test_temporal_and_environmental_metrics_are_ignored() -> None:
    base = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    assert base_score(base + "/E:U/RL:O/RC:R/CR:L/MAV:P") == 9.8
    assert base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P/E:U/RL:OF/RC:C") == 7.5


@pytest.mark.parametrize(
    "vector",
    [
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",  # A missing
        "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",  # bad value
        "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",  # twice
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/AH",
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N",  # v4.0, SA missing
        "CVSS:5.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",  # unknown version
        "garbage",
        "",
    ],
)
def test_malformed_or_unscored_vectors(vector: str) -> None:
    with pytest.raises(InputError):
        base_score(vector)
    assert try_base_score(vector) is None


def test_versions() -> None:
    assert version_of("CVSS:3.1/AV:N") == "3.1"
    assert version_of("CVSS:4.0/AV:N") == "4.0"
    assert version_of("AV:N/AC:L/Au:N/C:P/I:P/A:P") == "2.0"
    assert version_of("") == ""


def test_vendor_ratings() -> None:
    assert vendor_severity("unimportant") is Severity.INFORMATIONAL
    assert vendor_severity("medium**") is Severity.MEDIUM
    assert vendor_severity("Critical") is Severity.CRITICAL
    assert vendor_severity("end-of-life") is None
    assert vendor_severity("") is None


def test_severity_prefers_v3_then_a_score_then_v2() -> None:
    def a(**kw: object) -> Advisory:
        return Advisory("CVE-1", "osv", "Debian:12", "foo", AdvisoryStatus.AFFECTED, **kw)  # type: ignore[arg-type]

    v2 = a(cvss_vector="AV:N/AC:L/Au:N/C:C/I:C/A:C")
    scored = a(cvss_score=5.0)
    v3 = a(cvss_vector="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N")
    assert severity_of([v2], [scored, v3])[:3] == (Severity.LOW, "cvss", 3.1)
    assert severity_of([v2], [scored])[:3] == (Severity.MEDIUM, "cvss", 5.0)
    assert severity_of([v2], [])[:3] == (Severity.CRITICAL, "cvss", 10.0)


def _oracle() -> object:
    return pytest.importorskip(
        "cvss", reason="the `cvss` package (LGPL, test oracle only) is not installed"
    )


def test_random_vectors_against_the_cvss_package() -> None:
    cvss = _oracle()
    rng = random.Random(20261127)
    v3 = list(itertools.product("NALP", "LH", "NLH", "NR", "UC", "HLN", "HLN", "HLN"))
    v2 = list(itertools.product("LAN", "HML", "MSN", "NPC", "NPC", "NPC"))
    for av, ac, pr, ui, s, c, i, a in rng.sample(v3, 1500):
        version = rng.choice(["3.0", "3.1"])
        temporal = rng.choice(["", "/E:P/RL:T/RC:C", "/E:H"])
        vector = f"CVSS:{version}/AV:{av}/AC:{ac}/PR:{pr}/UI:{ui}/S:{s}/C:{c}/I:{i}/A:{a}{temporal}"
        expected = float(cvss.CVSS3(vector).base_score)  # type: ignore[attr-defined]
        assert base_score(vector) == expected, vector
    for av, ac, au, c, i, a in rng.sample(v2, 400):
        vector = f"AV:{av}/AC:{ac}/Au:{au}/C:{c}/I:{i}/A:{a}"
        expected = float(cvss.CVSS2(vector).base_score)  # type: ignore[attr-defined]
        assert base_score(vector) == expected, vector
