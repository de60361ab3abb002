"""CVSS v4.0 scores of our own calculator (``core/cvss4.py``) against the reference vectors of
``tests/data/cvss4`` (see its SOURCES.md), malformed vectors, the base-only score that
``cvss.base_score`` gives, the preference order of ``severity_of`` and the NVD fallback."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patchwarden.adapters.feeds import nvd
from patchwarden.core import cvss4
from patchwarden.core.cvss import base_score, severity_of, try_base_score
from patchwarden.core.vuln import Advisory, AdvisoryStatus, Severity
from patchwarden.errors import InputError

DATA = Path(__file__).resolve().parents[1] / "data" / "cvss4"
PUBLISHED = ("vectors_simple4", "vectors_threat4", "vectors_security4", "vectors_supplemental4")
"""The test tables of RedHatProductSecurity/cvss (generated with the reference calculator)."""
GENERATED = ("reference_js_random.txt",)
"""Random vectors of every metric group scored by the reference calculator's cvss40.js."""

BASE = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"


def _table(name: str) -> list[tuple[str, float]]:
    """``VECTOR - SCORE`` lines; the score may be written as a tuple ``(9.2,)``."""
    rows = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line.strip():
            vector, score = line.strip().split(" - ")
            rows.append((vector, float(score.strip("()").rstrip(","))))
    return rows


@pytest.mark.parametrize("name", PUBLISHED + GENERATED)
def test_reference_vectors(name: str) -> None:
    rows = _table(name)
    assert rows
    wrong = [(v, want, cvss4.score(v)) for v, want in rows if cvss4.score(v) != want]
    assert not wrong, f"{len(wrong)} of {len(rows)} differ, e.g. {wrong[:5]}"


def test_reference_tables_are_large_and_cover_every_metric_group() -> None:
    published = [v for name in PUBLISHED for v, _ in _table(name)]
    generated = [v for name in GENERATED for v, _ in _table(name)]
    assert len(published) >= 1600
    assert len(generated) >= 1000
    everything = published + generated
    assert sum("/E:" not in v and "/CR:" not in v and "/M" not in v for v in everything) >= 1000
    assert sum("/E:U" in v for v in everything) >= 100
    assert sum("/CR:" in v for v in everything) >= 100
    assert sum("/MAV:" in v for v in everything) >= 100
    assert sum("/MSI:S" in v or "/MSA:S" in v for v in everything) >= 50
    assert sum("/U:" in v for v in everything) >= 100


def test_base_only_vectors_score_the_same_through_cvss_base_score() -> None:
    for vector, want in _table("vectors_simple4"):
        assert base_score(vector) == want, vector
        assert try_base_score(vector) == want, vector
        assert base_score(f"({vector})") == want


@pytest.mark.parametrize(
    ("vector", "macro"),
    [
        (BASE, "000200"),
        (BASE + "/E:U", "000220"),
        (BASE + "/CR:L/IR:L/AR:L", "000201"),
        (BASE + "/MSI:S", "000000"),
        ("CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:L/VA:L/SC:L/SI:L/SA:L", "212201"),
    ],
)
def test_macrovectors(vector: str, macro: str) -> None:
    assert cvss4.macrovector(cvss4.parse(vector)) == macro


def test_scores_of_the_vector_as_written_and_of_its_base() -> None:
    assert cvss4.score(BASE) == 9.3
    assert cvss4.score(BASE + "/E:U") == 8.1  # CVSS-BT
    assert cvss4.base_score(BASE + "/E:U") == 9.3  # CVSS-B
    assert try_base_score(BASE + "/E:U") == 9.3 != cvss4.score(BASE + "/E:U")
    assert base_score(BASE + "/E:U/CR:L/MAV:P/S:P/U:Red") == 9.3
    assert cvss4.score(BASE + "/E:X/CR:X/IR:X/AR:X/MAV:X/S:X/U:X") == 9.3  # X = not defined
    assert cvss4.score(BASE + "/S:P/AU:Y/R:I/V:C/RE:H/U:Red") == 9.3  # supplemental: no effect
    assert cvss4.score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N") == 0.0
    shuffled = "CVSS:4.0/SA:N/SI:N/SC:N/VA:H/VI:H/VC:H/UI:N/PR:N/AT:N/AC:L/AV:N"
    assert cvss4.score(shuffled) == 9.3  # the order of the metrics is not enforced


MALFORMED = [
    ("", "does not start with CVSS:4.0/"),
    ("CVSS:4.0", "is not METRIC:VALUE"),
    ("CVSS:4.0/", "is not METRIC:VALUE"),
    ("CVSS:3.1/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "CVSS:4.0/"),
    ("AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "CVSS:4.0/"),
    (BASE.replace("/SA:N", ""), "missing base metric SA"),
    (BASE.replace("AV:N/", ""), "missing base metric AV"),
    (BASE + "/AV:N", "metric AV given twice"),
    (BASE + "/E:U/E:A", "metric E given twice"),
    (BASE.replace("AV:N", "AV:X"), "AV:X is not a valid value"),
    (BASE.replace("VC:H", "VC:S"), "VC:S is not a valid value"),
    (BASE.replace("SI:N", "SI:S"), "SI:S is not a valid value"),  # S only as MSI
    (BASE + "/MSC:S", "MSC:S is not a valid value"),
    (BASE + "/E:H", "E:H is not a valid value"),
    (BASE + "/U:red", "U:red is not a valid value"),  # values are case-sensitive
    (BASE + "/XYZ:1", "unknown metric 'XYZ'"),
    (BASE + "/RL:O", "unknown metric 'RL'"),  # a v3 temporal metric
    (BASE + "/", "is not METRIC:VALUE"),
    (BASE + "//E:U", "is not METRIC:VALUE"),
    (BASE + "/E", "is not METRIC:VALUE"),
    (BASE + "/:U", "is not METRIC:VALUE"),
    (BASE.replace("/", "\n", 3), "does not start with CVSS:4.0/"),
]


@pytest.mark.parametrize(("vector", "problem"), MALFORMED)
def test_malformed_vectors_are_one_line_input_errors(vector: str, problem: str) -> None:
    for scorer in (cvss4.score, cvss4.base_score, cvss4.parse):
        with pytest.raises(InputError) as info:
            scorer(vector)
        message = str(info.value)
        assert message.startswith(f"CVSS vector {vector!r}: ")
        assert problem in message
        assert "\n" not in message
    if vector.startswith("CVSS:4.0"):
        with pytest.raises(InputError):
            base_score(vector)
        assert try_base_score(vector) is None


def test_a_huge_vector_is_shortened_in_the_message() -> None:
    with pytest.raises(InputError) as info:
        cvss4.score(BASE + "/XYZ:" + "1" * 10_000)
    assert len(str(info.value)) < 300


def _advisory(**fields: Any) -> Advisory:
    return Advisory("CVE-1", "osv", "Debian:12", "foo", AdvisoryStatus.AFFECTED, **fields)


def test_severity_prefers_v3_then_v4_then_a_numeric_score_then_v2() -> None:
    v3 = _advisory(cvss_vector="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N")  # 3.1
    v4 = _advisory(cvss_vector=BASE + "/E:U")  # base 9.3 (the E:U is ignored)
    scored = _advisory(cvss_score=5.0)
    v2 = _advisory(cvss_vector="AV:N/AC:L/Au:N/C:C/I:C/A:C")  # 10.0
    bad_v4 = _advisory(cvss_vector=BASE.replace("AV:N", "AV:Q"))
    rated = _advisory(vendor_severity="low")
    assert severity_of([v2], [scored, v4, v3])[:4] == (Severity.LOW, "cvss", 3.1, v3.cvss_vector)
    assert severity_of([v2], [scored, v4])[:4] == (
        Severity.CRITICAL,
        "cvss",
        9.3,
        v4.cvss_vector,
    )
    assert severity_of([v2, bad_v4], [scored])[:3] == (Severity.MEDIUM, "cvss", 5.0)
    assert severity_of([bad_v4, v2], [])[:3] == (Severity.CRITICAL, "cvss", 10.0)
    assert severity_of([bad_v4], [rated])[:3] == (Severity.LOW, "vendor", None)
    low = _advisory(cvss_vector="CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N")
    assert severity_of([low], [rated])[:3] == (Severity.LOW, "cvss", cvss4.score(low.cvss_vector))


def _nvd_metrics(vector: str, score: object) -> dict[str, Any]:
    data: dict[str, Any] = {"version": "4.0", "vectorString": vector}
    if score is not None:
        data["baseScore"] = score
    return {"cvssMetricV40": [{"source": "nvd@nist.gov", "type": "Primary", "cvssData": data}]}


def test_nvd_v40_metric_without_a_usable_score_is_scored_by_our_calculator() -> None:
    assert nvd._metric(_nvd_metrics(BASE, 8.0)) == (BASE, 8.0)  # NVD's own score is kept
    assert nvd._metric(_nvd_metrics(BASE, None)) == (BASE, 9.3)
    assert nvd._metric(_nvd_metrics(BASE + "/E:U", "n/a")) == (BASE + "/E:U", 9.3)
    assert nvd._metric(_nvd_metrics(BASE + "/E:U", 11)) == (BASE + "/E:U", 9.3)
    assert nvd._metric(_nvd_metrics(BASE.replace("AV:N", "AV:Q"), None)) == ("", None)
    v31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    assert nvd._metric(_nvd_metrics(v31, None)) == ("", None)  # not a v4.0 vector


@st.composite
def _vectors(draw: st.DrawFn) -> str:
    parts = [f"{key}:{draw(st.sampled_from(values))}" for key, values in cvss4.BASE_METRICS.items()]
    for key, values in cvss4.OPTIONAL_METRICS.items():
        if draw(st.booleans()):
            parts.append(f"{key}:{draw(st.sampled_from(values))}")
    return "CVSS:4.0/" + "/".join(draw(st.permutations(parts)))


@settings(max_examples=400, deadline=None)
@given(_vectors())
def test_random_valid_vectors_score_within_bounds_with_one_decimal(vector: str) -> None:
    for value in (cvss4.score(vector), cvss4.base_score(vector), base_score(vector)):
        assert 0.0 <= value <= 10.0
        assert round(value, 1) == value
    impact = cvss4.parse(vector)
    if all(impact[k] == "N" for k in ("VC", "VI", "VA", "SC", "SI", "SA")):
        assert cvss4.base_score(vector) == 0.0


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(max_size=120),
        st.lists(st.sampled_from([*cvss4.METRICS, "XX", ""]), max_size=30).map(
            lambda keys: "CVSS:4.0/" + "/".join(f"{k}:{'HNXLS'[len(k) % 5]}" for k in keys)
        ),
    )
)
def test_arbitrary_text_is_scored_or_an_input_error(text: str) -> None:
    try:
        value = cvss4.score(text)
    except InputError as exc:
        assert str(exc).startswith("CVSS vector ")
    else:
        assert 0.0 <= value <= 10.0
    assert try_base_score(text) is None or 0.0 <= (try_base_score(text) or 0.0) <= 10.0


def test_random_vectors_against_the_cvss_package() -> None:
    """A differential test against the LGPL ``cvss`` package (a test oracle only)."""
    cvss = pytest.importorskip(
        "cvss", reason="the `cvss` package (LGPL, test oracle only) is not installed"
    )
    rng = random.Random(20261206)
    for _ in range(2000):
        parts = [f"{key}:{rng.choice(values)}" for key, values in cvss4.BASE_METRICS.items()]
        parts += [
            f"{key}:{rng.choice(values)}"
            for key, values in cvss4.OPTIONAL_METRICS.items()
            if rng.random() < 0.4
        ]
        vector = "CVSS:4.0/" + "/".join(parts)
        base = "CVSS:4.0/" + "/".join(parts[: len(cvss4.BASE_METRICS)])
        assert cvss4.score(vector) == float(cvss.CVSS4(vector).base_score), vector
        assert base_score(vector) == float(cvss.CVSS4(base).base_score), vector
