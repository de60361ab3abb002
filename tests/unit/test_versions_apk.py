"""Alpine (apk) version ordering: apk-tools' own test table, line by line, and hand cases.

``VERSION_DATA`` is apk-tools' ``test/unit/version.data`` verbatim (alpinelinux/apk-tools
master, apk-tools 3.0.6, last changed in 30b1c03; GPL-2.0-only project, test data copied
like the rpmvercmp.at cases of test_versions_rpm.py). Its lines, as read by
``test/unit/version_test.c``: ``A op B`` (``op`` is ``<``, ``>``, ``=``, or a fuzzy ``~``,
``<~``, ``>~``; a ``!`` before ``op`` inverts), ``version`` (must be valid), ``!version``
(must be invalid); ``#`` starts a comment, blank lines are skipped.

apk-tools compares even invalid versions (up to the first bad token); this module raises
InputError for them instead. The four ordering lines with an invalid operand are checked
twice: ``compare``/``match`` must raise, and the private verbatim port ``apk._walk`` must
give apk's answer.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patchwarden import versions
from patchwarden.core.versions import apk
from patchwarden.errors import InputError

VERSION_DATA_SHA256 = "daa0a0cd6ec90f42769398e9d01516d3665b61f37046a5dfd9cd7464982542b6"

VERSION_DATA = (Path(__file__).parents[1] / "data/apk/version.data").read_text()


class Line(NamedTuple):
    number: int
    a: str
    op: str  # without the "!"
    invert: bool
    b: str


def _read_table() -> tuple[list[Line], list[tuple[int, str, bool]]]:
    """Split the table like version_test.c: comparisons and validity lines."""
    comparisons: list[Line] = []
    validity: list[tuple[int, str, bool]] = []
    for number, raw in enumerate(VERSION_DATA.splitlines(), start=1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.split(" ")
        if len(parts) >= 3:
            a, op, b = parts[0], parts[1], " ".join(parts[2:])
            comparisons.append(Line(number, a, op.removeprefix("!"), op.startswith("!"), b))
        else:
            validity.append((number, text.removeprefix("!"), not text.startswith("!")))
    return comparisons, validity


COMPARISONS, VALIDITY = _read_table()
ORDERINGS = [line for line in COMPARISONS if line.op in ("<", ">", "=")]
FUZZY = [line for line in COMPARISONS if line.op not in ("<", ">", "=")]
EXPECTED = {"<": -1, "=": 0, ">": 1}
ALL_VERSIONS = sorted(
    {v for line in COMPARISONS for v in (line.a, line.b)} | {v for _, v, _ in VALIDITY}
)
VALID_VERSIONS = [v for v in ALL_VERSIONS if apk.is_valid(v)]


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def test_table_is_apk_tools_verbatim_and_fully_read() -> None:
    assert hashlib.sha256(VERSION_DATA.encode()).hexdigest() == VERSION_DATA_SHA256
    blank = sum(1 for raw in VERSION_DATA.splitlines() if not raw.split("#", 1)[0].strip())
    assert len(COMPARISONS) + len(VALIDITY) + blank == len(VERSION_DATA.splitlines()) == 788
    assert (len(ORDERINGS), len(FUZZY), len(VALIDITY)) == (738, 16, 31)
    assert not [line for line in ORDERINGS if line.invert]


def test_table_orderings_zero_mismatches_both_directions() -> None:
    mismatches: list[str] = []
    refused: list[int] = []
    for line in ORDERINGS:
        expected = EXPECTED[line.op]
        # apk's own algorithm, verbatim, for every line (invalid operands included)
        got = (_sign(apk._walk(line.a, line.b)), _sign(apk._walk(line.b, line.a)))
        if got != (expected, -expected):
            mismatches.append(f"{line.number}: walk {line.a} {line.op} {line.b} gave {got}")
        if apk.is_valid(line.a) and apk.is_valid(line.b):
            got = (apk.compare(line.a, line.b), apk.compare(line.b, line.a))
            if got != (expected, -expected):
                mismatches.append(f"{line.number}: {line.a} {line.op} {line.b} gave {got}")
            key_a, key_b = apk.sort_key(line.a), apk.sort_key(line.b)
            if _sign((key_a > key_b) - (key_a < key_b)) != expected:
                mismatches.append(f"{line.number}: sort_key {line.a} {line.op} {line.b}")
        else:
            refused.append(line.number)
            with pytest.raises(InputError):
                apk.compare(line.a, line.b)
            with pytest.raises(InputError):
                apk.compare(line.b, line.a)
    assert mismatches == []
    assert refused == [2, 3]  # 23_foo > 4_beta, 1.0 < 1.0bc: invalid per apk_version_validate


def test_table_fuzzy_matches() -> None:
    mismatches: list[str] = []
    refused: list[int] = []
    for line in FUZZY:
        fuzzy = "~" in line.op
        result = apk._walk(line.a, line.b, fuzzy=fuzzy)
        walked = (
            ("=" in line.op or "~" in line.op)
            if result == 0
            else ("<" if result < 0 else ">") in line.op
        )
        if walked == line.invert:
            mismatches.append(f"{line.number}: walk {line.a} {'!' * line.invert}{line.op} {line.b}")
        if apk.is_valid(line.a) and apk.is_valid(line.b):
            if apk.match(line.a, line.op, line.b) == line.invert:
                mismatches.append(f"{line.number}: {line.a} {'!' * line.invert}{line.op} {line.b}")
        else:
            refused.append(line.number)
            with pytest.raises(InputError):
                apk.match(line.a, line.op, line.b)
    assert mismatches == []
    assert refused == [745, 756]  # 3.6.9_post1: "_post" is no apk suffix


def test_table_validity_lines() -> None:
    wrong = [(n, v) for n, v, valid in VALIDITY if apk.is_valid(v) != valid]
    assert wrong == []
    for _, version, valid in VALIDITY:
        if valid:
            assert apk.parse(version)
        else:
            with pytest.raises(InputError) as caught:
                apk.sort_key(version)
            assert "\n" not in str(caught.value)
            assert str(caught.value).startswith(f"invalid Alpine version {version!r}: ")


def test_sort_key_agrees_with_apk_on_all_pairs_from_the_table() -> None:
    assert len(VALID_VERSIONS) > 500
    disagreements = [
        (a, b)
        for a, b in itertools.combinations(VALID_VERSIONS, 2)
        if apk.compare(a, b) != _sign(apk._walk(a, b))
    ]
    assert disagreements == []
    by_key = sorted(VALID_VERSIONS, key=apk.sort_key)
    by_walk = sorted(VALID_VERSIONS, key=functools.cmp_to_key(apk._walk))
    assert [apk.sort_key(v) for v in by_key] == [apk.sort_key(v) for v in by_walk]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.2.3-r0", "1.2.3-r1", -1),
        ("1.2.3_rc1-r0", "1.2.3-r0", -1),
        ("1.2.3_p1-r0", "1.2.3-r0", 1),
        ("1.2.3-r0", "1.2.3", 1),  # an explicit -r0 is above none
        ("3.0.15-r0", "3.0.8-r0", 1),  # openssl: numeric, not string
        ("1.36.1-r29", "1.36.1-r3", 1),
        ("2.40.1_p20240106-r0", "2.40.1-r0", 1),
        ("1.0_git20240101", "1.0_p1", -1),  # git < hg < p
        ("0.1_alpha1_pre2", "0.1_alpha1", -1),
        ("1.2.0", "1.2.001", -1),  # a leading zero means string order
        ("1.01", "1.1", -1),
        ("1.0~abc", "1.0~abd", -1),
        ("006", "6", 0),  # the first number is always numeric
        ("18446744073709551617", "1", 0),  # apk's uint64 wraps around
        ("1.0a", "1.0.1", -1),
        ("1.0a", "1.0_p1", 1),
        ("1.0-r5", "1.0~abc", -1),
    ],
)
def test_hand_cases(a: str, b: str, expected: int) -> None:
    assert apk.compare(a, b) == expected
    assert apk.compare(b, a) == -expected
    assert _sign(apk._walk(a, b)) == expected


def test_suffix_ladder() -> None:
    ladder = ["2.0_alpha", "2.0_beta", "2.0_pre", "2.0_rc", "2.0", "2.0_p1"]
    for lower, higher in itertools.pairwise(ladder):
        assert apk.compare(lower, higher) < 0 < apk.compare(higher, lower)
    assert sorted(reversed(ladder), key=apk.sort_key) == ladder
    post = ["2.0", "2.0_cvs", "2.0_svn", "2.0_git", "2.0_hg", "2.0_p"]
    assert sorted(reversed(post), key=apk.sort_key) == post


@pytest.mark.parametrize(
    ("version", "problem"),
    [
        ("", "version string is empty"),
        ("v1.0", "it must start with a digit"),
        ("1.0 ", "invalid character ' '"),
        ("1.0\n", "invalid character '\\n'"),
        ("1.0-1", "'-' must start a revision"),
        ("1.0-r", "'-r' is not followed by digits"),
        ("1.0.", "'.' is not followed by digits"),
        ("1.0_foo", "'_foo' is not one of alpha"),
        ("1.0_", "empty suffix"),
        ("1.0A", "invalid character 'A'"),
        ("1.0~", "lowercase hex commit hash"),
        ("1.0+dfsg", "invalid character '+'"),
        ("1:1.0", "invalid character ':'"),
        ("1.0-r1-r2", "a second '-'"),
        ("1.\u0661", "'.' is not followed by digits"),  # Arabic-Indic digit one
    ],
)
def test_malformed_versions_give_one_line_input_error(version: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        apk.compare(version, "1.0")
    message = str(caught.value)
    assert problem in message
    assert "\n" not in message
    assert not apk.is_valid(version)


def test_match_operators() -> None:
    assert apk.match("1.0-r1", ">=", "1.0-r1")
    assert apk.match("1.0-r1", "<", "1.0-r2")
    assert not apk.match("1.0-r1", ">", "1.0-r1")
    assert apk.match("3.6.9", "~", "3.6")
    with pytest.raises(InputError):
        apk.match("1.0", "!=", "1.0")


def test_facade() -> None:
    assert "apk" in versions.SCHEMES
    assert versions.compare("apk", "1.2.3-r0", "1.2.3-r1") == -1
    assert versions.comparator("apk") is apk.compare
    assert max(["1.0_rc1", "1.0-r0", "1.0"], key=lambda v: versions.sort_key("apk", v)) == "1.0-r0"
    with pytest.raises(InputError, match="invalid Alpine version"):
        versions.compare("apk", "1.0", "1.0bc")


_NUMBER = st.from_regex(r"[0-9]{1,4}|[0-9]{19,21}", fullmatch=True)
_SUFFIX = st.sampled_from(["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"])


@st.composite
def _valid_versions(draw: st.DrawFn) -> str:
    text = draw(_NUMBER) + "".join("." + d for d in draw(st.lists(_NUMBER, max_size=3)))
    text += draw(st.sampled_from(["", "", "a", "z"]))
    for name in draw(st.lists(_SUFFIX, max_size=2)):
        text += "_" + name + draw(st.sampled_from(["", "1", "2", "01", "10"]))
    text += draw(st.sampled_from(["", "", "~0", "~ab", "~abc1"]))
    return text + draw(st.sampled_from(["", "", "-r0", "-r1", "-r10"]))


@given(_valid_versions(), _valid_versions())
def test_property_valid_versions_key_agrees_with_walk(a: str, b: str) -> None:
    assert apk.is_valid(a) and apk.is_valid(b)
    assert apk.compare(a, b) == _sign(apk._walk(a, b)) == -apk.compare(b, a)


@given(
    st.text(alphabet="0123456789.abcfghoprsvz_~-A ", max_size=14),
    st.text(alphabet="019.a_r-~p", max_size=10),
)
def test_property_any_string_valid_iff_parsed(a: str, b: str) -> None:
    for version in (a, b):
        try:
            apk.parse(version)
        except InputError:
            assert not apk.is_valid(version)
        else:
            assert apk.is_valid(version)
    if apk.is_valid(a) and apk.is_valid(b):
        assert apk.compare(a, b) == _sign(apk._walk(a, b))
